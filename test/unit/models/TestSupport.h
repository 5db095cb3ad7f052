//===- TestSupport.h - Shared helpers of the models tests -----------------===//
#ifndef BIRKHOFF_TEST_UNIT_MODELS_TESTSUPPORT_H
#define BIRKHOFF_TEST_UNIT_MODELS_TESTSUPPORT_H

#include "birkhoff/DType.h"
#include "birkhoff/Safetensors.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace birkhoff::test {

inline std::string goldenDir(const std::string &name) {
  return std::string(BIRKHOFF_GOLDENS_DIR) + "/" + name;
}

/// A scratch directory removed when the test ends.
class TempDir {
public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "birkhoff_models_XXXXXX")
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

inline std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeText(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), std::streamsize(text.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

/// One tensor held in memory, for building altered checkpoints.
struct TensorData {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

/// Every tensor of a checkpoint, in name order.
inline std::vector<TensorData> readTensors(const Checkpoint &ckpt) {
  std::vector<TensorData> out;
  for (const auto &[name, info] : ckpt.tensors()) {
    auto bytes = ckpt.bytes(name);
    EXPECT_TRUE(bytes.isOk()) << bytes.status().toString();
    if (!bytes.isOk())
      continue;
    out.push_back(
        {name, info.dtype, info.shape, {bytes->begin(), bytes->end()}});
  }
  return out;
}

/// Writes `tensors` as two shards plus an index, as the hub does.
inline void writeShardedCheckpoint(const std::string &dir,
                                   const std::vector<TensorData> &tensors,
                                   const std::string &configText) {
  std::filesystem::create_directories(dir);
  writeText(dir + "/config.json", configText);
  size_t half = tensors.size() / 2;
  std::string index = "{\"metadata\": {}, \"weight_map\": {";
  for (int s = 0; s < 2; ++s) {
    std::string file =
        "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
    size_t b = s == 0 ? 0 : half, e = s == 0 ? half : tensors.size();
    std::vector<SafetensorsWriter::Declared> declared;
    for (size_t i = b; i < e; ++i)
      declared.push_back({tensors[i].name, tensors[i].dtype, tensors[i].shape});
    auto writer = SafetensorsWriter::create(dir + "/" + file, declared);
    ASSERT_TRUE(writer.isOk()) << writer.status().toString();
    for (size_t i = b; i < e; ++i) {
      Status st = writer->write(tensors[i].name, tensors[i].bytes);
      ASSERT_TRUE(st.isOk()) << st.toString();
      index += (i ? ", \"" : "\"") + tensors[i].name + "\": \"" + file + "\"";
    }
    Status st = writer->finish();
    ASSERT_TRUE(st.isOk()) << st.toString();
  }
  writeText(dir + "/model.safetensors.index.json", index + "}}\n");
}

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_UNIT_MODELS_TESTSUPPORT_H
