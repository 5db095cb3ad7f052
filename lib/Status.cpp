//===- Status.cpp ---------------------------------------------------------===//
#include "birkhoff/Status.h"

namespace birkhoff {

const char *statusCodeName(StatusCode code) {
  switch (code) {
  case StatusCode::Ok:
    return "ok";
  case StatusCode::InvalidArgument:
    return "invalid argument";
  case StatusCode::NotFound:
    return "not found";
  case StatusCode::Corrupt:
    return "corrupt";
  case StatusCode::Unsupported:
    return "unsupported";
  case StatusCode::OutOfRange:
    return "out of range";
  case StatusCode::ResourceExhausted:
    return "resource exhausted";
  case StatusCode::IoError:
    return "I/O error";
  case StatusCode::Internal:
    return "internal error";
  }
  return "unknown status code";
}

Status makeError(StatusCode code, std::string message) {
  Status s;
  // An error built with code Ok would read as success and lose the message;
  // that is a caller bug, reported as Internal rather than silently dropped.
  s.code_ = code == StatusCode::Ok ? StatusCode::Internal : code;
  s.message_ = std::move(message);
  return s;
}

Status Status::withContext(const std::string &context) const {
  if (isOk())
    return *this;
  return makeError(code_, context + ": " + message_);
}

std::string Status::toString() const {
  if (isOk())
    return "ok";
  return std::string(statusCodeName(code_)) + ": " + message_;
}

} // namespace birkhoff
