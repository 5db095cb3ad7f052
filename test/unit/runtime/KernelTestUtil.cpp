//===- KernelTestUtil.cpp -------------------------------------------------===//
#include "KernelTestUtil.h"

#include <cstring>

namespace birkhoff::test {

int KernelHarness::addWeightF32(const std::string &name, std::vector<int64_t> shape,
                                const std::vector<float> &values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return addWeightRaw(name, DType::F32, std::move(shape), std::move(bytes));
}

int KernelHarness::addWeightRaw(const std::string &name, DType dtype,
                                std::vector<int64_t> shape, std::vector<uint8_t> bytes,
                                int scale) {
  weightBytes.push_back(std::move(bytes));
  rt::WeightDesc w;
  w.name = name;
  w.dtype = dtype;
  w.shape = std::move(shape);
  w.scale = scale;
  program.weights.push_back(w);
  return int(program.weights.size() - 1);
}

int KernelHarness::addBuffer(int64_t elems) {
  buffers.emplace_back(static_cast<size_t>(elems), 0.0f);
  return int(buffers.size() - 1);
}

int KernelHarness::addState(int64_t rows, int64_t rowFloats,
                            int64_t tokensPerRow) {
  return addStateBytes(rows, 4 * rowFloats, tokensPerRow);
}

int KernelHarness::addStateBytes(int64_t rows, int64_t rowBytes,
                                 int64_t tokensPerRow) {
  stateData.emplace_back(static_cast<size_t>((rows * rowBytes + 3) / 4), 0.0f);
  stateShapes.push_back({rows, rowBytes});
  rt::StateDesc d;
  d.name = "state" + std::to_string(stateData.size() - 1);
  d.bytesPerRow = uint64_t(rowBytes);
  d.fixedRows = tokensPerRow > 0 ? 0 : rows;
  d.tokensPerRow = tokensPerRow;
  program.states.push_back(d);
  return int(stateData.size() - 1);
}

void KernelHarness::param(const std::string &key, double v) {
  for (auto &[k, value] : params)
    if (k == key) {
      value = v;
      return;
    }
  params.emplace_back(key, v);
}

Status KernelHarness::run(const HostKernelRef &fn, int64_t tokens,
                          int64_t start) {
  launch.id = fn.id;
  if (launch.kernel.empty())
    launch.kernel = std::string(kernelName(fn.id));
  BK_ASSIGN_OR_RETURN(launch.params, decodeParams(fn.id, params));
  for (size_t i = 0; i < program.weights.size(); ++i) {
    program.weights[i].data = weightBytes[i].data();
    program.weights[i].size = weightBytes[i].size();
  }
  bufferPtrs.clear();
  for (auto &b : buffers)
    bufferPtrs.push_back(b.data());
  states.clear();
  for (size_t i = 0; i < stateData.size(); ++i)
    states.push_back({reinterpret_cast<uint8_t *>(stateData[i].data()), stateShapes[i].first,
                      stateShapes[i].second});
  rt::KernelArgs a;
  a.tokens = tokens;
  a.start = start;
  a.tokenIds = tokenIds.data();
  a.launch = &launch;
  a.program = &program;
  a.buffers = bufferPtrs.data();
  a.states = states.data();
  a.pool = Workers(pool);
  return fn.call(a);
}

} // namespace birkhoff::test
