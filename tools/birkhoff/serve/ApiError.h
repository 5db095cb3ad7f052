//===- ApiError.h - Errors in the shape of OpenAI's API -------------------===//
//
// Every error `birkhoff serve` returns is a JSON body
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// with an HTTP status: 400 (a request that is malformed or cannot be served),
// 404 (no such route or model), 413 (body too large), 429 (queue full), 500
// (the engine failed), 503 (shutting down).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_APIERROR_H
#define BIRKHOFF_TOOLS_SERVE_APIERROR_H

#include "birkhoff/Status.h"

#include <string>

namespace birkhoff::serve {

struct ApiError {
  int httpStatus = 400;
  std::string message;
  std::string type = "invalid_request_error";
  /// The request field at fault; empty writes null.
  std::string param;
  /// A short machine-readable code; empty writes null.
  std::string code;
};

/// `{"error": {...}}` as one line of JSON.
std::string errorBody(const ApiError &error);

/// A request error from a Status whose message names the field first
/// ("max_tokens: ...", "messages[2].role: ...", as request parsing writes
/// them): InvalidArgument, OutOfRange and Unsupported are 400, NotFound 404,
/// ResourceExhausted 429, anything else 500.
ApiError apiErrorOf(const Status &status);

ApiError notFoundError(std::string message);
ApiError payloadTooLargeError(std::string message);
ApiError queueFullError(std::string message);
ApiError shuttingDownError(std::string message);
ApiError serverError(std::string message);

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_APIERROR_H
