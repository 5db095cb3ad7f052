//===- StopStrings.cpp - Stop strings over streamed text ------------------===//
#include "StopStrings.h"

#include <algorithm>
#include <utility>

namespace birkhoff::serve {

StopStrings::StopStrings(std::vector<std::string> stops) {
  for (std::string &s : stops)
    if (!s.empty())
      stops_.push_back(std::move(s));
}

std::string StopStrings::push(std::string_view text, bool &matched) {
  matched = matched_;
  if (matched_)
    return "";
  held_.append(text);
  if (stops_.empty())
    return std::exchange(held_, std::string());
  // The earliest stop string in the text (the held tail never holds a whole
  // one, so any match ends in the new text).
  size_t first = std::string::npos;
  for (const std::string &s : stops_)
    first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    matched_ = matched = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Keep the longest tail that starts some stop string.
  size_t keep = 0;
  for (const std::string &s : stops_)
    for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n)
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        keep = n;
        break;
      }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStrings::flush() {
  if (matched_)
    return "";
  return std::exchange(held_, std::string());
}

} // namespace birkhoff::serve
