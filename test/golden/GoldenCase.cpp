//===- GoldenCase.cpp -----------------------------------------------------===//
#include "GoldenCase.h"

#include "birkhoff/Npy.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace birkhoff::test {
namespace {

Expected<LogitsFile> readPair(const std::string &dir, const std::string &tokens,
                              const std::string &logits) {
  LogitsFile f;
  f.name = logits;
  BK_ASSIGN_OR_RETURN(NpyArray t, readNpy(dir + "/" + tokens));
  BK_ASSIGN_OR_RETURN(NpyArray l, readNpy(dir + "/" + logits));
  for (int64_t v : t.asInt64())
    f.tokens.push_back(int32_t(v));
  f.logits = l.asFloat();
  return f;
}

std::vector<int32_t> ids(const nlohmann::json &j) {
  std::vector<int32_t> out;
  for (const auto &v : j)
    out.push_back(v.get<int32_t>());
  return out;
}

} // namespace

Expected<GoldenCase> loadGoldenCase(const std::string &dir) {
  std::ifstream in(dir + "/manifest.json");
  if (!in)
    return notFound(dir + "/manifest.json: cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json m = nlohmann::json::parse(ss.str(), nullptr, false);
  if (m.is_discarded() || !m.is_object())
    return corrupt(dir + "/manifest.json: not a JSON object");
  GoldenCase c;
  c.dir = dir;
  c.name = std::filesystem::path(dir).filename().string();
  for (const auto &p : m["prefill"]) {
    BK_ASSIGN_OR_RETURN(LogitsFile f, readPair(dir, p["tokens"].get<std::string>(),
                                               p["logits"].get<std::string>()));
    c.prefills.push_back(std::move(f));
  }
  const auto &d = m["decode"];
  BK_ASSIGN_OR_RETURN(c.cached, readPair(dir, d["tokens"].get<std::string>(),
                                         d["logits"].get<std::string>()));
  c.cachedPrefill = d["prefill"].get<int64_t>();
  c.cachedChunk = d["chunk"].get<int64_t>();
  c.greedyPrompt = ids(m["greedy"]["prompt"]);
  c.greedyIds = ids(m["greedy"]["generated"]);
  return c;
}

double maxRelativeError(const std::vector<float> &a, const std::vector<float> &b) {
  double diff = 0.0, ref = 0.0;
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    ref = std::max(ref, double(std::fabs(b[i])));
  }
  if (a.size() != b.size())
    return INFINITY;
  return diff / std::max(ref, 1e-30);
}

Status compileArtifact(const std::string &checkpoint, const std::string &artifact,
                       const std::string &extraFlags) {
  namespace fs = std::filesystem;
  std::string tool = std::string(BIRKHOFF_BIN_DIR) + "/birkhoff";
  std::error_code ec;
  if (fs::exists(artifact, ec) &&
      fs::last_write_time(artifact, ec) > fs::last_write_time(tool, ec))
    return Status::ok();
  fs::create_directories(fs::path(artifact).parent_path(), ec);
  // Tests run in parallel and may want the same artifact: each compiles to its
  // own file and renames it into place, which is atomic.
  std::string mine = artifact + ".tmp." + std::to_string(::getpid());
  std::string log = mine + ".log";
  std::string cmd = "'" + tool + "' compile '" + checkpoint + "' -o '" + mine + "' " +
                    extraFlags + " > '" + log + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    fs::remove(mine, ec);
    return internalError("'" + cmd + "' failed:\n" + ss.str());
  }
  fs::remove(log, ec);
  fs::rename(mine, artifact, ec);
  if (ec)
    return ioError("cannot rename " + mine + " to " + artifact + ": " + ec.message());
  return Status::ok();
}

} // namespace birkhoff::test
