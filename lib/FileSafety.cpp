//===- FileSafety.cpp - Opening inputs and writing outputs safely ---------===//
#include "birkhoff/FileSafety.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utility>

namespace birkhoff {

namespace {

std::string errnoText(int err) { return std::strerror(err); }

const char *fileKind(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

Status notRegular(const std::string &path, mode_t mode) {
  return invalidArgument(path + " is " + fileKind(mode) +
                         ", not a regular file");
}

} // namespace

//===----------------------------------------------------------------------===//
// Inputs
//===----------------------------------------------------------------------===//

UniqueFd::UniqueFd(UniqueFd &&other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

UniqueFd &UniqueFd::operator=(UniqueFd &&other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0)
    ::close(fd_);
}

Expected<UniqueFd> openInputFile(const std::string &path, uint64_t *size) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
  // before the type check below could refuse it.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    struct stat st;
    // A socket cannot be opened at all (ENXIO): name what it is.
    if (err == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      return notRegular(path, st.st_mode);
    std::string msg = "cannot open " + path + ": " + errnoText(err);
    return err == ENOENT ? notFound(msg) : ioError(msg);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0)
    return ioError("cannot stat " + path + ": " + errnoText(errno));
  if (!S_ISREG(st.st_mode))
    return notRegular(path, st.st_mode);
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    return ioError("cannot configure " + path + ": " + errnoText(errno));
  if (size)
    *size = uint64_t(st.st_size);
  return fd;
}

Expected<std::string> readInputFile(const std::string &path,
                                    uint64_t maxBytes) {
  uint64_t size = 0;
  BK_ASSIGN_OR_RETURN(UniqueFd fd, openInputFile(path, &size));
  if (size > maxBytes)
    return invalidArgument(path + " is " + std::to_string(size) +
                           " bytes, more than the " + std::to_string(maxBytes) +
                           " bytes read from such a file");
  std::string text(size, '\0');
  uint64_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd.get(), text.data() + got, size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ioError("cannot read " + path + ": " + errnoText(errno));
    if (n == 0)
      break; // the file shrank while we read it
    got += uint64_t(n);
  }
  text.resize(got);
  return text;
}

//===----------------------------------------------------------------------===//
// Interrupt cleanup
//===----------------------------------------------------------------------===//

namespace {

// The registry is a fixed array of atomic pointers so that the signal handler
// reads it without locks or allocation. Each string is the path behind one
// character saying what to remove (kPlain, kFolder), so that the kind is
// published with the path in one store. A released path's string is freed
// unless the handler has begun, since then it may be reading that string on
// another thread (and the process is about to die of the signal anyway).
// Both sides are sequentially consistent: release() empties the slot before
// it reads the flag, the handler raises the flag before it reads the slots,
// so when release() sees no flag the handler has not read the slot yet and
// will find it empty.
constexpr int kCleanupSlots = 4096;
constexpr char kPlain = 'p', kFolder = 'd';
std::array<std::atomic<const char *>, kCleanupSlots> gCleanup{};
std::atomic<bool> gInterrupted{false};

// How deep removeContents follows sub-folders (a kernel dump has none).
constexpr int kFolderDepth = 8;

struct Dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

// Removes what the folder open as `fd` holds, sub-folders `depth` levels
// down, with system calls only (async-signal-safe: no opendir, no
// allocation). Entries removed while the folder is read may move the others,
// so it reads the folder again until a pass removes nothing.
void removeContents(int fd, int depth) {
  alignas(8) char buf[2048];
  for (int pass = 0; pass < 16; ++pass) {
    if (::lseek(fd, 0, SEEK_SET) != 0)
      return;
    bool removed = false;
    for (;;) {
      long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0)
        break;
      for (long at = 0; at < n;) {
        const auto *e = reinterpret_cast<const Dirent64 *>(buf + at);
        at += e->reclen;
        const char *name = e->name;
        if (name[0] == '.' &&
            (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
          continue;
        if (::unlinkat(fd, name, 0) == 0) {
          removed = true;
          continue;
        }
        if (errno != EISDIR || depth == 0)
          continue;
        int sub =
            ::openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
          removeContents(sub, depth - 1);
          ::close(sub);
        }
        if (::unlinkat(fd, name, AT_REMOVEDIR) == 0)
          removed = true;
      }
    }
    if (!removed)
      return;
  }
}

extern "C" void onInterrupt(int sig) {
  int savedErrno = errno;
  gInterrupted.store(true);
  // Files first, then registered folders with what they hold, then the other
  // directories (rmdir only succeeds once they are empty, and a registered
  // folder may lie in one).
  for (auto &slot : gCleanup)
    if (const char *p = slot.load(); p && p[0] == kPlain)
      ::unlink(p + 1);
  for (auto &slot : gCleanup)
    if (const char *p = slot.load(); p && p[0] == kFolder) {
      int fd = ::open(p + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        removeContents(fd, kFolderDepth);
        ::close(fd);
      }
      ::rmdir(p + 1);
    }
  for (auto &slot : gCleanup)
    if (const char *p = slot.load(); p && p[0] == kPlain)
      ::rmdir(p + 1);
  errno = savedErrno;
  // Die of the signal, so that the parent sees how the process ended.
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void installFor(int sig) {
  struct sigaction old {};
  if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN)
    return; // ignored by our parent (nohup, a background job): keep it so
  struct sigaction sa {};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, nullptr);
}

} // namespace

void installInterruptCleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    installFor(SIGINT);
    installFor(SIGTERM);
  });
}

CleanupPath::CleanupPath(const std::string &path)
    : CleanupPath(path, /*folder=*/false) {}

CleanupPath CleanupPath::folder(const std::string &path) {
  return CleanupPath(path, /*folder=*/true);
}

CleanupPath::CleanupPath(const std::string &path, bool folder) {
  char *copy = static_cast<char *>(std::malloc(path.size() + 2));
  if (!copy)
    return;
  copy[0] = folder ? kFolder : kPlain;
  std::memcpy(copy + 1, path.c_str(), path.size() + 1);
  for (int i = 0; i < kCleanupSlots; ++i) {
    const char *expected = nullptr;
    if (gCleanup[i].compare_exchange_strong(expected, copy,
                                            std::memory_order_acq_rel)) {
      slot_ = i;
      return;
    }
  }
  // Every slot taken: the path is written but not removed on interrupt.
  std::free(copy);
}

CleanupPath::CleanupPath(CleanupPath &&other) noexcept
    : slot_(std::exchange(other.slot_, -1)) {}

CleanupPath &CleanupPath::operator=(CleanupPath &&other) noexcept {
  if (this != &other) {
    release();
    slot_ = std::exchange(other.slot_, -1);
  }
  return *this;
}

CleanupPath::~CleanupPath() { release(); }

void CleanupPath::release() {
  if (slot_ >= 0) {
    const char *path = gCleanup[slot_].exchange(nullptr);
    if (!gInterrupted.load())
      std::free(const_cast<char *>(path));
  }
  slot_ = -1;
}

//===----------------------------------------------------------------------===//
// OutputFile
//===----------------------------------------------------------------------===//

Expected<OutputFile> OutputFile::create(const std::string &target) {
  static std::atomic<uint64_t> counter{0};
  OutputFile f;
  f.target_ = target;
  f.temp_ = target + ".partial." + std::to_string(::getpid()) + "." +
            std::to_string(counter.fetch_add(1));
  // Registered before it exists, so no moment leaves it unwatched.
  f.cleanup_ = CleanupPath(f.temp_);
  int fd =
      ::open(f.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0)
    return ioError("cannot create " + f.temp_ + " (for " + target +
                   "): " + errnoText(errno));
  f.out_ = ::fdopen(fd, "wb");
  if (!f.out_) {
    int err = errno;
    ::close(fd);
    ::unlink(f.temp_.c_str());
    return ioError("cannot open " + f.temp_ + ": " + errnoText(err));
  }
  return f;
}

OutputFile::OutputFile(OutputFile &&other) noexcept
    : target_(std::move(other.target_)), temp_(std::move(other.temp_)),
      out_(std::exchange(other.out_, nullptr)),
      cleanup_(std::move(other.cleanup_)) {}

OutputFile &OutputFile::operator=(OutputFile &&other) noexcept {
  if (this != &other) {
    discard();
    target_ = std::move(other.target_);
    temp_ = std::move(other.temp_);
    out_ = std::exchange(other.out_, nullptr);
    cleanup_ = std::move(other.cleanup_);
  }
  return *this;
}

OutputFile::~OutputFile() { discard(); }

void OutputFile::discard() {
  if (!out_)
    return;
  std::fclose(std::exchange(out_, nullptr));
  ::unlink(temp_.c_str());
  cleanup_.release();
}

Status OutputFile::write(const void *data, size_t n) {
  if (!out_)
    return internalError(target_ + ": write after commit");
  if (n && std::fwrite(data, 1, n, out_) != n)
    return ioError("cannot write " + target_ + " (as " + temp_ +
                   "): " + errnoText(errno));
  return Status::ok();
}

Status OutputFile::commit() {
  if (!out_)
    return internalError(target_ + ": committed twice");
  bool flushed = std::fflush(out_) == 0 && !std::ferror(out_);
  int err = errno;
  bool closed = std::fclose(std::exchange(out_, nullptr)) == 0;
  if (closed && flushed && std::rename(temp_.c_str(), target_.c_str()) == 0) {
    cleanup_.release();
    return Status::ok();
  }
  if (flushed)
    err = errno; // from fclose or rename
  ::unlink(temp_.c_str());
  cleanup_.release();
  return ioError("cannot write " + target_ + ": " + errnoText(err));
}

//===----------------------------------------------------------------------===//
// Inputs as outputs
//===----------------------------------------------------------------------===//

Status refuseInputAsOutput(const std::string &output,
                           const std::vector<std::string> &inputs) {
  struct stat out;
  if (::stat(output.c_str(), &out) != 0)
    return Status::ok(); // a new file is no input
  for (const std::string &input : inputs) {
    struct stat in;
    if (::stat(input.c_str(), &in) == 0 && in.st_dev == out.st_dev &&
        in.st_ino == out.st_ino)
      return invalidArgument("refusing to write " + output +
                             ": it is the input " + input);
  }
  return Status::ok();
}

} // namespace birkhoff
