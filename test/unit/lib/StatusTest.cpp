//===- StatusTest.cpp - Status, Expected and the propagation macros -------===//
#include "birkhoff/Status.h"

#include <gtest/gtest.h>

#include <memory>

namespace birkhoff {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.isOk());
  EXPECT_TRUE(static_cast<bool>(s));
  EXPECT_EQ(s.code(), StatusCode::Ok);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.toString(), "ok");
  EXPECT_TRUE(Status::ok().isOk());
}

TEST(Status, HelpersSetCodeAndMessage) {
  struct Case {
    Status status;
    StatusCode code;
    const char *name;
  } cases[] = {
      {invalidArgument("m"), StatusCode::InvalidArgument, "invalid argument"},
      {notFound("m"), StatusCode::NotFound, "not found"},
      {corrupt("m"), StatusCode::Corrupt, "corrupt"},
      {unsupported("m"), StatusCode::Unsupported, "unsupported"},
      {outOfRange("m"), StatusCode::OutOfRange, "out of range"},
      {ioError("m"), StatusCode::IoError, "I/O error"},
      {internalError("m"), StatusCode::Internal, "internal error"},
  };
  for (const Case &c : cases) {
    EXPECT_FALSE(c.status.isOk());
    EXPECT_FALSE(static_cast<bool>(c.status));
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_STREQ(statusCodeName(c.code), c.name);
    EXPECT_EQ(c.status.toString(), std::string(c.name) + ": m");
  }
  EXPECT_STREQ(statusCodeName(StatusCode::Ok), "ok");
}

TEST(Status, MakeErrorWithOkCodeIsInternal) {
  // An "error" with code Ok would read as success and drop its message.
  Status s = makeError(StatusCode::Ok, "oops");
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::Internal);
  EXPECT_EQ(s.message(), "oops");
}

TEST(Status, WithContextPrefixesAndKeepsCode) {
  Status s = notFound("tensor 'x'").withContext("shard a").withContext("ckpt");
  EXPECT_EQ(s.code(), StatusCode::NotFound);
  EXPECT_EQ(s.message(), "ckpt: shard a: tensor 'x'");
  EXPECT_EQ(s.toString(), "not found: ckpt: shard a: tensor 'x'");
  Status ok = Status::ok().withContext("ignored");
  EXPECT_TRUE(ok.isOk());
  EXPECT_EQ(ok.message(), "");
}

Expected<int> parsePositive(int v) {
  if (v <= 0)
    return outOfRange("value " + std::to_string(v) + " is not positive");
  return v;
}

Status check(int v) {
  BK_RETURN_IF_ERROR(parsePositive(v).status());
  return Status::ok();
}

Expected<int> doubled(int v) {
  BK_ASSIGN_OR_RETURN(int x, parsePositive(v));
  return 2 * x;
}

TEST(Expected, ValueAndError) {
  Expected<int> good = parsePositive(3);
  ASSERT_TRUE(good.isOk());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().isOk());
  Expected<int> bad = parsePositive(-1);
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), StatusCode::OutOfRange);
  EXPECT_EQ(bad.status().message(), "value -1 is not positive");
}

TEST(Expected, HoldsMoveOnlyValues) {
  Expected<std::unique_ptr<int>> e(std::make_unique<int>(7));
  ASSERT_TRUE(e.isOk());
  EXPECT_EQ(**e, 7);
  std::unique_ptr<int> p = e.take();
  EXPECT_EQ(*p, 7);
}

TEST(Macros, PropagateErrorsAndBindValues) {
  EXPECT_TRUE(check(1).isOk());
  Status s = check(0);
  EXPECT_EQ(s.code(), StatusCode::OutOfRange);

  Expected<int> d = doubled(21);
  ASSERT_TRUE(d.isOk());
  EXPECT_EQ(*d, 42);
  Expected<int> e = doubled(-5);
  ASSERT_FALSE(e.isOk());
  EXPECT_EQ(e.status().message(), "value -5 is not positive");
}

} // namespace
} // namespace birkhoff
