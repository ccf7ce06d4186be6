// Export of a GenreNet checkpoint as a standard ONNX model (opset 17), written through ONNX's
// own protobuf schema (Debian's libonnx-dev / libprotobuf), so any ONNX runtime can run it.
//
// The graph is the whole classifier after the front-end, in inference mode:
//   input  "spectrogram"   (clips, frames, bins, 1) float32: the checkpoint's front-end output,
//                          standardised per bin when the front-end records statistics
//   output "probabilities" (clips, classes) float32: softmax of the logits, one row per clip
// CNN branch: Transpose to NCHW -> per block Conv (explicit asymmetric pads of TF "same") ->
// Relu -> BatchNormalization (moving statistics) -> [MaxPool 2x2] ... -> Transpose back to
// NHWC -> Flatten (Keras's row-major order). RNN branch: MaxPool (1, 2) x k -> (T, N, F)
// -> bidirectional LSTM per layer (Keras gates i,f,c,o re-ordered to ONNX's i,o,f,c; B = [Wb;
// Rb] with Rb = 0). Head: Add -> Gemm -> Softmax. Dropout is the identity at inference and is
// left out.
//
// metadata_props (JSON texts, so a user can rebuild the front-end and the song reduction):
//   genrenet.labels        class names in output order
//   genrenet.frontend      the front-end's parameters and standardisation statistics
//   genrenet.clip_scheme   how songs are cut into clips
//   genrenet.model_config  the RCNN's configuration
//   genrenet.song_reduction "mean of the clip probabilities"
#pragma once

#include <string>

#include "model/checkpoint.h"

namespace gn {

inline constexpr int kOnnxOpset = 17;

// The serialised ONNX ModelProto of `checkpoint`. Checked with ONNX's model checker before it
// is returned; throws gn::Error naming `source` when the checkpoint cannot be exported (no
// front-end recorded, a tensor missing, ...).
std::string export_onnx(const Checkpoint& checkpoint, const std::string& source);

// Loads `checkpoint_path`, exports it and writes `output_path` atomically.
void export_onnx_file(const std::string& checkpoint_path, const std::string& output_path);

}  // namespace gn
