//===- Status.h - Error values shared by compiler and runtime -------------===//
//
// Every fallible call in Birkhoff returns a Status or an Expected<T>. A status
// carries a code and a message that names what went wrong (file, tensor, key,
// offset); callers add context with `withContext` as the error travels up.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_STATUS_H
#define BIRKHOFF_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace birkhoff {

enum class StatusCode {
  Ok = 0,
  InvalidArgument,  // a caller passed something malformed (shape, id, option)
  NotFound,         // a file, tensor or key is missing
  Corrupt,          // a file's bytes contradict its own structure
  Unsupported,      // well-formed, but a feature Birkhoff does not handle
  OutOfRange,       // a request exceeds a capacity (context, batch, vocab)
  ResourceExhausted, // a shared pool is used up now (slots, state pages)
  IoError,          // the operating system refused a read/write/map
  Internal,         // a broken invariant inside Birkhoff
};

const char *statusCodeName(StatusCode code);

class [[nodiscard]] Status {
public:
  Status() = default;
  static Status ok() { return Status(); }

  bool isOk() const { return code_ == StatusCode::Ok; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string &message() const { return message_; }

  /// "<context>: <message>" with the same code; a no-op on success.
  Status withContext(const std::string &context) const;
  /// "<code name>: <message>", for printing.
  std::string toString() const;

  friend Status makeError(StatusCode code, std::string message);

private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

Status makeError(StatusCode code, std::string message);
inline Status invalidArgument(std::string m) {
  return makeError(StatusCode::InvalidArgument, std::move(m));
}
inline Status notFound(std::string m) {
  return makeError(StatusCode::NotFound, std::move(m));
}
inline Status corrupt(std::string m) {
  return makeError(StatusCode::Corrupt, std::move(m));
}
inline Status unsupported(std::string m) {
  return makeError(StatusCode::Unsupported, std::move(m));
}
inline Status outOfRange(std::string m) {
  return makeError(StatusCode::OutOfRange, std::move(m));
}
inline Status resourceExhausted(std::string m) {
  return makeError(StatusCode::ResourceExhausted, std::move(m));
}
inline Status ioError(std::string m) {
  return makeError(StatusCode::IoError, std::move(m));
}
inline Status internalError(std::string m) {
  return makeError(StatusCode::Internal, std::move(m));
}

/// A value or the Status explaining why there is none.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : value_(std::move(value)) {}
  Expected(Status status) : status_(std::move(status)) {
    assert(!status_.isOk() && "Expected built from an ok Status");
  }

  bool isOk() const { return value_.has_value(); }
  explicit operator bool() const { return isOk(); }
  const Status &status() const { return status_; }

  T &operator*() { return *value_; }
  const T &operator*() const { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }
  T take() { return std::move(*value_); }

private:
  std::optional<T> value_;
  Status status_;
};

} // namespace birkhoff

/// Propagate a failed Status out of the current function.
#define BK_RETURN_IF_ERROR(expr)                                               \
  do {                                                                         \
    ::birkhoff::Status bkStatus_ = (expr);                                     \
    if (!bkStatus_.isOk())                                                     \
      return bkStatus_;                                                        \
  } while (0)

#define BK_CONCAT_INNER_(a, b) a##b
#define BK_CONCAT_(a, b) BK_CONCAT_INNER_(a, b)
/// `BK_ASSIGN_OR_RETURN(auto x, makeX());` binds the value or returns the error.
#define BK_ASSIGN_OR_RETURN(decl, expr)                                        \
  BK_ASSIGN_OR_RETURN_IMPL_(BK_CONCAT_(bkExpected_, __LINE__), decl, expr)
#define BK_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr)                             \
  auto tmp = (expr);                                                           \
  if (!tmp.isOk())                                                             \
    return tmp.status();                                                       \
  decl = tmp.take()

#endif // BIRKHOFF_STATUS_H
