//===- DTypeTest.cpp - DType names, storage sizes, safetensors names ------===//
#include "birkhoff/DType.h"

#include <gtest/gtest.h>

namespace birkhoff {
namespace {

constexpr DType kAll[] = {DType::F32,    DType::BF16,      DType::F8E4M3,
                          DType::F8E8M0, DType::FP4E2M1x2, DType::I64,
                          DType::I32,    DType::I8};

TEST(DType, StorageBytes) {
  EXPECT_EQ(dtypeStorageBytes(DType::F32), 4);
  EXPECT_EQ(dtypeStorageBytes(DType::BF16), 2);
  EXPECT_EQ(dtypeStorageBytes(DType::F8E4M3), 1);
  EXPECT_EQ(dtypeStorageBytes(DType::F8E8M0), 1);
  EXPECT_EQ(dtypeStorageBytes(DType::FP4E2M1x2), 1); // two values per byte
  EXPECT_EQ(dtypeStorageBytes(DType::I64), 8);
  EXPECT_EQ(dtypeStorageBytes(DType::I32), 4);
  EXPECT_EQ(dtypeStorageBytes(DType::I8), 1);
}

TEST(DType, CanonicalNamesRoundTrip) {
  EXPECT_EQ(dtypeName(DType::F32), "f32");
  EXPECT_EQ(dtypeName(DType::BF16), "bf16");
  EXPECT_EQ(dtypeName(DType::F8E4M3), "f8e4m3");
  EXPECT_EQ(dtypeName(DType::F8E8M0), "f8e8m0");
  EXPECT_EQ(dtypeName(DType::FP4E2M1x2), "fp4e2m1x2");
  EXPECT_EQ(dtypeName(DType::I64), "i64");
  EXPECT_EQ(dtypeName(DType::I32), "i32");
  EXPECT_EQ(dtypeName(DType::I8), "i8");
  for (DType t : kAll) {
    std::optional<DType> back = parseDTypeName(dtypeName(t));
    ASSERT_TRUE(back.has_value()) << dtypeName(t);
    EXPECT_EQ(*back, t);
  }
  EXPECT_FALSE(parseDTypeName("F32").has_value()); // names are lower-case
  EXPECT_FALSE(parseDTypeName("f16").has_value());
  EXPECT_FALSE(parseDTypeName("").has_value());
}

TEST(DType, SafetensorsNames) {
  EXPECT_EQ(safetensorsDTypeName(DType::F32), "F32");
  EXPECT_EQ(safetensorsDTypeName(DType::BF16), "BF16");
  EXPECT_EQ(safetensorsDTypeName(DType::F8E4M3), "F8_E4M3");
  EXPECT_EQ(safetensorsDTypeName(DType::F8E8M0), "F8_E8M0");
  EXPECT_EQ(safetensorsDTypeName(DType::FP4E2M1x2), "I8");
  EXPECT_EQ(safetensorsDTypeName(DType::I64), "I64");
  EXPECT_EQ(safetensorsDTypeName(DType::I32), "I32");
  EXPECT_EQ(safetensorsDTypeName(DType::I8), "I8");
  for (DType t : kAll) {
    std::optional<DType> back = parseSafetensorsDType(safetensorsDTypeName(t));
    ASSERT_TRUE(back.has_value());
    // Packed FP4 is indistinguishable from I8 in a header.
    EXPECT_EQ(*back, t == DType::FP4E2M1x2 ? DType::I8 : t);
  }
  for (const char *other : {"F16", "F64", "BOOL", "U8", "f32", "F8_E5M2", ""})
    EXPECT_FALSE(parseSafetensorsDType(other).has_value()) << other;
}

} // namespace
} // namespace birkhoff
