// engine/stream/pipeline.cc: the oneTBB implementation of run_pipeline.
#include "engine/stream/pipeline.h"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <thread>

#include "kernels/secure_memory.h"

#if defined(__SANITIZE_THREAD__)  // GCC
#define LAYERCRYPT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)  // clang
#define LAYERCRYPT_TSAN 1
#endif
#endif
#ifdef LAYERCRYPT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace layercrypt {
namespace {

// ThreadSanitizer sees only the synchronisation of code built with it, and
// Debian's oneTBB is not: the ordering its pipeline guarantees (a chunk
// passes the stages one after another; a serial stage handles one chunk at
// a time; parallel_pipeline returns after every stage has finished) would
// be invisible, and every handover of a chunk between threads would be
// reported as a race. These annotations state exactly that ordering, so
// that a report is about our code. They compile to nothing otherwise.
#ifdef LAYERCRYPT_TSAN
void happens_before(const void* sync) { __tsan_release(const_cast<void*>(sync)); }
void happens_after(const void* sync) { __tsan_acquire(const_cast<void*>(sync)); }
#else
void happens_before(const void*) {}
void happens_after(const void*) {}
#endif

using Clock = std::chrono::steady_clock;

constexpr size_t kMinChunkSize = PipelineOptions::kMinChunkSize;
constexpr size_t kBufferAlign = 64;

// A failing stage records its Status in the run's FirstError and throws
// StageFailed, which makes TBB cancel the pipeline and rethrow on the thread
// that called parallel_pipeline. The exception carries no data: oneTBB moves
// it between threads in code ThreadSanitizer cannot see, while FirstError's
// mutex it can.
struct StageFailed {};

class FirstError {
 public:
  // fail keeps `status` unless an earlier failure was kept, and throws.
  [[noreturn]] void fail(Status status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_.ok()) status_ = std::move(status);
    }
    throw StageFailed{};
  }
  Status take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(status_);
  }

 private:
  std::mutex mu_;
  Status status_;
};

// ChunkPool owns every buffer of one run. Buffers are allocated on first
// use (a one-chunk stream needs one, not max_live_chunks), recycled, and at
// the end wiped as far as they were ever filled (they held plaintext) and
// freed.
class ChunkPool {
 public:
  ChunkPool(size_t count, size_t buffer_size, size_t out_size)
      : buffer_size_(buffer_size), out_size_(out_size), capacity_(count) {
    slots_.reserve(count);
    free_.reserve(count);
  }
  // grow raises the buffer limit to `count`; called before the pipeline
  // starts (the first chunk is read with a limit of one).
  void grow(size_t count) {
    capacity_ = std::max(capacity_, count);
    slots_.reserve(capacity_);
    free_.reserve(capacity_);
  }
  ~ChunkPool() {
    // The last give() may have run on another thread.
    std::lock_guard<std::mutex> lock(free_mutex_);
    for (auto& s : slots_) {
      happens_after(static_cast<const Chunk*>(s.get()));  // the stages that last held it
      // A buffer still out (the run was cancelled) may be full.
      kernels::secure_wipe(s->data, s->taken ? buffer_size_ : std::min(s->filled, buffer_size_));
      ::operator delete(s->data, std::align_val_t(kBufferAlign));
      if (s->out != nullptr) {
        kernels::secure_wipe(s->out, s->taken ? out_size_ : std::min(s->out_filled, out_size_));
        ::operator delete(s->out, std::align_val_t(kBufferAlign));
      }
    }
  }
  // take is called by the serial read stage only, so growing needs no lock.
  // When every buffer is out it returns null, or with `wait` sleeps until
  // one is given back. Once the pool is cancelled it returns null.
  Chunk* take(bool wait = false) {
    Chunk* c = pop_free(wait && slots_.size() == capacity_);
    if (c == nullptr) {
      if (slots_.size() == capacity_ || cancelled()) return nullptr;
      auto slot = std::make_unique<Slot>();
      slot->data =
          static_cast<uint8_t*>(::operator new(buffer_size_, std::align_val_t(kBufferAlign)));
      if (out_size_ != 0) {
        slot->out =
            static_cast<uint8_t*>(::operator new(out_size_, std::align_val_t(kBufferAlign)));
        slot->out_cap = out_size_;
      }
      slots_.push_back(std::move(slot));
      c = slots_.back().get();
    }
    Slot* s = static_cast<Slot*>(c);
    s->taken = true;
    s->seq = 0;
    s->offset = 0;
    s->len = 0;
    s->last = false;
    s->out_len = 0;
    s->out_offset = 0;
    s->crc = 0;
    return c;
  }
  // give returns a buffer; it may run on several threads for distinct chunks.
  void give(Chunk* c) {
    Slot* s = static_cast<Slot*>(c);
    s->filled = std::max(s->filled, c->len + 1);  // +1: the read stage's probe byte
    // A stage may have written anywhere in out without setting out_len.
    s->out_filled = c->out != nullptr ? out_size_ : 0;
    s->taken = false;
    // Notified under the lock: the destructor's lock then orders every
    // notification before the condition variable goes (TSan cannot see
    // that TBB's pipeline has finished with it).
    std::lock_guard<std::mutex> lock(free_mutex_);
    free_.push_back(c);
    returned_.notify_one();
  }
  bool cancelled() {
    std::lock_guard<std::mutex> lock(free_mutex_);
    return cancelled_;
  }
  // cancel wakes a take() that waits, for good: the run has failed, and the
  // buffers still out will not come back.
  void cancel() {
    std::lock_guard<std::mutex> lock(free_mutex_);
    cancelled_ = true;
    returned_.notify_all();
  }

 private:
  struct Slot : Chunk {
    size_t filled = 0;
    size_t out_filled = 0;
    bool taken = false;
  };
  // pop_free returns a returned buffer, or null if none is free; with
  // `wait`, it sleeps until one is or the pool is cancelled. A mutex, not a
  // TBB queue: TBB's allocator would start its runtime even for a stream
  // that never leaves the calling thread.
  Chunk* pop_free(bool wait) {
    std::unique_lock<std::mutex> lock(free_mutex_);
    if (wait) returned_.wait(lock, [this] { return !free_.empty() || cancelled_; });
    if (free_.empty() || cancelled_) return nullptr;
    Chunk* c = free_.back();
    free_.pop_back();
    return c;
  }

  size_t buffer_size_;
  size_t out_size_;
  size_t capacity_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex free_mutex_;
  std::condition_variable returned_;
  std::vector<Chunk*> free_;
  bool cancelled_ = false;
};

// ChunkReader cuts the source into chunks, either of a fixed size or as the
// caller's segments, always one byte ahead so that every chunk knows whether
// it is the last. Called from the serial read stage only.
class ChunkReader {
 public:
  using ReadFn = std::function<StatusOr<size_t>(uint8_t*, size_t)>;
  ChunkReader(ReadFn read, size_t chunk_size, const std::vector<size_t>& segments)
      : read_(std::move(read)), chunk_size_(chunk_size), segments_(segments) {}

  // buffer_size is what a chunk buffer must hold (the probe byte included).
  static size_t buffer_size(size_t chunk_size, const std::vector<size_t>& segments) {
    if (segments.empty()) return chunk_size + 1;
    return *std::max_element(segments.begin(), segments.end()) + 1;
  }

  // next fills `c` with the next chunk and returns true, or returns false at
  // the end of the stream (a fixed-size stream that is empty).
  StatusOr<bool> next(Chunk& c) { return segments_.empty() ? next_fixed(c) : next_segment(c); }
  uint64_t total() const { return offset_; }
  uint64_t chunks() const { return seq_; }

 private:
  StatusOr<bool> next_fixed(Chunk& c) {
    if (done_) return false;
    size_t have = 0;
    if (have_carry_) {
      c.data[0] = carry_;
      have = 1;
      have_carry_ = false;
    }
    auto n = read_(c.data + have, chunk_size_ + 1 - have);
    if (!n.ok()) return n.status();
    size_t len = have + *n;
    if (len > chunk_size_) {
      carry_ = c.data[chunk_size_];
      have_carry_ = true;
      len = chunk_size_;
    } else {
      done_ = true;
      if (len == 0) return false;
    }
    place(c, len, done_);
    return true;
  }

  StatusOr<bool> next_segment(Chunk& c) {
    if (seq_ == segments_.size()) return false;
    const size_t want = segments_[seq_];
    auto n = read_(c.data, want);
    if (!n.ok()) return n.status();
    if (*n != want)
      return DataError("the stream ended after " + std::to_string(offset_ + *n) +
                       " bytes, inside segment " + std::to_string(seq_) + " of " +
                       std::to_string(segments_.size()) + " that should have " +
                       std::to_string(want) + " bytes");
    const bool last = seq_ + 1 == segments_.size();
    if (last) {
      uint8_t probe;
      auto extra = read_(&probe, 1);
      if (!extra.ok()) return extra.status();
      if (*extra != 0)
        return DataError("the stream has bytes beyond the expected " +
                         std::to_string(offset_ + want));
    }
    place(c, want, last);
    return true;
  }

  void place(Chunk& c, size_t len, bool last) {
    c.seq = seq_++;
    c.offset = offset_;
    c.len = len;
    c.last = last;
    offset_ += len;
  }

  ReadFn read_;
  size_t chunk_size_;
  const std::vector<size_t>& segments_;
  uint64_t seq_ = 0, offset_ = 0;
  uint8_t carry_ = 0;
  bool have_carry_ = false, done_ = false;
};

// Busy-time accounting per stage, updated from worker threads.
struct StageTimer {
  std::atomic<int64_t> ns{0};
};

Status run_stage(const Stage& stage, Chunk& chunk, StageTimer& timer) {
  const auto t0 = Clock::now();
  Status st = stage.run(chunk);
  timer.ns.fetch_add(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(),
      std::memory_order_relaxed);
  return st;
}

double seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

// ReadyQueue hands filled chunks from the read-ahead thread to the stages.
class ReadyQueue {
 public:
  void push(Chunk* c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      chunks_.push_back(c);
    }
    cv_.notify_one();
  }
  // close ends the stream: with an error, or OK after the last chunk.
  void close(Status st) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      status_ = std::move(st);
    }
    cv_.notify_one();
  }
  // pop returns the next chunk, or null once the stream is closed and
  // drained (then status() says why).
  Chunk* pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !chunks_.empty() || closed_; });
    if (chunks_.empty()) return nullptr;
    Chunk* c = chunks_.front();
    chunks_.pop_front();
    return c;
  }
  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk*> chunks_;
  bool closed_ = false;
  Status status_;
};

// run_read_ahead runs `stages` on the calling thread, chunk after chunk,
// while a thread of its own reads ahead into the pool's free buffers
// (PipelineOptions::read_ahead). Both sides sleep when they wait.
Status run_read_ahead(ChunkReader& reader, ChunkPool& pool, Chunk* first,
                      const std::vector<Stage>& stages, std::vector<StageTimer>& timers) {
  ReadyQueue ready;
  ready.push(first);
  std::thread read_thread([&] {
    for (;;) {
      Chunk* c = pool.take(/*wait=*/true);
      if (c == nullptr) return ready.close(Internal("the layer pipeline stopped"));
      auto more = reader.next(*c);
      if (!more.ok() || !*more) {
        pool.give(c);
        return ready.close(more.ok() ? Status::Ok() : more.status());
      }
      const bool last = c->last;
      ready.push(c);
      if (last) return ready.close(Status::Ok());
    }
  });
  Status st = Status::Ok();
  while (Chunk* c = ready.pop()) {
    for (size_t i = 0; i < stages.size() && st.ok(); ++i) st = run_stage(stages[i], *c, timers[i]);
    pool.give(c);
    if (!st.ok()) break;
  }
  pool.cancel();  // wakes the reader if it waits for a buffer
  read_thread.join();
  // Chunks read but not run (after a failure) stay taken: the pool wipes
  // them whole when the run ends.
  return st.ok() ? ready.status() : st;
}

}  // namespace

std::string PipelineStats::to_string() const {
  std::ostringstream out;
  char line[160];
  std::snprintf(line, sizeof line,
                "pipeline: %llu bytes in %llu chunks of %zu KiB, %.3f s (%.2f GB/s)%s\n",
                static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(chunks),
                chunk_size >> 10, wall_seconds,
                wall_seconds > 0 ? static_cast<double>(bytes) / wall_seconds / 1e9 : 0.0,
                inline_run ? ", inline" : "");
  out << line;
  std::snprintf(line, sizeof line, "  %-12s busy %.3f s\n", "read", read_seconds);
  out << line;
  for (const StageStats& s : stages) {
    std::snprintf(line, sizeof line, "  %-12s busy %.3f s\n", s.name.c_str(), s.busy_seconds);
    out << line;
  }
  std::snprintf(line, sizeof line, "  live chunks  at most %zu\n", max_live_chunks);
  out << line;
  return out.str();
}

Status run_pipeline(ByteSource& source, const std::vector<Stage>& stages,
                    const PipelineOptions& options, PipelineStats* stats) {
  const auto wall0 = Clock::now();
  const size_t chunk_size = std::max(
      options.chunk_size ? options.chunk_size : PipelineOptions::kDefaultChunkSize, kMinChunkSize);
  // Thread count and token limit are decided after the first chunk: asking
  // oneTBB for its default concurrency starts its runtime (it loads
  // tbbmalloc and reads /proc), which a one-chunk stream never needs.
  size_t threads = 1, live = 1;

  std::vector<StageTimer> timers(stages.size());
  StageTimer read_timer;
  bool inline_run = false;
  auto timed_read = [&](uint8_t* out, size_t cap) -> StatusOr<size_t> {
    const auto t0 = Clock::now();
    auto n = read_full(source, out, cap);
    read_timer.ns.fetch_add(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(),
        std::memory_order_relaxed);
    return n;
  };
  ChunkReader reader(timed_read, chunk_size, options.segments);

  auto finish = [&](Status st) {
    if (stats != nullptr) {
      stats->bytes = reader.total();
      stats->chunks = reader.chunks();
      stats->wall_seconds = std::chrono::duration<double>(Clock::now() - wall0).count();
      stats->read_seconds = seconds(read_timer.ns.load());
      stats->inline_run = inline_run;
      stats->chunk_size = chunk_size;
      stats->max_live_chunks = inline_run ? 1 : live;
      stats->stages.clear();
      for (size_t i = 0; i < stages.size(); ++i)
        stats->stages.push_back({stages[i].name, seconds(timers[i].ns.load())});
    }
    return st;
  };

  ChunkPool pool(1, ChunkReader::buffer_size(chunk_size, options.segments),
                 options.out_buffer_size);

  // The first chunk is read on this thread: a stream that is one chunk long
  // runs inline without starting TBB (see header).
  Chunk* first = pool.take();
  if (first == nullptr) return finish(Internal("pipeline buffer pool exhausted"));
  auto got = reader.next(*first);
  if (!got.ok()) return finish(got.status());
  if (!*got || first->last) {
    inline_run = true;
    if (!*got) {
      // An empty stream: no chunk, unless the caller asked for an empty one.
      if (!options.deliver_empty) {
        pool.give(first);
        return finish(Status::Ok());
      }
      first->last = true;
    }
    for (size_t i = 0; i < stages.size(); ++i) {
      Status st = run_stage(stages[i], *first, timers[i]);
      if (!st.ok()) return finish(st);
    }
    pool.give(first);
    return finish(Status::Ok());
  }

  if (options.read_ahead) {
    live = std::max<size_t>(options.max_live_chunks ? options.max_live_chunks : 8, 2);
    pool.grow(live);
    return finish(run_read_ahead(reader, pool, first, stages, timers));
  }

  // More threads than oneTBB allows (by default its default concurrency, the
  // CPUs this process may use) cannot run; asking for them only makes TBB
  // warn on stderr, which a stream processor must keep clean. A program
  // that raised the limit with a tbb::global_control (tests that show the
  // output does not depend on the thread count) gets what it asks for.
  const size_t cpus = static_cast<size_t>(tbb::info::default_concurrency());
  const size_t allowed = std::max(
      cpus, tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
  threads = options.threads ? std::min(options.threads, allowed) : cpus;
  live = std::max<size_t>(options.max_live_chunks ? options.max_live_chunks : 4 * threads, 4);
  pool.grow(live);

  FirstError errors;
  bool first_pending = true, eof = false;
  // next_chunk is the read stage: the first chunk (already read), then one
  // from the reader per call until the stream ends.
  auto next_chunk = [&](tbb::flow_control& fc) -> Chunk* {
    if (first_pending) {
      first_pending = false;
      return first;
    }
    if (eof) {
      fc.stop();
      return nullptr;
    }
    Chunk* c = pool.take();
    if (c == nullptr) errors.fail(Internal("pipeline buffer pool exhausted"));
    auto more = reader.next(*c);
    if (!more.ok()) {
      pool.give(c);
      errors.fail(more.status());
    }
    if (!*more) {
      pool.give(c);
      fc.stop();
      return nullptr;
    }
    if (c->last) eof = true;
    return c;
  };
  auto input = tbb::make_filter<void, Chunk*>(tbb::filter_mode::serial_in_order,
                                              [&](tbb::flow_control& fc) -> Chunk* {
                                                happens_after(&reader);
                                                Chunk* c = next_chunk(fc);
                                                if (c != nullptr) happens_before(c);
                                                happens_before(&reader);
                                                return c;
                                              });

  auto chain = std::move(input);
  auto composed = tbb::filter<void, Chunk*>(chain);
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& stage = stages[i];
    StageTimer& timer = timers[i];
    const auto mode = stage.kind == StageKind::kParallel ? tbb::filter_mode::parallel
                                                         : tbb::filter_mode::serial_in_order;
    const bool serial = stage.kind != StageKind::kParallel;
    composed = composed &
               tbb::make_filter<Chunk*, Chunk*>(mode, [&stage, &timer, &errors, serial](Chunk* c) {
                 happens_after(c);
                 if (serial) happens_after(&stage);
                 Status st = run_stage(stage, *c, timer);
                 happens_before(&stage);
                 happens_before(c);
                 if (!st.ok()) errors.fail(std::move(st));
                 return c;
               });
  }
  auto release = tbb::make_filter<Chunk*, void>(tbb::filter_mode::parallel, [&pool](Chunk* c) {
    happens_after(c);
    pool.give(c);
  });

  // Everything the stages did happens before run_pipeline returns.
  auto after_pipeline = [&] {
    happens_after(&reader);
    for (const Stage& stage : stages) happens_after(&stage);
  };
  try {
    tbb::task_arena arena(static_cast<int>(threads));
    arena.execute([&] { tbb::parallel_pipeline(live, composed & release); });
    after_pipeline();
  } catch (const StageFailed&) {
    after_pipeline();
    return finish(errors.take());
  } catch (const std::bad_alloc&) {
    return finish(Internal("out of memory in the layer pipeline"));
  } catch (const std::exception& e) {
    return finish(Internal(std::string("layer pipeline failed: ") + e.what()));
  }
  return finish(Status::Ok());
}

}  // namespace layercrypt
