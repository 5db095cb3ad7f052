//===- TrainedModel.cpp - Checks of the default model against transformers -===//
#include "TrainedModel.h"

#include "birkhoff/Npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace birkhoff::test {

std::string trainedModelDir() {
  return std::string(BIRKHOFF_SOURCE_DIR) + "/models/deepseek_v4/tiny";
}

nlohmann::json readTrainedReference() {
  std::ifstream in(trainedModelDir() + "/reference/reference.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, false);
}

double trainedPerplexity(const std::shared_ptr<const Model> &model,
                         const nlohmann::json &ref) {
  auto tokens = readNpy(trainedModelDir() + "/reference/" +
                        ref["perplexity"]["tokens"].get<std::string>());
  EXPECT_TRUE(tokens.isOk()) << tokens.status().toString();
  if (!tokens.isOk())
    return NAN;
  const std::vector<int64_t> ids = tokens->asInt64();
  const size_t window = ref["perplexity"]["window"].get<size_t>();
  std::vector<std::vector<int32_t>> windows;
  for (size_t w = 0; w + window <= ids.size(); w += window)
    windows.emplace_back(ids.begin() + w, ids.begin() + w + window);
  auto score = scoreWindows(model, windows);
  EXPECT_TRUE(score.isOk()) << score.status().toString();
  if (!score.isOk())
    return NAN;
  EXPECT_EQ(score->tokens, ref["perplexity"]["scored"].get<int64_t>());
  return score->perplexity();
}

void expectGreedyContinuations(const std::shared_ptr<const Model> &model,
                               const nlohmann::json &ref,
                               const std::string &tag) {
  for (const auto &g : ref["greedy"]) {
    const auto prompt = g["prompt"].get<std::vector<int32_t>>();
    const auto want = g["generated"].get<std::vector<int32_t>>();
    SessionOptions o;
    o.maxContext = int64_t(prompt.size() + want.size());
    auto s = Session::create(model, o);
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    Status st = (*s)->prefill(prompt);
    ASSERT_TRUE(st.isOk()) << st.toString();
    size_t same = 0;
    while (same < want.size()) {
      std::span<const float> l = (*s)->lastLogits();
      // Greedy: argmax, the lowest id on ties (as torch.topk's first).
      const int32_t next =
          int32_t(std::max_element(l.begin(), l.end()) - l.begin());
      if (next != want[same])
        break;
      ++same;
      st = (*s)->decode(next);
      ASSERT_TRUE(st.isOk()) << st.toString();
    }
    const std::string name = g["name"].get<std::string>();
    std::printf("[%s] greedy %s: %zu of %zu tokens equal\n", tag.c_str(),
                name.c_str(), same, want.size());
    EXPECT_EQ(same, want.size()) << name << " departs at generated token "
                                 << same;
  }
}

} // namespace birkhoff::test
