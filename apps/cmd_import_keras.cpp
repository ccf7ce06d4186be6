// `genrenet import-keras MODEL.json WEIGHTS.h5 -o model.safetensors`: converts the published
// reference Keras model into a GenreNet checkpoint (model/keras_import.h does the work).
#include <iostream>

#include "apps/args.h"
#include "apps/command.h"
#include "engine/error.h"
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
    "  -o, --output PATH   the checkpoint to write (required)\n";

int run_import_keras(const std::vector<std::string>& argv) {
  // "-o" is an alias of "--output": Args knows only long flags.
  std::vector<std::string> normalized;
  for (const std::string& a : argv) normalized.push_back(a == "-o" ? "--output" : a);
  Args args("import-keras", normalized, {"output"}, {"help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  GN_REQUIRE(args.positional().size() == 2, "expected MODEL.json and WEIGHTS.h5, got ",
             args.positional().size(), " file(s)\n", kUsage);
  const auto output = args.opt("output");
  GN_REQUIRE(output && !output->empty(), "-o OUT.safetensors is required\n", kUsage);
  const std::string& json_path = args.positional()[0];
  const std::string& h5_path = args.positional()[1];
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
