//===- ApiError.cpp - Errors in the shape of OpenAI's API -----------------===//
#include "ApiError.h"

#include <nlohmann/json.hpp>

#include <cctype>

namespace birkhoff::serve {
namespace {

nlohmann::json orNull(const std::string &s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

/// "messages[2].content" of "messages[2].content: must be ...": the leading
/// field path, when the message starts with one.
std::string fieldOf(const std::string &message) {
  size_t colon = message.find(": ");
  if (colon == std::string::npos || colon == 0)
    return "";
  for (size_t i = 0; i < colon; ++i) {
    char c = message[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
          c == '[' || c == ']'))
      return "";
  }
  return message.substr(0, colon);
}

} // namespace

std::string errorBody(const ApiError &error) {
  nlohmann::json j = {{"error",
                       {{"message", error.message},
                        {"type", error.type},
                        {"param", orNull(error.param)},
                        {"code", orNull(error.code)}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiError apiErrorOf(const Status &status) {
  ApiError e;
  e.message = status.message();
  switch (status.code()) {
  case StatusCode::InvalidArgument:
  case StatusCode::OutOfRange:
    e.param = fieldOf(e.message);
    return e;
  case StatusCode::Unsupported:
    e.param = fieldOf(e.message);
    e.code = "unsupported";
    return e;
  case StatusCode::NotFound:
    e.httpStatus = 404;
    e.type = "not_found_error";
    e.param = fieldOf(e.message);
    e.code = e.param == "model" ? "model_not_found" : "not_found";
    return e;
  case StatusCode::ResourceExhausted:
    return queueFullError(e.message);
  default:
    return serverError(status.toString());
  }
}

ApiError notFoundError(std::string message) {
  return {404, std::move(message), "not_found_error", "", "not_found"};
}

ApiError payloadTooLargeError(std::string message) {
  return {413, std::move(message), "invalid_request_error", "",
          "payload_too_large"};
}

ApiError queueFullError(std::string message) {
  return {429, std::move(message), "rate_limit_error", "", "queue_full"};
}

ApiError shuttingDownError(std::string message) {
  return {503, std::move(message), "service_unavailable_error", "",
          "shutting_down"};
}

ApiError serverError(std::string message) {
  return {500, std::move(message), "server_error", "", "internal_error"};
}

} // namespace birkhoff::serve
