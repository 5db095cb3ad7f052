//===- TestSupport.h - Shared helpers of the models tests -----------------===//
#ifndef BIRKHOFF_TEST_UNIT_MODELS_TESTSUPPORT_H
#define BIRKHOFF_TEST_UNIT_MODELS_TESTSUPPORT_H

#include "birkhoff/DType.h"
#include "birkhoff/Safetensors.h"

#include "TempDir.h"

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
  writeBytes(dir + "/config.json", configText);
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
  writeBytes(dir + "/model.safetensors.index.json", index + "}}\n");
}

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_UNIT_MODELS_TESTSUPPORT_H
