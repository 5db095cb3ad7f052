//===- TokenizeCommand.cpp - `birkhoff tokenize`: text <-> token ids ------===//
#include "Args.h"
#include "ArtifactLoader.h"
#include "Commands.h"
#include "birkhoff/FileSafety.h"
#include "birkhoff/Tokenizer.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>
#include <unistd.h>

namespace birkhoff::tools {
namespace {

/// Whether `path` starts like an artifact (size prefix, root offset, "BKA1").
bool looksLikeArtifact(const std::string &path) {
  // Opened through openInputFile: a FIFO named here must not block.
  Expected<UniqueFd> fd = openInputFile(path);
  char head[12] = {};
  if (!fd || ::read(fd->get(), head, sizeof(head)) != ssize_t(sizeof(head)))
    return false;
  return std::string_view(head + 8, 4) == "BKA1";
}

/// The tokenizer of a tokenizer.json file or of an artifact (loaded without
/// generating its weights).
Expected<std::shared_ptr<const Tokenizer>>
loadTokenizer(const std::string &path) {
  if (!looksLikeArtifact(path)) {
    BK_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                        Tokenizer::fromJsonFile(path));
    return std::shared_ptr<const Tokenizer>(std::move(tok));
  }
  BK_ASSIGN_OR_RETURN(rt::LoadedArtifact artifact, rt::loadArtifact(path));
  if (!artifact.program.tokenizer)
    return unsupported(path + ": the artifact has no tokenizer (it takes and "
                              "gives token ids only)");
  return artifact.program.tokenizer;
}

} // namespace

int runTokenizeCommand(int argc, char **argv) {
  auto args = parseArgs(argc, argv, {"text", "file", "decode"},
                        {"help", "json", "skip-special"});
  const char *usage =
      "usage: birkhoff tokenize <tokenizer.json> (--text T | --file F) "
      "[--json]\n"
      "       birkhoff tokenize <tokenizer.json> --decode ID,ID,... "
      "[--skip-special]\n"
      "       (or an artifact in place of <tokenizer.json>)\n"
      "Encodes text with a Hugging Face tokenizer.json (byte-level BPE of\n"
      "DeepSeek's kind), or the one an artifact carries, and prints the ids,\n"
      "comma-separated or as a JSON list with --json; added tokens written in\n"
      "the text become their ids. With --decode prints the text of the ids\n"
      "(--skip-special leaves out special tokens).\n";
  if (args && args->has("help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  int modes = args ? int(args->has("text")) + int(args->has("file")) +
                         int(args->has("decode"))
                   : 0;
  if (!args || args->positional.size() != 1 || modes != 1) {
    std::fputs(usage, stderr);
    return 2;
  }
  auto tok = loadTokenizer(args->positional[0]);
  if (!tok) {
    std::fprintf(stderr, "birkhoff tokenize: %s\n",
                 tok.status().toString().c_str());
    return 1;
  }

  if (args->has("decode")) {
    std::vector<int32_t> ids;
    std::string list = args->get("decode");
    if (!list.empty()) {
      // Ids as int32s, never narrowed; the tokenizer names one it lacks.
      auto parsed = parseIntList(list, 0, kMaxTokenId);
      if (!parsed) {
        std::fprintf(stderr, "birkhoff tokenize: --decode: %s\n",
                     parsed.status().message().c_str());
        return 2;
      }
      for (int64_t id : *parsed)
        ids.push_back(int32_t(id));
    }
    auto text = (*tok)->decode(ids, args->has("skip-special"));
    if (!text) {
      std::fprintf(stderr, "birkhoff tokenize: %s\n",
                   text.status().toString().c_str());
      return 1;
    }
    std::fwrite(text->data(), 1, text->size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }

  std::string text = args->get("text");
  if (args->has("file")) {
    Expected<std::string> file = readInputFile(args->get("file"));
    if (!file) {
      std::fprintf(stderr, "birkhoff tokenize: %s\n",
                   file.status().message().c_str());
      return 1;
    }
    text = file.take();
  }
  auto ids = (*tok)->encode(text);
  if (!ids) {
    std::fprintf(stderr, "birkhoff tokenize: %s\n",
                 ids.status().toString().c_str());
    return 1;
  }
  bool json = args->has("json");
  std::string out = json ? "[" : "";
  for (size_t i = 0; i < ids->size(); ++i) {
    if (i)
      out += json ? ", " : ",";
    out += std::to_string((*ids)[i]);
  }
  out += json ? "]\n" : "\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

} // namespace birkhoff::tools
