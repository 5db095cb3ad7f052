//===- FileSafetyTest.cpp - Opening inputs and writing outputs safely -----===//
#include "birkhoff/FileSafety.h"
#include "TempDir.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace birkhoff {
namespace {

namespace fs = std::filesystem;
using test::readBytes;
using test::TempDir;
using test::writeBytes;

size_t entries(const std::string &dir) {
  return size_t(std::distance(fs::directory_iterator(dir), {}));
}

TEST(FileSafety, ReadsARegularFile) {
  TempDir dir;
  writeBytes(dir.file("a.txt"), "hello");
  Expected<std::string> text = readInputFile(dir.file("a.txt"));
  ASSERT_TRUE(text.isOk()) << text.status().toString();
  EXPECT_EQ(*text, "hello");
  uint64_t size = 0;
  ASSERT_TRUE(openInputFile(dir.file("a.txt"), &size).isOk());
  EXPECT_EQ(size, 5u);
  Expected<std::string> small = readInputFile(dir.file("a.txt"), 4);
  ASSERT_FALSE(small.isOk());
  EXPECT_NE(small.status().message().find("more than the 4 bytes"),
            std::string::npos);
  EXPECT_EQ(readInputFile(dir.file("missing")).status().code(),
            StatusCode::NotFound);
}

// A FIFO with no writer: opening it blocking would hang this test forever.
TEST(FileSafety, RefusesAFifoWithoutBlocking) {
  TempDir dir;
  std::string fifo = dir.file("shard.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Expected<std::string> text = readInputFile(fifo);
  ASSERT_FALSE(text.isOk());
  EXPECT_EQ(text.status().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(text.status().message(), fifo + " is a FIFO, not a regular file");
}

TEST(FileSafety, RefusesDirectoriesDevicesAndSockets) {
  TempDir dir;
  Expected<UniqueFd> d = openInputFile(dir.path());
  ASSERT_FALSE(d.isOk());
  EXPECT_NE(d.status().message().find("is a directory"), std::string::npos);
  Expected<UniqueFd> c = openInputFile("/dev/null");
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("is a character device"),
            std::string::npos);
  std::string sock = dir.file("s");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
  Expected<UniqueFd> s = openInputFile(sock);
  ::close(fd);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.status().message().find("is a socket"), std::string::npos)
      << s.status().message();
}

// Committed: the target is replaced whole and no temporary remains.
TEST(FileSafety, OutputFileReplacesOnCommit) {
  TempDir dir;
  std::string target = dir.file("out.bin");
  writeBytes(target, "old");
  Expected<OutputFile> out = OutputFile::create(target);
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(fs::path(out->tempPath()).parent_path(), fs::path(dir.path()));
  ASSERT_TRUE(out->write("new!", 4).isOk());
  EXPECT_EQ(readBytes(target), "old"); // untouched until commit
  ASSERT_TRUE(out->commit().isOk());
  EXPECT_EQ(readBytes(target), "new!");
  EXPECT_EQ(entries(dir.path()), 1u);
}

// Dropped uncommitted (a failed write): the previous file stays as it was.
TEST(FileSafety, OutputFileDroppedKeepsThePreviousFile) {
  TempDir dir;
  std::string target = dir.file("out.bin");
  writeBytes(target, "old");
  {
    Expected<OutputFile> out = OutputFile::create(target);
    ASSERT_TRUE(out.isOk());
    ASSERT_TRUE(out->write("partial", 7).isOk());
    EXPECT_EQ(entries(dir.path()), 2u);
  }
  EXPECT_EQ(readBytes(target), "old");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(FileSafety, RefusesAnInputAsOutput) {
  TempDir dir;
  writeBytes(dir.file("config.json"), "{}");
  writeBytes(dir.file("other"), "x");
  fs::create_hard_link(dir.file("config.json"), dir.file("alias"));
  Status s = refuseInputAsOutput(dir.file("alias"),
                                 {dir.file("other"), dir.file("config.json")});
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_NE(s.message().find("it is the input " + dir.file("config.json")),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(
      refuseInputAsOutput(dir.file("new"), {dir.file("config.json")}).isOk());
  EXPECT_TRUE(
      refuseInputAsOutput(dir.file("other"), {dir.file("config.json")}).isOk());
}

// SIGINT while writing: the child removes its temporary and the registered
// paths, then dies of the signal.
TEST(FileSafety, InterruptRemovesTemporariesAndRegisteredPaths) {
  TempDir dir;
  std::string target = dir.file("artifact"), done = dir.file("done");
  writeBytes(target, "old");
  writeBytes(done, "complete but part of an unfinished output");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A test runner started in the background may hand us SIGINT ignored,
    // which installInterruptCleanup rightly keeps: undo that here.
    std::signal(SIGINT, SIG_DFL);
    installInterruptCleanup();
    CleanupPath watched(done);
    Expected<OutputFile> out = OutputFile::create(target);
    if (!out.isOk() || !out->write("partial", 7).isOk() ||
        std::fflush(out->stream()) != 0)
      ::_exit(3);
    (void)!::write(ready[1], "r", 1);
    for (;;)
      ::pause();
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(entries(dir.path()), 3u); // old, done and the temporary
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
  EXPECT_EQ(readBytes(target), "old");
  EXPECT_FALSE(fs::exists(done));
  EXPECT_EQ(entries(dir.path()), 1u);
  ::close(ready[0]);
  ::close(ready[1]);
}

// A folder registered with CleanupPath::folder goes with what it holds (files
// and sub-folders, none of them registered one by one); a plain directory
// registered beside it still goes once empty, and an unregistered file stays.
TEST(FileSafety, InterruptRemovesARegisteredFolderWithItsFiles) {
  TempDir dir;
  std::string out = dir.file("out"), folder = out + "/dump.partial";
  std::string kept = dir.file("kept");
  writeBytes(kept, "not ours");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGINT, SIG_DFL);
    installInterruptCleanup();
    CleanupPath outDir(out);
    fs::create_directory(out);
    CleanupPath watched = CleanupPath::folder(folder);
    fs::create_directories(folder + "/sub/deeper");
    // More entries than one getdents64 buffer holds.
    for (int i = 0; i < 300; ++i)
      writeBytes(folder + "/kernel_" + std::to_string(i) + ".cubin",
                 std::string(size_t(i), 'x'));
    writeBytes(folder + "/sub/deeper/a.txt", "a");
    writeBytes(folder + "/sub/b.txt", "b");
    (void)!::write(ready[1], "r", 1);
    for (;;)
      ::pause();
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(entries(folder), 301u);
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(readBytes(kept), "not ours");
  EXPECT_EQ(entries(dir.path()), 1u);
  ::close(ready[0]);
  ::close(ready[1]);
}

// A released folder is kept whole.
TEST(FileSafety, ReleasedFolderIsKept) {
  TempDir dir;
  std::string folder = dir.file("dump");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGINT, SIG_DFL);
    installInterruptCleanup();
    CleanupPath watched = CleanupPath::folder(folder);
    fs::create_directory(folder);
    std::ofstream(folder + "/a.cu") << "x";
    watched.release();
    std::raise(SIGINT);
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
  EXPECT_EQ(readBytes(folder + "/a.cu"), "x");
}

// A released path's copy is freed. It was once kept for good (one string per
// output file), which LeakSanitizer found in the sanitized suite.
TEST(FileSafety, ReleasedCleanupPathsKeepNoMemory) {
  const std::string path(200, 'p');
  const size_t before = mallinfo2().uordblks;
  for (int i = 0; i < 20000; ++i) {
    CleanupPath watched(path);
    ASSERT_TRUE(watched.active());
  }
  // Kept, the copies would take 4 MB. ASan's allocator leaves mallinfo2
  // empty; there LeakSanitizer checks the same at exit.
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(mallinfo2().uordblks, before + (size_t(1) << 20));
#endif
}

} // namespace
} // namespace birkhoff
