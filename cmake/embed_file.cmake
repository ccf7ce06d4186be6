# cmake -DINPUT=file -DOUTPUT=source.cpp -DFUNCTION=name -DHEADER=include/path.h -P embed_file.cmake
# Writes a C++ source defining `std::string_view gn::FUNCTION()` that returns INPUT's bytes, so a
# text asset (the server's page) stays a real file in the repository and still ships inside the
# binary. Bytes, not a raw string literal: any content is safe, and no length limit applies.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
string(REGEX REPLACE "(([^,]*,){16})" "\\1\n  " bytes "${bytes}")
file(WRITE ${OUTPUT}.tmp "// Generated from ${INPUT} by cmake/embed_file.cmake; do not edit.
#include \"${HEADER}\"

namespace gn {
namespace {
constexpr char kBytes[${size} + 1] = {
  ${bytes}'\\0'};
}  // namespace

std::string_view ${FUNCTION}() { return std::string_view(kBytes, ${size}); }

}  // namespace gn
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
