//===- ProgressTest.cpp - birkhoff/Progress.h and birkhoff/Log.h ----------===//
#include "birkhoff/Progress.h"
#include "birkhoff/Log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace birkhoff {
namespace {

class ProgressTest : public ::testing::Test {
protected:
  void TearDown() override {
    Progress::setTerminal(false);
    Progress::setIntervals(0.5, 10.0);
    setLogLevel(LogLevel::Info);
  }
  static void pause() {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
};

// A task that ends before the first interval shows nothing, on a terminal
// or not: short commands keep their stderr as it was.
TEST_F(ProgressTest, ShortTasksPrintNothing) {
  for (bool terminal : {true, false}) {
    Progress::setTerminal(terminal);
    ::testing::internal::CaptureStderr();
    {
      Progress p("synth: tensors", 100);
      p.add(60);
      p.add(40);
    }
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  }
}

// On a terminal: one line redrawn in place (carriage return, clear to the
// end) with the bar, the share, the amounts and the rate; the last ends it.
TEST_F(ProgressTest, TerminalRedrawsOneLine) {
  Progress::setTerminal(true);
  Progress::setIntervals(0.0, 10.0);
  ::testing::internal::CaptureStderr();
  {
    Progress p("compile: weights", 2000000);
    p.add(500000);
    pause();
    p.add(500000);
    p.finish();
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.front(), '\r') << err;
  EXPECT_NE(err.find("compile: weights  [############............]  50%  "
                     "1.0 MB/2.0 MB"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("MB/s"), std::string::npos) << err;
  EXPECT_NE(err.find("\x1b[K"), std::string::npos) << err;
  EXPECT_EQ(err.back(), '\n') << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err; // one line
}

// Elsewhere: plain lines at the interval, then one that says it is done.
TEST_F(ProgressTest, PlainLinesElsewhere) {
  Progress::setTerminal(false);
  Progress::setIntervals(0.5, 0.0);
  ::testing::internal::CaptureStderr();
  {
    Progress p("compile: CUDA kernels (NVRTC)", 4, Progress::Unit::Items);
    p.add(1);
    pause();
    p.add(1);
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("compile: CUDA kernels (NVRTC) 25% (1/4), "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("compile: CUDA kernels (NVRTC): done, 2/4 in "),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find('\r'), std::string::npos) << err;
}

// --quiet (LogLevel::Error) shows no progress; logf follows the level.
TEST_F(ProgressTest, QuietShowsNothing) {
  Progress::setTerminal(true);
  Progress::setIntervals(0.0, 0.0);
  setLogLevel(LogLevel::Error);
  ::testing::internal::CaptureStderr();
  {
    Progress p("synth: tensors", 10);
    p.add(5);
    pause();
    p.add(5);
  }
  logf(LogLevel::Info, "info\n");
  logf(LogLevel::Warning, "warning\n");
  logf(LogLevel::Error, "error\n");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "error\n");
  setLogLevel(LogLevel::Warning);
  ::testing::internal::CaptureStderr();
  logf(LogLevel::Info, "info\n");
  logf(LogLevel::Warning, "warning\n");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "warning\n");
}

TEST(LogLevel, ParsesItsNames) {
  EXPECT_EQ(parseLogLevel("error"), LogLevel::Error);
  EXPECT_EQ(parseLogLevel("warning"), LogLevel::Warning);
  EXPECT_EQ(parseLogLevel("info"), LogLevel::Info);
  EXPECT_EQ(parseLogLevel("debug"), LogLevel::Debug);
  EXPECT_FALSE(parseLogLevel("verbose").has_value());
}

} // namespace
} // namespace birkhoff
