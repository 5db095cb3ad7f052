//===- ChatTemplateCommand.cpp - `birkhoff chat-template` -----------------===//
//
// A chat request to DeepSeek-V4's prompt text, and the model's output text to
// an OpenAI assistant message (lib/birkhoff/ChatEncoding.h, ChatParsing.h).
//
//===----------------------------------------------------------------------===//
#include "Args.h"
#include "Commands.h"
#include "birkhoff/ChatEncoding.h"
#include "birkhoff/ChatParsing.h"
#include "birkhoff/FileSafety.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace birkhoff::tools {
namespace {

/// The bytes of `path`, or of stdin for "-".
Expected<std::string> readInput(const std::string &path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  return readInputFile(path);
}

int fail(const Status &status) {
  std::fprintf(stderr, "birkhoff chat-template: %s\n",
               status.toString().c_str());
  return 1;
}

} // namespace

int runChatTemplateCommand(int argc, char **argv) {
  auto args = parseArgs(argc, argv, {"reasoning-effort"},
                        {"help", "parse", "thinking", "no-thinking"});
  const char *usage =
      "usage: birkhoff chat-template <request.json> [--thinking | "
      "--no-thinking]\n"
      "                              [--reasoning-effort low|high|max]\n"
      "       birkhoff chat-template --parse <completion.txt> [--thinking]\n"
      "       (- reads stdin)\n"
      "Prints the DeepSeek-V4 prompt of an OpenAI chat-completions request\n"
      "body, byte for byte as DeepSeek's encoder writes it (no newline "
      "added).\n"
      "The request's \"thinking\" and \"reasoning_effort\" apply unless the\n"
      "options say otherwise; without either, chat mode. With --parse, reads\n"
      "the model's output after such a prompt and prints the assistant\n"
      "message as OpenAI JSON (reasoning, content, tool calls); --thinking\n"
      "when the prompt was in thinking mode.\n";
  if (args && args->has("help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  bool parse = args && args->has("parse");
  bool usable = args && args->positional.size() == 1 &&
                !(args->has("thinking") && args->has("no-thinking")) &&
                !(parse && args->has("reasoning-effort"));
  if (!usable) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::optional<chat::ReasoningEffort> effort;
  if (args->has("reasoning-effort")) {
    std::string name = args->get("reasoning-effort");
    if (name != "low" && name != "high" && name != "max") {
      std::fprintf(stderr,
                   "birkhoff chat-template: --reasoning-effort takes low, "
                   "high or max, not '%s'\n",
                   name.c_str());
      return 2;
    }
    effort = *chat::parseReasoningEffort(name);
  }

  auto input = readInput(args->positional[0]);
  if (!input)
    return fail(input.status());

  if (parse) {
    chat::ParseOptions options;
    options.thinking = args->has("thinking");
    chat::ParsedMessage message = chat::parseOutput(*input, options);
    std::string json = chat::toOpenAIJson(message, options.thinking);
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }

  chat::EncodeOptions options;
  if (args->has("thinking") || args->has("no-thinking"))
    options.thinking = args->has("thinking");
  options.effort = effort;
  auto prompt = chat::encodeRequest(*input, options);
  const std::string &path = args->positional[0];
  if (!prompt)
    return fail(prompt.status().withContext(path == "-" ? "<stdin>" : path));
  std::fwrite(prompt->text.data(), 1, prompt->text.size(), stdout);
  return 0;
}

} // namespace birkhoff::tools
