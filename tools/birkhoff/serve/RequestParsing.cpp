//===- RequestParsing.cpp - OpenAI request bodies, read and checked -------===//
#include "RequestParsing.h"

#include "birkhoff/ChatEncoding.h"
#include "birkhoff/JsonInput.h"

#include <nlohmann/json.hpp>

namespace birkhoff::serve {
namespace {

using json = nlohmann::json;

/// A short rendering of a bad value for an error message.
std::string shown(const json &v) { return jsonSnippet(v, 40); }

Expected<json> parseObject(std::string_view body) {
  // Bounded nesting: a body of 100,000 '[' must not reach recursive code.
  Expected<json> parsed = parseJsonInput(body, "the body");
  if (!parsed)
    return invalidArgument(parsed.status().message());
  json j = parsed.take();
  if (!j.is_object())
    return invalidArgument("the body must be a JSON object, not " +
                           std::string(j.type_name()));
  return j;
}

/// The field, or null when absent.
const json &field(const json &j, const char *name) {
  static const json null;
  auto it = j.find(name);
  return it == j.end() ? null : *it;
}

Status readNumber(const json &j, const char *name, double lo, double hi,
                  bool loOpen, float &out) {
  const json &v = field(j, name);
  if (v.is_null())
    return Status::ok();
  const std::string range = std::string(loOpen ? "(" : "[") +
                            std::to_string(int(lo)) + ", " +
                            std::to_string(int(hi)) + "]";
  if (!v.is_number())
    return invalidArgument(std::string(name) + ": must be a number in " +
                           range + ", not " + shown(v));
  const double d = v.get<double>();
  if (!(loOpen ? d > lo : d >= lo) || !(d <= hi))
    return invalidArgument(std::string(name) + ": " + shown(v) +
                           " is outside " + range);
  out = float(d);
  return Status::ok();
}

Status readBool(const json &j, const char *name, bool &out) {
  const json &v = field(j, name);
  if (v.is_null())
    return Status::ok();
  if (!v.is_boolean())
    return invalidArgument(std::string(name) + ": must be true or false, not " +
                           shown(v));
  out = v.get<bool>();
  return Status::ok();
}

/// A field Birkhoff does not offer: absent, null or `neutral` passes.
Status refuseUnless(const json &j, const char *name, const json &neutral,
                    const std::string &why) {
  const json &v = field(j, name);
  if (v.is_null() || v == neutral)
    return Status::ok();
  return unsupported(std::string(name) + ": " + why);
}

/// Reads the fields both endpoints share into `out` (not the prompt).
Status readCommon(const json &j, const Model &model, const ServeLimits &limits,
                  uint64_t seed, ParsedRequest &out) {
  const json &m = field(j, "model");
  if (!m.is_null()) {
    if (!m.is_string())
      return invalidArgument("model: must be a string, not " + shown(m));
    if (m.get<std::string>() != limits.modelName)
      return notFound("model: the model '" + m.get<std::string>() +
                      "' does not exist; this server serves '" +
                      limits.modelName + "'");
  }
  const json &n = field(j, "n");
  if (!n.is_null() && !(n.is_number_integer() && n.get<int64_t>() == 1))
    return unsupported("n: one choice per request is served, not " + shown(n));
  BK_RETURN_IF_ERROR(readBool(j, "stream", out.stream));
  const json &so = field(j, "stream_options");
  if (!so.is_null()) {
    if (!out.stream)
      return invalidArgument(
          "stream_options: only allowed when stream is true");
    if (!so.is_object())
      return invalidArgument("stream_options: must be an object, not " +
                             shown(so));
    BK_RETURN_IF_ERROR(readBool(so, "include_usage", out.includeUsage));
  }
  GenerateOptions &g = out.generation.sampling;
  g.temperature = 1.0f; // OpenAI's default
  if (limits.generationConfig)
    g = applyGenerationConfig(*limits.generationConfig, g);
  BK_RETURN_IF_ERROR(readNumber(j, "temperature", 0, 2, false, g.temperature));
  BK_RETURN_IF_ERROR(readNumber(j, "top_p", 0, 1, true, g.topP));
  const json &k = field(j, "top_k");
  if (!k.is_null()) {
    if (!k.is_number_integer() || k.get<int64_t>() < -1)
      return invalidArgument(
          "top_k: must be an integer, -1 or 0 for no limit, not " + shown(k));
    g.topK = std::max<int64_t>(0, k.get<int64_t>());
  }
  g.seed = seed;
  const json &s = field(j, "seed");
  if (!s.is_null()) {
    if (s.is_number_unsigned())
      g.seed = s.get<uint64_t>();
    else if (s.is_number_integer())
      g.seed = uint64_t(s.get<int64_t>());
    else
      return invalidArgument("seed: must be an integer, not " + shown(s));
  }
  bool ignoreEos = false;
  BK_RETURN_IF_ERROR(readBool(j, "ignore_eos", ignoreEos));
  g.stopAtEos = !ignoreEos;
  const json &stop = field(j, "stop");
  if (!stop.is_null()) {
    json list = stop.is_string() ? json::array({stop}) : stop;
    if (!list.is_array())
      return invalidArgument(
          "stop: must be a string or a list of strings, not " + shown(stop));
    if (int64_t(list.size()) > limits.maxStopStrings)
      return invalidArgument("stop: at most " +
                             std::to_string(limits.maxStopStrings) +
                             " strings, not " + std::to_string(list.size()));
    if (!list.empty() && !model.hasTokenizer())
      return unsupported("stop: stop strings need a tokenizer, and the model "
                         "has none (use stop_token_ids)");
    for (const json &e : list) {
      if (!e.is_string() || e.get<std::string>().empty())
        return invalidArgument("stop: each stop string must be a non-empty "
                               "string, not " +
                               shown(e));
      if (int64_t(e.get<std::string>().size()) > limits.maxStopBytes)
        return invalidArgument("stop: a stop string is at most " +
                               std::to_string(limits.maxStopBytes) +
                               " bytes long");
      out.generation.stop.push_back(e.get<std::string>());
    }
  }
  const json &ids = field(j, "stop_token_ids");
  if (!ids.is_null()) {
    if (!ids.is_array() || int64_t(ids.size()) > limits.maxStopStrings)
      return invalidArgument("stop_token_ids: must be a list of at most " +
                             std::to_string(limits.maxStopStrings) +
                             " token ids");
    for (const json &e : ids) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0 ||
          e.get<int64_t>() >= model.info().vocabSize)
        return invalidArgument("stop_token_ids: " + shown(e) +
                               " is not a token id of the vocabulary [0, " +
                               std::to_string(model.info().vocabSize) + ")");
      g.stopTokens.push_back(int32_t(e.get<int64_t>()));
    }
  }
  for (const char *penalty : {"presence_penalty", "frequency_penalty"})
    BK_RETURN_IF_ERROR(
        refuseUnless(j, penalty, 0, "penalties are not offered (only 0)"));
  BK_RETURN_IF_ERROR(refuseUnless(j, "repetition_penalty", 1,
                                  "penalties are not offered (only 1)"));
  BK_RETURN_IF_ERROR(refuseUnless(j, "logit_bias", json::object(),
                                  "logit biases are not offered"));
  BK_RETURN_IF_ERROR(
      refuseUnless(j, "top_logprobs", 0, "log probabilities are not offered"));
  return Status::ok();
}

/// The default max_tokens: what is left of the context after the prompt,
/// bounded by the generation config's max_new_tokens, else by what its
/// max_length leaves after the prompt (none left is an error, as in
/// transformers).
Expected<int64_t> defaultMaxTokens(const ServeLimits &limits, int64_t prompt,
                                   int64_t room, const char *promptField) {
  const std::optional<GenerationConfig> &g = limits.generationConfig;
  if (g && g->maxNewTokens)
    return std::min(room - prompt, *g->maxNewTokens);
  if (g && g->maxLength) {
    if (prompt >= *g->maxLength)
      return outOfRange(std::string(promptField) + ": the prompt is " +
                        std::to_string(prompt) +
                        " tokens, and the model's generation config has "
                        "max_length " +
                        std::to_string(*g->maxLength) +
                        ": give max_tokens to generate after it");
    return std::min(room, *g->maxLength) - prompt;
  }
  return room - prompt;
}

/// max_completion_tokens (or the older max_tokens): by default what is left
/// of the context after the prompt (defaultMaxTokens).
Status readMaxTokens(const json &j, const ServeLimits &limits,
                     const char *promptField, ParsedRequest &out) {
  const int64_t prompt = int64_t(out.generation.prompt.size());
  const int64_t room = std::min(limits.capacity, limits.poolTokens);
  if (prompt >= room)
    return outOfRange(std::string(promptField) + ": the prompt is " +
                      std::to_string(prompt) +
                      " tokens, and a sequence holds " + std::to_string(room) +
                      ": no room is left to generate");
  const char *name = "max_completion_tokens";
  const json *v = &field(j, name);
  if (v->is_null()) {
    name = "max_tokens";
    v = &field(j, name);
  }
  if (v->is_null()) {
    BK_ASSIGN_OR_RETURN(out.generation.maxTokens,
                        defaultMaxTokens(limits, prompt, room, promptField));
    return Status::ok();
  }
  if (!v->is_number_integer() || v->get<int64_t>() < 1)
    return invalidArgument(std::string(name) +
                           ": must be a positive integer, not " + shown(*v));
  const int64_t want = v->get<int64_t>();
  if (want > room - prompt)
    return outOfRange(std::string(name) + ": " + std::to_string(want) +
                      " tokens after a prompt of " + std::to_string(prompt) +
                      " pass the " + std::to_string(room) +
                      " a sequence holds (at most " +
                      std::to_string(room - prompt) + ")");
  out.generation.maxTokens = want;
  return Status::ok();
}

std::string noTokenizer(const Model &model) {
  return "the model '" + model.info().modelName +
         "' has no tokenizer: it serves token-id prompts at /v1/completions "
         "only";
}

/// What `tool_choice` (not "none") forces the output to start with: nothing
/// for "auto"; for "required", the opening of a DSML tool-call block, as the
/// encoder writes one after an assistant's content; for a named function,
/// also the opening of its invoke element. The model writes the rest, so
/// the call is as well-formed as the model makes it (the parser returns
/// malformed DSML as content).
Expected<std::string> forcedToolCall(const json &j, const json &choice) {
  if (choice.is_null() || choice == "auto")
    return std::string();
  const json &tools = field(j, "tools");
  if (!tools.is_array() || tools.empty())
    return invalidArgument("tool_choice: " + shown(choice) +
                           " needs the request's top-level `tools`");
  const std::string block = chat::toolCallsOpening();
  if (choice == "required")
    return block;
  if (!choice.is_object() || field(choice, "type") != "function" ||
      !field(choice, "function").is_object() ||
      !field(field(choice, "function"), "name").is_string())
    return invalidArgument(
        "tool_choice: \"none\", \"auto\", \"required\" or {\"type\": "
        "\"function\", \"function\": {\"name\": ...}}, not " +
        shown(choice));
  const std::string name =
      field(field(choice, "function"), "name").get<std::string>();
  for (const json &t : tools)
    if (t.is_object() && field(t, "function").is_object() &&
        field(field(t, "function"), "name") == name)
      return block + chat::invokeOpening(name);
  return invalidArgument("tool_choice: names the function " + shown(name) +
                         ", which `tools` does not hold");
}

/// The chat prompt: `messages` through DeepSeek-V4's chat encoding.
Status readChatPrompt(const json &j, std::string_view body, const Model &model,
                      const ServeLimits &limits, ParsedRequest &out) {
  const json &messages = field(j, "messages");
  if (!messages.is_array() || messages.empty())
    return invalidArgument("messages: must be a non-empty list of messages");
  if (int64_t(messages.size()) > limits.maxMessages)
    return invalidArgument("messages: at most " +
                           std::to_string(limits.maxMessages) +
                           " messages, not " + std::to_string(messages.size()));
  const json &rf = field(j, "response_format");
  if (!rf.is_null() && rf != json{{"type", "text"}})
    return unsupported("response_format: only {\"type\": \"text\"}: output "
                       "is not constrained to a format");
  std::string encodedBody(body);
  const json &choice = field(j, "tool_choice");
  if (choice == "none") {
    // The model is not told of the tools, so it calls none.
    json copy = j;
    copy.erase("tools");
    encodedBody = copy.dump();
  } else {
    BK_ASSIGN_OR_RETURN(out.forcedOutput, forcedToolCall(j, choice));
  }
  if (!model.hasTokenizer())
    return unsupported("messages: " + noTokenizer(model));
  BK_ASSIGN_OR_RETURN(chat::EncodedPrompt prompt,
                      chat::encodeRequest(encodedBody));
  if (prompt.thinking && !out.forcedOutput.empty())
    return unsupported("tool_choice: " + shown(choice) +
                       " in thinking mode: the reasoning comes before any "
                       "call, and decoding is not constrained to end it with "
                       "one; use \"auto\" or chat mode");
  BK_ASSIGN_OR_RETURN(out.generation.prompt,
                      model.encode(prompt.text + out.forcedOutput));
  out.thinking = prompt.thinking;
  out.generation.text = true;
  return Status::ok();
}

/// The completion prompt: one text or one list of token ids.
Status readCompletionPrompt(const json &j, const Model &model,
                            ParsedRequest &out) {
  BK_RETURN_IF_ERROR(
      refuseUnless(j, "echo", false, "the prompt is not echoed"));
  BK_RETURN_IF_ERROR(refuseUnless(j, "suffix", json(), "no suffixes"));
  BK_RETURN_IF_ERROR(refuseUnless(j, "best_of", 1, "best_of must be 1"));
  json p = field(j, "prompt");
  // One prompt: a string, a list of ids, or a list holding one of those.
  if (p.is_array() && p.size() == 1 && (p[0].is_string() || p[0].is_array()))
    p = json(p[0]);
  std::vector<int32_t> &ids = out.generation.prompt;
  const int64_t vocab = model.info().vocabSize;
  if (p.is_string()) {
    if (!model.hasTokenizer())
      return unsupported("prompt: " + noTokenizer(model) +
                         "; give the prompt as a list of token ids");
    BK_ASSIGN_OR_RETURN(std::vector<int32_t> text,
                        model.encode(p.get<std::string>()));
    ids.push_back(model.info().bosTokenId);
    ids.insert(ids.end(), text.begin(), text.end());
  } else if (p.is_array() && !p.empty() && p[0].is_number()) {
    for (const json &t : p) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
          t.get<int64_t>() >= vocab)
        return invalidArgument("prompt: " + shown(t) +
                               " is not a token id of the vocabulary [0, " +
                               std::to_string(vocab) + ")");
      ids.push_back(int32_t(t.get<int64_t>()));
    }
  } else if (p.is_array() && p.size() > 1) {
    return unsupported("prompt: one prompt per request, not " +
                       std::to_string(p.size()));
  } else {
    return invalidArgument(
        "prompt: must be a string or a non-empty list of token ids");
  }
  out.generation.text = model.hasTokenizer();
  return Status::ok();
}

Expected<ParsedRequest> parseRequest(std::string_view body, const Model &model,
                                     const ServeLimits &limits, uint64_t seed,
                                     bool chat) {
  BK_ASSIGN_OR_RETURN(json j, parseObject(body));
  ParsedRequest out;
  BK_RETURN_IF_ERROR(readCommon(j, model, limits, seed, out));
  // A flag in chat, a count in completions.
  BK_RETURN_IF_ERROR(refuseUnless(j, "logprobs", chat ? json(false) : json(),
                                  "log probabilities are not offered"));
  BK_RETURN_IF_ERROR(chat ? readChatPrompt(j, body, model, limits, out)
                          : readCompletionPrompt(j, model, out));
  BK_RETURN_IF_ERROR(
      readMaxTokens(j, limits, chat ? "messages" : "prompt", out));
  return out;
}

} // namespace

Expected<ParsedRequest> parseChatCompletionRequest(std::string_view body,
                                                   const Model &model,
                                                   const ServeLimits &limits,
                                                   uint64_t seed) {
  return parseRequest(body, model, limits, seed, /*chat=*/true);
}

Expected<ParsedRequest> parseCompletionRequest(std::string_view body,
                                               const Model &model,
                                               const ServeLimits &limits,
                                               uint64_t seed) {
  return parseRequest(body, model, limits, seed, /*chat=*/false);
}

} // namespace birkhoff::serve
