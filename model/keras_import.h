// The Keras importer (keras_architecture.cpp: model.json; keras_weights.cpp: HDF5; keras_import.cpp:
// the checkpoint): the reference model's architecture JSON (model.json, Keras 2.x Functional)
// and its HDF5 weights (model_weights.h5, `save_weights` layout) -> a GenreNet checkpoint.
//
// The architecture is checked, not assumed: the graph is walked from the input along the CNN
// branch (Conv2D+ReLU -> BatchNormalization -> [MaxPooling2D 2x2] -> [Dropout]) ..., Flatten,
// [Dropout]) and the RNN branch (MaxPooling2D (1,2) ... -> Reshape -> Bidirectional(LSTM) ... ->
// [Flatten] -> [Dropout]) to their Add, then Dense + softmax. Every setting the engine does not
// implement (padding other than "same", another activation, dilation, a BN axis other than the
// channels, an LSTM with recurrent dropout, ...) is an error naming the first layer that differs
// and what differs. Weights are mapped by graph position (the layer found at CNN block 3 is
// cnn.conv3 whatever Keras numbered it) and every shape is checked against the derived config.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "layers/model_config.h"
#include "model/checkpoint.h"

namespace gn {

// One tensor of the RCNN's parameter store (names and Keras layouts of layers/rcnn.h).
struct TensorSpec {
  std::string name;
  Shape shape;
  bool buffer = false;  // BatchNorm moving statistics: checkpointed, not trained
};
// Every tensor the RCNN built from `config` holds, in a fixed order (CNN, RNN, head).
std::vector<TensorSpec> rcnn_tensor_specs(const ModelConfig& config);

// The architecture found in a Keras model.json.
struct KerasArchitecture {
  ModelConfig config;
  // (engine prefix, Keras layer name) for every layer with weights, in graph order:
  // ("cnn.conv1", "conv2d"), ("cnn.bn1", "batch_normalization"), ..., ("rnn.lstm1",
  // "bidirectional"), ..., ("head.dense", "dense").
  std::vector<std::pair<std::string, std::string>> weighted_layers;
  // The same Keras layers in the JSON's layer order: the order Keras's load_weights pairs them
  // with the HDF5 file's layer_names, which must agree.
  std::vector<std::string> keras_load_order;
};

// Parses and checks model.json text (`source` names it in errors).
KerasArchitecture parse_keras_architecture(const std::string& json_text, const std::string& source);

// Reads every weight of `arch` from HDF5 file bytes (an in-memory image; `source` names it in
// errors) into engine names and layouts, checking dtype (floating point), rank and shape. The
// HDF5 parsing runs in a forked child process, so a libhdf5 crash on a hostile file is a
// gn::Error here, not a crash (see model/keras_weights.cpp).
std::map<std::string, Tensor> read_keras_weights(const std::string& h5_bytes, const KerasArchitecture& arch,
                                                 const std::string& source);

// The published reference model's facts the weights alone do not carry.
std::vector<std::string> reference_labels();       // disco, reggae, pop, ..., blues
std::string seed_frontend_json();                  // {"name":"seed",...}
std::string reference_clip_scheme_json();          // {"name":"reference",...}

// model.json + weights -> checkpoint (labels, front-end and clip scheme of the reference model;
// "extra" records the import's sources). The `_files` form reads both files first.
Checkpoint import_keras(const std::string& json_text, const std::string& h5_bytes,
                        const std::string& json_source, const std::string& h5_source);
Checkpoint import_keras_files(const std::string& json_path, const std::string& h5_path);

}  // namespace gn
