//===- ChatTemplateCommand.cpp - `birkhoff chat-template` -----------------===//
//
// A chat request to DeepSeek-V4's prompt text, and the model's output text to
// an OpenAI assistant message (lib/birkhoff/ChatEncoding.h, ChatParsing.h).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "birkhoff/ChatEncoding.h"
#include "birkhoff/ChatParsing.h"
#include "birkhoff/FileSafety.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
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

/// The command line, as the declarations read it.
struct ChatTemplateArgs {
  std::string path;
  bool parse = false, thinking = false, noThinking = false;
  std::optional<std::string> effort;
};

int runChatTemplate(const ChatTemplateArgs &args) {
  auto input = readInput(args.path);
  if (!input)
    return fail(input.status());

  if (args.parse) {
    chat::ParseOptions options;
    options.thinking = args.thinking;
    chat::ParsedMessage message = chat::parseOutput(*input, options);
    std::string json = chat::toOpenAIJson(message, options.thinking);
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }

  chat::EncodeOptions options;
  if (args.thinking || args.noThinking)
    options.thinking = args.thinking;
  if (args.effort)
    options.effort = *chat::parseReasoningEffort(*args.effort);
  auto prompt = chat::encodeRequest(*input, options);
  const std::string &path = args.path;
  if (!prompt)
    return fail(prompt.status().withContext(path == "-" ? "<stdin>" : path));
  std::fwrite(prompt->text.data(), 1, prompt->text.size(), stdout);
  return 0;
}

cli::Runner declareChatTemplate(CLI::App &app) {
  auto args = std::make_shared<ChatTemplateArgs>();
  cli::addPositional(app, "file", args->path,
                     "the request.json (or, with --parse, the completion "
                     "text); - reads stdin");
  CLI::Option *parse = cli::addFlag(
      app, "--parse", args->parse,
      "read the model's output after such a prompt and print the assistant "
      "message as OpenAI JSON");
  CLI::Option *thinking = cli::addFlag(
      app, "--thinking", args->thinking,
      "thinking mode (with --parse: the prompt was in thinking mode)");
  CLI::Option *noThinking =
      cli::addFlag(app, "--no-thinking", args->noThinking,
                   "chat mode, whatever the request's \"thinking\" says");
  thinking->excludes(noThinking);
  cli::addChoice(app, "--reasoning-effort", args->effort,
                 {"low", "high", "max"},
                 "the thinking effort; only max changes the prompt",
                 "the request's, else high")
      ->excludes(parse);
  return [args] { return runChatTemplate(*args); };
}

} // namespace

cli::Command chatTemplateCommand() {
  return {
      "chat-template",
      "write a chat request as DeepSeek-V4's prompt; parse its output",
      "birkhoff chat-template <request.json> [--thinking | --no-thinking] "
      "[--reasoning-effort low|high|max]\n"
      "birkhoff chat-template --parse <completion.txt> [--thinking]\n"
      "(- reads stdin)",
      "Prints the DeepSeek-V4 prompt of an OpenAI chat-completions request "
      "body, byte for byte as DeepSeek's encoder writes it (no newline "
      "added). The request's \"thinking\" and \"reasoning_effort\" apply "
      "unless the options say otherwise; without either, chat mode. With "
      "--parse, reads the model's output after such a prompt and prints the "
      "assistant message as OpenAI JSON (reasoning, content, tool calls).",
      declareChatTemplate};
}

} // namespace birkhoff::tools
