#pragma once
// Score-network checkpoints as safetensors files (DESIGN §4): an 8-byte little-endian header
// length N, N bytes of JSON header, then the raw little-endian tensor bytes. Tensors are
// `layers.{i}.weight` (out × in, row-major) and `layers.{i}.bias` (out); `__metadata__` is a
// string map naming architecture, activation, schedule, data set and training state. A model
// trained in PyTorch or JAX and saved in this layout loads here.
#include <map>
#include <memory>
#include <string>

#include "diffpath/mlp.hpp"

namespace diffpath {

struct Checkpoint {
  MlpParams params;
  std::map<std::string, std::string> metadata;
};

/// "mlp:3-128-128-128-2": the layer widths from input (d + 1) to output (d).
std::string mlp_architecture(const MlpParams& params);

/// Writes `params` (F32, or F64 with f64 = true) and `metadata`. The keys "architecture",
/// "activation" and "dim" are always written from `params` (overriding same-named entries).
/// Atomic (an AtomicFile, files.hpp: a temporary renamed over a regular `path`, written through
/// to a device). Throws Error with the errno text on I/O failure, or on invalid params.
void save_checkpoint(const std::string& path, const MlpParams& params,
                     const std::map<std::string, std::string>& metadata, bool f64 = false);

/// Reads a checkpoint. Tensors may be F64, F32, F16 or BF16; the layer count comes from the
/// tensor names; d from the last layer's outputs (the first layer must take d + 1 inputs).
/// The activation comes from metadata "activation" (swish when absent). Throws Error with a
/// one-line reason for: a missing or unreadable file, a directory, device or FIFO (refused
/// before reading), a file over 1 GiB, truncation, a bad header length, bad
/// JSON, offsets outside the data, unknown dtypes, unexpected tensor names, missing layers,
/// shapes that do not chain, non-finite weights and an unknown activation.
Checkpoint load_checkpoint(const std::string& path);

/// What the score spec `model:PATH` means: the checkpoint as an Mlp whose spec() is
/// "model:PATH" (Float evaluation precision, jets in double).
std::shared_ptr<const Mlp> load_mlp_model(const std::string& path);

}  // namespace diffpath
