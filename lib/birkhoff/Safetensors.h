//===- Safetensors.h - Reading safetensors files and sharded checkpoints --===//
//
// Reads headers only; tensor bytes are reached through a read-only memory map
// on demand. Every structural problem (truncated file, header offsets that lie,
// overlapping or out-of-range data, unknown dtypes, sizes that disagree with
// shapes) is reported with the file name and the tensor name.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_SAFETENSORS_H
#define BIRKHOFF_SAFETENSORS_H

#include "birkhoff/DType.h"
#include "birkhoff/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace birkhoff {

/// A read-only memory map of a whole file. Movable, not copyable.
class MappedFile {
public:
  static Expected<MappedFile> open(const std::string &path);
  MappedFile() = default;
  MappedFile(MappedFile &&other) noexcept;
  MappedFile &operator=(MappedFile &&other) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();

  const uint8_t *data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  const uint8_t *data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
};

struct TensorInfo {
  std::string name;
  DType dtype;                 // as stored (I8 stays I8 here)
  std::vector<int64_t> shape;  // as stored
  uint64_t dataOffset = 0;     // absolute offset in the file
  uint64_t byteSize = 0;
  std::string file;            // the shard that holds it (path)
};

/// One safetensors file: its header parsed and validated, data mapped lazily.
class SafetensorsFile {
public:
  /// Parses and validates the header; maps the file.
  static Expected<SafetensorsFile> open(const std::string &path);

  const std::string &path() const { return path_; }
  const std::map<std::string, TensorInfo> &tensors() const { return tensors_; }
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  /// The bytes of one tensor (valid while this object lives).
  Expected<std::span<const uint8_t>> bytes(const std::string &name) const;

private:
  std::string path_;
  std::shared_ptr<MappedFile> map_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// A checkpoint directory: `model.safetensors.index.json` + shards, or a single
/// `model.safetensors`, or every `*.safetensors` when there is no index. Every
/// tensor the index names must exist in its shard and vice versa.
class Checkpoint {
public:
  static Expected<Checkpoint> open(const std::string &dir);
  /// A checkpoint of declared tensors only: names, dtypes, shapes and sizes,
  /// no files (`file` and `dataOffset` are ignored). It validates and builds
  /// IR like a real one; bytes() fails naming the tensor. For models whose
  /// weights are generated at load time (`birkhoff compile --synth-preset`).
  /// `origin` stands for the directory in messages.
  static Expected<Checkpoint> declared(const std::string &origin,
                                       std::vector<TensorInfo> tensors);

  const std::string &dir() const { return dir_; }
  const std::map<std::string, TensorInfo> &tensors() const { return tensors_; }
  const TensorInfo *find(const std::string &name) const;
  Expected<std::span<const uint8_t>> bytes(const std::string &name) const;

private:
  std::string dir_;
  std::map<std::string, std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, TensorInfo> tensors_;
  bool declaredOnly_ = false;
};

/// Streams a safetensors file to disk one tensor at a time: the header is
/// written first from the declared tensors, then each tensor's bytes in order.
class SafetensorsWriter {
public:
  struct Declared {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
  };
  /// Declares all tensors up front (sizes fix the header) and opens the file.
  static Expected<SafetensorsWriter> create(const std::string &path,
                                            std::vector<Declared> tensors,
                                            std::map<std::string, std::string> metadata = {});
  SafetensorsWriter(SafetensorsWriter &&) noexcept;
  SafetensorsWriter &operator=(SafetensorsWriter &&) noexcept;
  ~SafetensorsWriter();
  /// Appends the next declared tensor's bytes; size must match its declaration.
  Status write(const std::string &name, std::span<const uint8_t> data);
  /// Appends the next piece of the next declared tensor's bytes: a tensor may
  /// arrive in several consecutive pieces (so `birkhoff synth` can stream a
  /// 1 GB embedding in row chunks); it is complete once the pieces add up to
  /// its declared size, and a piece that would overrun it is an error.
  /// `write(name, all)` equals one `append(name, all)` that completes it.
  Status append(const std::string &name, std::span<const uint8_t> data);
  /// Checks every tensor was written, flushes and closes.
  Status finish();

private:
  SafetensorsWriter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace birkhoff

#endif // BIRKHOFF_SAFETENSORS_H
