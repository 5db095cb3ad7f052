//===- CliTest.cpp - tools/birkhoff/Cli.h ---------------------------------===//
#include "Cli.h"

#include <gtest/gtest.h>

#include <climits>
#include <memory>
#include <string>
#include <vector>

namespace birkhoff::tools::cli {
namespace {

/// What the test command's options hold after a parse.
struct Values {
  std::string artifact, text, choice = "a";
  int64_t count = 7, wide = 0;
  std::optional<int64_t> given;
  double real = 1.5;
  std::optional<double> open;
  std::vector<int64_t> list;
  bool flag = false;
  bool ran = false;
};

// The last parse's, kept for the test to read after runTool returns.
std::shared_ptr<Values> values;

Runner declareTest(CLI::App &app) {
  auto v = std::make_shared<Values>();
  values = v;
  addPositional(app, "artifact", v->artifact, "the input");
  addInt(app, "--count N", v->count, 0, 4096, "a count");
  addInt(app, "--wide N", v->wide, INT64_MIN, INT64_MAX, "any int64");
  addInt(app, "--given N", v->given, 1, 10, "a count given or not",
         "none given");
  addReal(app, "--real R", v->real, {0, 2}, "a real");
  addReal(app, "--open P", v->open, {0, 1, /*minOpen=*/true}, "in (0, 1]", "1");
  addIntList(app, "--list IDS", v->list, 0, kMaxTokenId, "ids");
  addChoice(app, "--choice", v->choice, {"a", "b"}, "a or b");
  addText(app, "-o,--output FILE", v->text, "a file");
  addFlag(app, "--flag", v->flag, "a flag");
  return [v] {
    v->ran = true;
    return 0;
  };
}

const Command kCommands[] = {{"test", "a test command",
                              "birkhoff test <artifact> [options]",
                              "Tests the framework.", declareTest}};

/// `birkhoff ARGS`: the exit status, with stdout and stderr.
struct Result {
  int status;
  std::string out, err;
};

Result run(std::vector<std::string> args) {
  args.insert(args.begin(), "birkhoff");
  std::vector<const char *> argv;
  for (const std::string &a : args)
    argv.push_back(a.c_str());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int status = runTool(kCommands, int(argv.size()), argv.data());
  std::string out = testing::internal::GetCapturedStdout();
  return {status, out, testing::internal::GetCapturedStderr()};
}

TEST(CliValues, IntegersAreBase10AndInRange) {
  EXPECT_EQ(parseInt("10", 0, 10), 10);
  EXPECT_EQ(parseInt("010", 0, 10), 10); // not octal
  EXPECT_EQ(parseInt("-5", -5, 0), -5);
  EXPECT_EQ(parseInt("9223372036854775807", 0, INT64_MAX), INT64_MAX);
  EXPECT_EQ(parseInt("9223372036854775808", 0, INT64_MAX), std::nullopt);
  EXPECT_EQ(parseInt("11", 0, 10), std::nullopt);
  EXPECT_EQ(parseInt("0x10", 0, 100), std::nullopt);
  EXPECT_EQ(parseInt("1e3", 0, 10000), std::nullopt);
  EXPECT_EQ(parseInt("", 0, 10), std::nullopt);
}

TEST(CliValues, ListsNameTheBadItem) {
  EXPECT_EQ(*parseIntList("1,2,3", 0, 9), (std::vector<int64_t>{1, 2, 3}));
  Expected<std::vector<int64_t>> bad = parseIntList("1,x", 0, 9);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.status().message(), "'x' in '1,x' is not an integer in [0, 9]");
  EXPECT_FALSE(parseIntList("1,,2", 0, 9));
  EXPECT_FALSE(parseIntList("", 0, 9));
}

TEST(CliParse, BothFormsOfEveryValue) {
  Result r = run({"test", "in", "--count=5", "--wide", "-9223372036854775808",
                  "--given=3", "--real", "0.25", "--open=0.5", "--list=1,2",
                  "--choice", "b", "-o", "f", "--flag"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(values->ran);
  EXPECT_EQ(values->artifact, "in");
  EXPECT_EQ(values->count, 5);
  EXPECT_EQ(values->wide, INT64_MIN);
  EXPECT_EQ(values->given, 3);
  EXPECT_EQ(values->real, 0.25);
  EXPECT_EQ(values->open, 0.5);
  EXPECT_EQ(values->list, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(values->choice, "b");
  EXPECT_EQ(values->text, "f");
  EXPECT_TRUE(values->flag);
}

TEST(CliParse, DefaultsStayWhenNotGiven) {
  Result r = run({"test", "in"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(values->count, 7);
  EXPECT_EQ(values->given, std::nullopt);
  EXPECT_EQ(values->open, std::nullopt);
  EXPECT_EQ(values->choice, "a");
  EXPECT_FALSE(values->flag);
}

// `--name=` gives the empty value; it never takes the next argument.
TEST(CliParse, AnEmptyValueAfterEqualsIsAValue) {
  Result r = run({"test", "in", "--output=", "--flag"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(values->text, "");
  EXPECT_TRUE(values->flag);
  r = run({"test", "in", "--count="});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--count expects an integer in [0, 4096], got ''"),
            std::string::npos)
      << r.err;
  // After "--", an argument is positional whatever it looks like.
  r = run({"test", "--", "--output="});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(values->artifact, "--output=");
}

TEST(CliParse, TheLastOfARepeatedOptionWins) {
  Result r = run({"test", "in", "--count", "1", "--count=2"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(values->count, 2);
}

/// The first line of a usage error, which is followed by the usage.
std::string firstLine(const Result &r) {
  EXPECT_NE(r.err.find("\nusage: birkhoff test <artifact>"), std::string::npos)
      << r.err;
  return r.err.substr(0, r.err.find('\n'));
}

TEST(CliErrors, ValuesOutsideTheirRange) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"--count", "4097"},
       "--count expects an integer in [0, 4096], got '4097'"},
      {{"--count=4294967297"},
       "--count expects an integer in [0, 4096], got '4294967297'"},
      {{"--count", "x"}, "--count expects an integer in [0, 4096], got 'x'"},
      {{"--wide", "9223372036854775808"},
       "--wide expects an integer in [-9223372036854775808, "
       "9223372036854775807], got '9223372036854775808'"},
      {{"--real", "nan"},
       "--real expects a finite number in [0, 2], got 'nan'"},
      {{"--real", "inf"},
       "--real expects a finite number in [0, 2], got 'inf'"},
      {{"--real", "3"}, "--real expects a finite number in [0, 2], got '3'"},
      {{"--open", "0"}, "--open expects a finite number in (0, 1], got '0'"},
      {{"--list", "1,-1"},
       "--list: '-1' in '1,-1' is not an integer in [0, 2147483647]"},
      {{"--choice", "c"}, "--choice expects a|b, got 'c'"},
  };
  for (const Case &c : cases) {
    std::vector<std::string> args = {"test", "in"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Result r = run(args);
    EXPECT_EQ(r.status, 2) << c.message;
    EXPECT_EQ(firstLine(r), "birkhoff test: " + c.message);
    EXPECT_FALSE(values->ran);
  }
}

TEST(CliErrors, UnknownOptionsMissingValuesAndArguments) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"test", "in", "--bogus"}, "unknown option --bogus"},
      {{"test", "in", "--bogus=3"}, "unknown option --bogus"},
      {{"test", "--bogus"}, "unknown option --bogus"}, // before "required"
      {{"test", "in", "-x"}, "unknown option -x"},
      {{"test", "in", "--count"}, "--count needs a value"},
      {{"test", "in", "-o"}, "--output needs a value"},
      {{"test", "in", "--flag=1"}, "--flag takes no value"},
      {{"test"}, "artifact is required"},
      {{"test", "in", "more"}, "unexpected argument 'more'"},
  };
  for (const Case &c : cases) {
    Result r = run(c.args);
    EXPECT_EQ(r.status, 2) << c.message;
    EXPECT_EQ(firstLine(r), "birkhoff test: " + c.message);
  }
  Result r = run({"nope"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')),
            "birkhoff: unknown command 'nope'");
  EXPECT_EQ(run({}).status, 2);
}

TEST(CliHelp, ListsEveryOptionWithItsDefaultAndRange) {
  Result r = run({"test", "--help"});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  for (const char *text :
       {"usage: birkhoff test <artifact> [options]", "Tests the framework.",
        "  <artifact>", "  --count N", "default: 7; range [0, 4096]",
        "  --given N", "default: none given; range [1, 10]", "  --real R",
        "default: 1.5; range [0, 2]", "default: 1; range (0, 1]",
        "  --list IDS", "default: none; each item in [0, 2147483647]",
        "  --choice a|b", "default: a", "  -o, --output FILE", "  --flag",
        "default: off"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  Result help = run({"help", "test"});
  EXPECT_EQ(help.status, 0);
  EXPECT_EQ(help.out, r.out);
  EXPECT_EQ(run({"help", "nope"}).status, 2);
  Result list = run({"--help"});
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("  test           a test command"), std::string::npos)
      << list.out;
}

} // namespace
} // namespace birkhoff::tools::cli
