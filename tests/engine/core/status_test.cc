// tests/engine/core/status_test.cc: Status and StatusOr contracts.
#include "engine/core/status.h"

#include <gtest/gtest.h>

#include <string>

namespace layercrypt {
namespace {

TEST(StatusOr, HoldsAValueOrAnError) {
  StatusOr<int> v(7);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  StatusOr<int> e(DataError("bad"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kDataError);
  EXPECT_EQ(e.status().message(), "bad");
}

TEST(StatusOr, MadeFromAnOkStatusIsAnInternalErrorNeverAValue) {
  // Debug builds stop at the bug; release builds carry it as an error.
  EXPECT_DEBUG_DEATH(
      {
        StatusOr<std::string> s(Status::Ok());
        EXPECT_FALSE(s.ok());
        EXPECT_EQ(s.status().code(), StatusCode::kInternal);
      },
      "OK Status");
}

StatusOr<int> Twice(StatusOr<int> in) {
  LC_ASSIGN_OR_RETURN(int v, std::move(in));
  return 2 * v;
}

TEST(StatusOr, AssignOrReturnPassesErrorsOn) {
  EXPECT_EQ(*Twice(21), 42);
  EXPECT_EQ(Twice(KeyError("no key")).status().code(), StatusCode::kKeyError);
}

}  // namespace
}  // namespace layercrypt
