// `genrenet export --model CKPT --format onnx -o model.onnx`: writes a checkpoint as a standard
// ONNX model (export/onnx_export.h has the graph and the metadata it carries).
#include <filesystem>
#include <iostream>

#include "apps/args.h"
#include "apps/command.h"
#include "engine/error.h"
#include "export/onnx_export.h"
#include "serve/predictor.h"

namespace gn::app {
namespace {

constexpr const char* kUsage =
    "usage: genrenet export [--model CKPT] [--format onnx] -o OUT.onnx\n"
    "  Writes the classifier of a checkpoint (trained or imported) as an ONNX model, opset 17:\n"
    "  input \"spectrogram\" (clips, frames, bins, 1), output \"probabilities\" (clips, classes).\n"
    "  The labels, the front-end (with its statistics) and the clip scheme are stored in the\n"
    "  model's metadata (genrenet.labels, genrenet.frontend, genrenet.clip_scheme).\n"
    "  --model CKPT     checkpoint to export (default: runs/demo/best.safetensors)\n"
    "  --format onnx    the only format so far (default)\n"
    "  -o, --output P   the file to write (required)\n";

int run_export(const std::vector<std::string>& argv) {
  std::vector<std::string> normalized;  // "-o" is an alias of "--output": Args knows only long flags
  for (const std::string& a : argv) normalized.push_back(a == "-o" ? "--output" : a);
  Args args("export", normalized, {"model", "format", "output"}, {"help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  GN_REQUIRE(args.positional().empty(), "unexpected argument '", args.positional().front(),
             "' (the checkpoint is given with --model)\n", kUsage);
  const std::string format = args.str("format", "onnx");
  GN_REQUIRE(format == "onnx", "unknown --format '", format, "': the only export format is onnx");
  const auto output = args.opt("output");
  GN_REQUIRE(output && !output->empty(), "-o OUT.onnx is required\n", kUsage);
  const std::string model = args.str("model", default_model_path());
  if (!args.has("model"))
    GN_REQUIRE(std::filesystem::exists(model), "no --model given and ", model,
               " does not exist: train one with `genrenet demo` / `genrenet train`, or import the reference "
               "model with `genrenet import-keras`");
  export_onnx_file(model, *output);
  std::cout << "exported " << model << " -> " << *output << " (ONNX, opset " << kOnnxOpset << ", "
            << std::filesystem::file_size(*output) << " bytes)\n";
  return 0;
}

}  // namespace
GN_COMMAND("export", "write a checkpoint as an ONNX model (spectrogram in, probabilities out)", run_export);
}  // namespace gn::app
