#include "data/decoder_noise.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace gn {
namespace {

std::mutex g_mutex;
int g_depth = 0;          // filters alive
int g_saved_stderr = -1;  // the real stderr while capturing
int g_capture = -1;       // the memory file fd 2 points to

bool is_decoder_line(const std::string& line) {
  // libmpg123's message forms: "Note: ...", "Warning: ...", "Error: ..." (capitalised: GenreNet
  // writes "warning:" / "error:" in lower case after "genrenet <command>:") and
  // "[src/libmpg123/<file>.c:<function>():<line>] ...".
  for (const char* prefix : {"Note: ", "Warning: ", "Error: ", "[src/libmpg123/"})
    if (line.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

std::string without_decoder_noise(const std::string& text) {
  std::string kept;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    end = end == std::string::npos ? text.size() : end + 1;
    const std::string line = text.substr(begin, end - begin);
    if (!is_decoder_line(line)) kept += line;
    begin = end;
  }
  return kept;
}

DecoderNoiseFilter::DecoderNoiseFilter() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_depth++ > 0 || g_capture >= 0) return;
  const int capture = memfd_create("genrenet-stderr", MFD_CLOEXEC);
  if (capture < 0) return;  // no filtering: the notes show, nothing else changes
  std::fflush(stderr);
  const int saved = dup(2);
  if (saved < 0 || dup2(capture, 2) < 0) {
    if (saved >= 0) close(saved);
    close(capture);
    return;
  }
  g_saved_stderr = saved;
  g_capture = capture;
}

DecoderNoiseFilter::~DecoderNoiseFilter() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (--g_depth > 0 || g_capture < 0) return;
  std::fflush(stderr);
  dup2(g_saved_stderr, 2);
  close(g_saved_stderr);
  std::string text;
  char buf[4096];
  for (off_t at = 0;;) {
    const ssize_t n = pread(g_capture, buf, sizeof buf, at);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  close(g_capture);
  g_capture = g_saved_stderr = -1;
  const std::string kept = without_decoder_noise(text);
  for (std::size_t done = 0; done < kept.size();) {
    const ssize_t n = write(2, kept.data() + done, kept.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace gn
