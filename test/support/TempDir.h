//===- TempDir.h - Scratch directories and file helpers for tests ---------===//
#ifndef BIRKHOFF_TEST_SUPPORT_TEMPDIR_H
#define BIRKHOFF_TEST_SUPPORT_TEMPDIR_H

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace birkhoff::test {

class TempDir {
public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "birkhoff_test_XXXXXX")
            .string();
    if (::mkdtemp(tmpl.data()))
      path_ = tmpl;
    else
      ADD_FAILURE() << "mkdtemp failed for " << tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

inline void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_SUPPORT_TEMPDIR_H
