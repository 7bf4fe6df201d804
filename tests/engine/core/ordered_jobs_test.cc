// tests/engine/ordered_jobs_test.cc: jobs run a few at a time, results are
// taken in order, and the first failure in index order wins.
#include "engine/core/ordered_jobs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace layercrypt {
namespace {

TEST(RunOrdered, DoneInOrderWithBoundedConcurrency) {
  for (size_t jobs : {size_t{1}, size_t{2}, size_t{4}}) {
    std::atomic<int> running{0}, peak{0};
    std::vector<size_t> order;
    const auto main_thread = std::this_thread::get_id();
    const Status st = run_ordered(
        12, jobs,
        [&](size_t k) -> Status {
          const int now = ++running;
          int p = peak.load();
          while (now > p && !peak.compare_exchange_weak(p, now)) {
          }
          // Later jobs finish first, to shuffle completion order.
          std::this_thread::sleep_for(std::chrono::milliseconds(12 - k));
          --running;
          return Status::Ok();
        },
        [&](size_t k) -> Status {
          EXPECT_EQ(std::this_thread::get_id(), main_thread);
          order.push_back(k);
          return Status::Ok();
        });
    ASSERT_TRUE(st.ok());
    std::vector<size_t> want(12);
    for (size_t k = 0; k < 12; ++k) want[k] = k;
    EXPECT_EQ(order, want) << jobs;
    EXPECT_LE(peak.load(), static_cast<int>(jobs)) << jobs;
    if (jobs > 1) {
      EXPECT_GT(peak.load(), 1) << jobs;
    }
  }
}

TEST(RunOrdered, FirstFailureInIndexOrderAndNothingStartedAfter) {
  std::mutex mu;
  std::vector<size_t> started;
  std::vector<size_t> done;
  const Status st = run_ordered(
      20, 3,
      [&](size_t k) -> Status {
        {
          std::lock_guard<std::mutex> lock(mu);
          started.push_back(k);
        }
        if (k == 5) {
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
          return DataError("job 5");
        }
        if (k == 6) return IoError("job 6");  // fails earlier in time
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return Status::Ok();
      },
      [&](size_t k) -> Status {
        done.push_back(k);
        return Status::Ok();
      });
  EXPECT_EQ(st.code(), StatusCode::kDataError);
  EXPECT_EQ(st.message(), "job 5");
  EXPECT_EQ(done, (std::vector<size_t>{0, 1, 2, 3, 4}));
  // Job 6 failed while job 5 was still running; the run stopped there
  // instead of going on through the other jobs.
  EXPECT_LT(started.size(), size_t{20});
  // A failing `done` stops the run too.
  const Status st2 = run_ordered(
      10, 2, [](size_t) { return Status::Ok(); },
      [](size_t k) { return k == 3 ? Internal("done 3") : Status::Ok(); });
  EXPECT_EQ(st2.message(), "done 3");
}

}  // namespace
}  // namespace layercrypt
