// `genrenet import-keras MODEL.json WEIGHTS.h5 -o model.safetensors`: converts the published
// reference Keras model into a GenreNet checkpoint (model/keras_import.h does the work).
#include <iostream>

#include "apps/args.h"
#include "apps/command.h"
#include "engine/error.h"
#include "data/file_kind.h"
#include "model/checkpoint.h"
#include "model/keras_import.h"

namespace gn::app {
namespace {

constexpr const char* kUsage =
    "usage: genrenet import-keras MODEL.json WEIGHTS.h5 -o OUT.safetensors\n"
    "  Reads a Keras architecture (model.json) and its HDF5 weights, checks that they are the RCNN\n"
    "  GenreNet implements, and writes a GenreNet checkpoint with the reference model's `seed`\n"
    "  front-end, clip scheme and label order (disco, reggae, pop, metal, jazz, hiphop, country,\n"
    "  rock, classical, blues).\n"
    "  -o, --out PATH      the checkpoint to write (required)\n"
    "  --output PATH       the same as --out (the older spelling)\n"
    "  -h, --help          this text\n";

int run_import_keras(const std::vector<std::string>& argv) {
  // --output is the older spelling of --out, kept for scripts.
  std::vector<std::string> normalized;
  for (const std::string& a : argv)
    normalized.push_back(a == "--output" ? "--out" : a.rfind("--output=", 0) == 0 ? "--out=" + a.substr(9) : a);
  Args args("import-keras", normalized, {"out"}, {"help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  GN_REQUIRE(args.positional().size() == 2, "expected MODEL.json and WEIGHTS.h5, got ",
             args.positional().size(), " file(s)\n", kUsage);
  const auto output = args.opt("out");
  GN_REQUIRE(output && !output->empty(), "-o OUT.safetensors is required\n", kUsage);
  const std::string& json_path = args.positional()[0];
  const std::string& h5_path = args.positional()[1];
  // The two files by their bytes, before either parser sees them (a swapped pair would
  // otherwise read as JSON "nested deeper than 64 levels").
  const FileKind json_kind = sniff_file_kind(read_file_head(json_path)),
                 h5_kind = sniff_file_kind(read_file_head(h5_path));
  GN_REQUIRE(!(json_kind == FileKind::Hdf5 && (h5_kind == FileKind::KerasJson || h5_kind == FileKind::Json)),
             "the two files are swapped: ", json_path, " is the HDF5 weights and ", h5_path,
             " the model architecture; the architecture (model.json) comes first:\n  genrenet import-keras ", h5_path,
             " ", json_path, " -o OUT.safetensors");
  auto require_kind = [](const std::string& path, FileKind kind, bool ok, const char* want) {
    GN_REQUIRE(ok || kind == FileKind::Unknown, path, " is ", describe_file_kind(kind), ", not ", want,
               kind == FileKind::Safetensors ? " (it looks like a GenreNet checkpoint already: predict takes it)" : "");
  };
  require_kind(json_path, json_kind, json_kind == FileKind::KerasJson || json_kind == FileKind::Json,
               "a Keras model architecture (model.json)");
  require_kind(h5_path, h5_kind, h5_kind == FileKind::Hdf5, "Keras HDF5 weights (.h5)");
  const Checkpoint checkpoint = import_keras_files(json_path, h5_path);
  save_checkpoint(*output, checkpoint);
  std::int64_t values = 0;
  for (const auto& [name, t] : checkpoint.tensors) values += t.numel();
  std::cout << "imported " << json_path << " + " << h5_path << ": " << checkpoint.tensors.size() << " tensors, "
            << values << " values, " << checkpoint.config.classes << " classes -> " << *output << "\n";
  return 0;
}

}  // namespace
GN_COMMAND("import-keras", "convert the reference Keras model (model.json + weights .h5) into a checkpoint",
           run_import_keras);
}  // namespace gn::app
