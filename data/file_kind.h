// What kind of file a few leading bytes show, so that a file given to the wrong command gets a
// message that names it and the command that takes it, instead of the parser's complaint
// ("header length 727905341903489161 points past the end of the file" for an HDF5 file given
// as a checkpoint). Recognised by their magic: HDF5, JSON (a Keras model.json by its keys),
// a zip archive (a PyTorch torch.save file or a Keras 3 .keras file by their member names),
// a pickle (older torch.save), safetensors (GenreNet's checkpoints), and the audio formats.
#pragma once

#include <string>

namespace gn {

enum class FileKind { Unknown, Safetensors, Hdf5, KerasJson, Json, PyTorch, KerasArchive, Zip, Pickle, Audio, Empty };

// `head`: the first bytes of the file (4 KiB is plenty; fewer for short files).
FileKind sniff_file_kind(const std::string& head);

// The first 4 KiB of a file ("" when it cannot be read).
std::string read_file_head(const std::string& path);

// "an HDF5 file (Keras weights such as model_weights.h5)", ... ; "" for Unknown.
std::string describe_file_kind(FileKind kind);

// Throws gn::Error naming what `path` is when it is recognisably not a GenreNet checkpoint, and
// which command takes it. Unknown kinds pass (the checkpoint parser judges them).
void require_checkpoint_file(const std::string& path);

}  // namespace gn
