// engine/core/ordered_jobs.cc: see ordered_jobs.h.
#include "engine/core/ordered_jobs.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace layercrypt {

Status run_ordered(size_t n, size_t jobs, const std::function<Status(size_t)>& work,
                   const std::function<Status(size_t)>& done) {
  if (jobs <= 1 || n <= 1) {
    for (size_t k = 0; k < n; ++k) {
      LC_RETURN_IF_ERROR(work(k));
      LC_RETURN_IF_ERROR(done(k));
    }
    return Status::Ok();
  }
  std::mutex mu;
  std::condition_variable finished;
  std::vector<std::optional<Status>> results(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  auto worker = [&] {
    for (;;) {
      if (stop.load()) return;
      const size_t k = next.fetch_add(1);
      if (k >= n) return;
      Status st = work(k);
      if (!st.ok()) stop.store(true);
      {
        std::lock_guard<std::mutex> lock(mu);
        results[k] = std::move(st);
      }
      finished.notify_all();
    }
  };
  std::vector<std::thread> threads;
  const size_t count = std::min(jobs, n);
  threads.reserve(count);
  for (size_t t = 0; t < count; ++t) threads.emplace_back(worker);

  Status first = Status::Ok();
  for (size_t k = 0; k < n && first.ok(); ++k) {
    std::unique_lock<std::mutex> lock(mu);
    // A job that was never started (after a failure) has no result; the
    // failure it waits behind has a lower index and is reported first.
    finished.wait(lock, [&] { return results[k].has_value(); });
    Status st = std::move(*results[k]);
    lock.unlock();
    if (st.ok()) st = done(k);
    if (!st.ok()) {
      stop.store(true);
      first = std::move(st);
    }
  }
  for (auto& t : threads) t.join();
  return first;
}

}  // namespace layercrypt
