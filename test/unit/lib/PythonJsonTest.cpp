//===- PythonJsonTest.cpp - JSON text as Python's json.dumps writes it ----===//
//
// The expected texts are what CPython 3.11 prints for the same values
// (`json.dumps(v, ensure_ascii=False)`, `repr(float)`).
//
//===----------------------------------------------------------------------===//
#include "birkhoff/PythonJson.h"

#include <gtest/gtest.h>

using namespace birkhoff;
using ojson = nlohmann::ordered_json;

namespace {

TEST(PythonJsonTest, FloatRepr) {
  const std::pair<double, const char *> cases[] = {
      {1.0, "1.0"},
      {0.5, "0.5"},
      {1e-05, "1e-05"},
      {0.0001, "0.0001"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {123456789012345678.0, "1.2345678901234568e+17"},
      {-0.0, "-0.0"},
      {0.0, "0.0"},
      {3.14159, "3.14159"},
      {1.5e300, "1.5e+300"},
      {2.5e-300, "2.5e-300"},
      {100.0, "100.0"},
      {1e22, "1e+22"},
      {0.1 + 0.2, "0.30000000000000004"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {12345.678, "12345.678"},
      {-2.5e-7, "-2.5e-07"},
  };
  for (auto [value, text] : cases)
    EXPECT_EQ(pythonFloatRepr(value), text) << value;
}

TEST(PythonJsonTest, Dumps) {
  ojson v = ojson::parse(
      R"({"b": [1, 2.0, null, true, false, -7, 18446744073709551615],
          "a": {"x": {}, "y": []}, "é": "ü ｜ 😀"})");
  EXPECT_EQ(pythonJsonDumps(v),
            R"({"b": [1, 2.0, null, true, false, -7, 18446744073709551615], )"
            R"("a": {"x": {}, "y": []}, "é": "ü ｜ 😀"})");
}

TEST(PythonJsonTest, StringEscapes) {
  EXPECT_EQ(pythonJsonQuote("x\x01\x7f\u2028\"\\/\b\f\n\r\t\x1f"),
            "\"x\\u0001\x7f\u2028\\\"\\\\/\\b\\f\\n\\r\\t\\u001f\"");
  // Escaping is byte by byte: pieces escaped apart equal the whole.
  std::string pieces;
  appendPythonJsonEscaped(pieces, "a\"\xE4\xBA");
  appendPythonJsonEscaped(pieces, "\xAC\n");
  EXPECT_EQ(pieces, pythonJsonQuote("a\"京\n").substr(1, 8));
}

} // namespace
