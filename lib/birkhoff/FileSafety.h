//===- FileSafety.h - Opening inputs and writing outputs safely -----------===//
//
// Inputs: every file Birkhoff reads (shards, artifacts, config/tokenizer/
// generation_config JSON, .npy, prompt files) is opened by openInputFile,
// which never blocks on a FIFO and refuses anything but a regular file.
//
// Outputs: a file is written under a temporary name beside its target and
// renamed over it only when complete (OutputFile), so a failed or interrupted
// write never truncates the previous good file. With installInterruptCleanup
// a SIGINT/SIGTERM removes every temporary (and every path registered with
// CleanupPath, a registered folder with what it holds) before the process
// dies of the signal.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_FILESAFETY_H
#define BIRKHOFF_FILESAFETY_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace birkhoff {

/// The largest file readInputFile reads into memory by default (config,
/// tokenizer and generation_config JSON, prompt files). Shards and artifacts
/// are mapped, not read, and have no such limit.
inline constexpr uint64_t kMaxInputFileBytes = uint64_t(1) << 30;

/// An owned file descriptor, closed on destruction.
class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd &&other) noexcept;
  UniqueFd &operator=(UniqueFd &&other) noexcept;
  UniqueFd(const UniqueFd &) = delete;
  UniqueFd &operator=(const UniqueFd &) = delete;
  ~UniqueFd();
  int get() const { return fd_; }

private:
  int fd_ = -1;
};

/// Opens `path` read-only. It is opened non-blocking (a FIFO's open would
/// otherwise wait for a writer forever), checked with fstat, and refused
/// unless it is a regular file ("<path> is a FIFO, not a regular file");
/// then it is made blocking again. `size` receives the file's size.
/// Missing files are NotFound, special files InvalidArgument.
Expected<UniqueFd> openInputFile(const std::string &path,
                                 uint64_t *size = nullptr);

/// The whole content of a regular file, refused when larger than `maxBytes`.
Expected<std::string> readInputFile(const std::string &path,
                                    uint64_t maxBytes = kMaxInputFileBytes);

/// Installs (once) SIGINT and SIGTERM handlers that unlink every registered
/// path and then re-raise the signal with its default action. Commands that
/// write outputs (compile, synth) call it first.
void installInterruptCleanup();

/// Registers `path` for removal by the interrupt handler while this object
/// lives, unless release() is called: a file is unlinked, an (empty)
/// directory removed. Holds no file open. Thread-safe.
class CleanupPath {
public:
  CleanupPath() = default;
  explicit CleanupPath(const std::string &path);
  /// Registers a folder this process made and fills (a dump written whole
  /// before it is renamed into place): the handler removes everything in it,
  /// sub-folders included, and then the folder. Only for a folder that holds
  /// nothing but this process's output.
  static CleanupPath folder(const std::string &path);
  CleanupPath(CleanupPath &&other) noexcept;
  CleanupPath &operator=(CleanupPath &&other) noexcept;
  CleanupPath(const CleanupPath &) = delete;
  CleanupPath &operator=(const CleanupPath &) = delete;
  ~CleanupPath();
  /// Stops watching the path (it is kept).
  void release();
  bool active() const { return slot_ >= 0; }

private:
  CleanupPath(const std::string &path, bool folder);
  int slot_ = -1;
};

/// A file written as `<target>.partial.<pid>.<n>` beside its target and
/// renamed onto the target by commit(). Destroyed uncommitted (an error, an
/// early return), it removes the temporary; an interrupt removes it too.
/// Not thread-safe; movable.
class OutputFile {
public:
  static Expected<OutputFile> create(const std::string &target);
  OutputFile(OutputFile &&other) noexcept;
  OutputFile &operator=(OutputFile &&other) noexcept;
  ~OutputFile();

  std::FILE *stream() { return out_; }
  const std::string &tempPath() const { return temp_; }
  const std::string &target() const { return target_; }
  /// Writes `n` bytes; the message names the target.
  Status write(const void *data, size_t n);
  /// Flushes, closes and renames onto the target.
  Status commit();

private:
  OutputFile() = default;
  void discard();

  std::string target_, temp_;
  std::FILE *out_ = nullptr;
  CleanupPath cleanup_;
};

/// Fails with InvalidArgument when `output` is the same file (device and
/// inode) as one of `inputs`; paths that do not exist never match.
Status refuseInputAsOutput(const std::string &output,
                           const std::vector<std::string> &inputs);

} // namespace birkhoff

#endif // BIRKHOFF_FILESAFETY_H
