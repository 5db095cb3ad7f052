//===- TokenizeCommand.cpp - `birkhoff tokenize`: text <-> token ids ------===//
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

/// The command line, as the declarations read it.
struct TokenizeArgs {
  std::string path;
  std::optional<std::string> text, file;
  std::vector<int64_t> decode;
  bool decoding = false; // --decode given (an empty list is a list)
  bool json = false, skipSpecial = false;
};

int runTokenize(const CLI::App &app, const TokenizeArgs &args) {
  if (!args.text && !args.file && !args.decoding)
    return cli::usageError(app, "--text, --file or --decode is required");
  auto tok = loadTokenizer(args.path);
  if (!tok) {
    std::fprintf(stderr, "birkhoff tokenize: %s\n",
                 tok.status().toString().c_str());
    return 1;
  }

  if (args.decoding) {
    // Ids as int32s, never narrowed; the tokenizer names one it lacks.
    std::vector<int32_t> ids(args.decode.begin(), args.decode.end());
    auto text = (*tok)->decode(ids, args.skipSpecial);
    if (!text) {
      std::fprintf(stderr, "birkhoff tokenize: %s\n",
                   text.status().toString().c_str());
      return 1;
    }
    std::fwrite(text->data(), 1, text->size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }

  std::string text = args.text.value_or("");
  if (args.file) {
    Expected<std::string> file = readInputFile(*args.file);
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
  const bool json = args.json;
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

cli::Runner declareTokenize(CLI::App &app) {
  auto args = std::make_shared<TokenizeArgs>();
  cli::addPositional(app, "tokenizer", args->path,
                     "a Hugging Face tokenizer.json, or an artifact that "
                     "carries one");
  CLI::Option *text =
      cli::addText(app, "--text T", args->text, "encode the text T", "none");
  CLI::Option *file = cli::addText(app, "--file F", args->file,
                                   "encode the text of the file F", "none");
  // An empty list decodes to the empty text.
  CLI::Option *decode = cli::addIntList(
      app, "--decode ID,ID,...", args->decode, 0, cli::kMaxTokenId,
      "print the text of the ids", /*allowEmpty=*/true);
  text->excludes(file)->excludes(decode);
  file->excludes(decode);
  cli::addFlag(app, "--json", args->json,
               "print the ids as a JSON list instead of comma-separated");
  cli::addFlag(app, "--skip-special", args->skipSpecial,
               "with --decode: leave out special tokens");
  return [&app, args, decode] {
    args->decoding = decode->count() > 0;
    return runTokenize(app, *args);
  };
}

} // namespace

cli::Command tokenizeCommand() {
  return {"tokenize", "encode text to token ids and decode ids to text",
          "birkhoff tokenize <tokenizer.json> (--text T | --file F) [--json]\n"
          "birkhoff tokenize <tokenizer.json> --decode ID,ID,... "
          "[--skip-special]\n"
          "(or an artifact in place of <tokenizer.json>)",
          "Encodes text with a Hugging Face tokenizer.json (byte-level BPE of "
          "DeepSeek's kind), or the one an artifact carries, and prints the "
          "ids, comma-separated or as a JSON list with --json; added tokens "
          "written in the text become their ids, and no BOS is added. With "
          "--decode prints the text of the ids. An id outside the vocabulary, "
          "a file that is not UTF-8 or a tokenizer of another kind is exit 1.",
          declareTokenize};
}

} // namespace birkhoff::tools
