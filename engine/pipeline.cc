// engine/pipeline.cc: the oneTBB implementation of run_pipeline.
#include "engine/pipeline.h"

#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <sstream>

#include "kernels/secure_memory.h"

namespace layercrypt {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMinChunkSize = size_t{64} << 10;
constexpr size_t kBufferAlign = 64;

// StageFailed carries a stage's Status through TBB, which cancels the
// pipeline and rethrows it on the thread that called parallel_pipeline.
struct StageFailed {
  Status status;
};

// ChunkPool owns every buffer of one run. Buffers are allocated on first
// use (a one-chunk stream needs one, not max_live_chunks), recycled, and at
// the end wiped as far as they were ever filled (they held plaintext) and
// freed.
class ChunkPool {
 public:
  ChunkPool(size_t count, size_t buffer_size) : buffer_size_(buffer_size), capacity_(count) {
    slots_.reserve(count);
  }
  ~ChunkPool() {
    for (auto& s : slots_) {
      // A buffer still out (the run was cancelled) may be full.
      kernels::secure_wipe(s->data, s->out ? buffer_size_ : std::min(s->filled, buffer_size_));
      ::operator delete(s->data, std::align_val_t(kBufferAlign));
    }
  }
  // take is called by the serial read stage only, so growing needs no lock.
  // The token limit equals the capacity, so a buffer is always available.
  Chunk* take() {
    Chunk* c = nullptr;
    if (free_.try_pop(c)) {
      static_cast<Slot*>(c)->out = true;
      return c;
    }
    if (slots_.size() == capacity_) throw StageFailed{Internal("pipeline buffer pool exhausted")};
    auto slot = std::make_unique<Slot>();
    slot->data = static_cast<uint8_t*>(::operator new(buffer_size_, std::align_val_t(kBufferAlign)));
    slot->out = true;
    slots_.push_back(std::move(slot));
    return slots_.back().get();
  }
  // give returns a buffer; it may run on several threads for distinct chunks.
  void give(Chunk* c) {
    Slot* s = static_cast<Slot*>(c);
    s->filled = std::max(s->filled, c->len + 1);  // +1: the read stage's probe byte
    s->out = false;
    free_.push(c);
  }

 private:
  struct Slot : Chunk {
    size_t filled = 0;
    bool out = false;
  };
  size_t buffer_size_;
  size_t capacity_;
  std::vector<std::unique_ptr<Slot>> slots_;
  tbb::concurrent_queue<Chunk*> free_;
};

// Busy-time accounting per stage, updated from worker threads.
struct StageTimer {
  std::atomic<int64_t> ns{0};
};

Status run_stage(const Stage& stage, Chunk& chunk, StageTimer& timer) {
  const auto t0 = Clock::now();
  Status st = stage.run(chunk);
  timer.ns.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(),
                     std::memory_order_relaxed);
  return st;
}

double seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

std::string PipelineStats::to_string() const {
  std::ostringstream out;
  char line[160];
  std::snprintf(line, sizeof line, "pipeline: %llu bytes in %llu chunks of %zu KiB, %.3f s (%.2f GB/s)%s\n",
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
  // More threads than oneTBB's default concurrency (the CPUs this process
  // may use) cannot run at once; asking for them only makes TBB warn on
  // stderr, which a stream processor must keep clean.
  const size_t cpus = static_cast<size_t>(tbb::info::default_concurrency());
  const size_t threads = options.threads ? std::min(options.threads, cpus) : cpus;
  const size_t live = std::max<size_t>(options.max_live_chunks ? options.max_live_chunks
                                                               : 4 * threads, 4);

  std::vector<StageTimer> timers(stages.size());
  StageTimer read_timer;
  uint64_t total = 0, nchunks = 0;
  bool inline_run = false;

  auto finish = [&](Status st) {
    if (stats != nullptr) {
      stats->bytes = total;
      stats->chunks = nchunks;
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

  // Read the first chunk, plus one probe byte, on this thread: a stream
  // that ends within it runs inline without starting TBB (see header).
  auto timed_read = [&](uint8_t* out, size_t cap) -> StatusOr<size_t> {
    const auto t0 = Clock::now();
    auto n = read_full(source, out, cap);
    read_timer.ns.fetch_add(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(),
        std::memory_order_relaxed);
    return n;
  };

  ChunkPool pool(live, chunk_size + 1);
  Chunk* first = pool.take();
  auto n0 = timed_read(first->data, chunk_size + 1);
  if (!n0.ok()) return finish(n0.status());
  if (*n0 <= chunk_size) {
    inline_run = true;
    first->seq = 0;
    first->offset = 0;
    first->len = *n0;
    if (first->len != 0) {
      nchunks = 1;
      total = first->len;
      for (size_t i = 0; i < stages.size(); ++i) {
        Status st = run_stage(stages[i], *first, timers[i]);
        if (!st.ok()) return finish(st);
      }
    }
    pool.give(first);
    return finish(Status::Ok());
  }

  // The stream is longer than one chunk: the probe byte starts chunk 1.
  first->seq = 0;
  first->offset = 0;
  first->len = chunk_size;
  uint8_t carry = first->data[chunk_size];
  bool have_carry = true, first_pending = true, eof = false;
  uint64_t next_seq = 0, next_offset = 0;

  auto input = tbb::make_filter<void, Chunk*>(
      tbb::filter_mode::serial_in_order, [&](tbb::flow_control& fc) -> Chunk* {
        if (first_pending) {
          first_pending = false;
          next_seq = 1;
          next_offset = chunk_size;
          total = chunk_size;
          nchunks = 1;
          return first;
        }
        if (eof) {
          fc.stop();
          return nullptr;
        }
        Chunk* c = pool.take();
        size_t have = 0;
        if (have_carry) {
          c->data[0] = carry;
          have = 1;
          have_carry = false;
        }
        auto n = timed_read(c->data + have, chunk_size - have);
        if (!n.ok()) {
          pool.give(c);
          throw StageFailed{n.status()};
        }
        c->len = have + *n;
        if (c->len < chunk_size) eof = true;
        if (c->len == 0) {
          pool.give(c);
          fc.stop();
          return nullptr;
        }
        c->seq = next_seq++;
        c->offset = next_offset;
        next_offset += c->len;
        total += c->len;
        ++nchunks;
        return c;
      });

  auto chain = std::move(input);
  auto composed = tbb::filter<void, Chunk*>(chain);
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& stage = stages[i];
    StageTimer& timer = timers[i];
    const auto mode = stage.kind == StageKind::kParallel ? tbb::filter_mode::parallel
                                                         : tbb::filter_mode::serial_in_order;
    composed = composed & tbb::make_filter<Chunk*, Chunk*>(mode, [&stage, &timer](Chunk* c) {
      Status st = run_stage(stage, *c, timer);
      if (!st.ok()) throw StageFailed{std::move(st)};
      return c;
    });
  }
  auto release = tbb::make_filter<Chunk*, void>(tbb::filter_mode::parallel,
                                                 [&pool](Chunk* c) { pool.give(c); });

  try {
    tbb::task_arena arena(static_cast<int>(threads));
    arena.execute([&] { tbb::parallel_pipeline(live, composed & release); });
  } catch (StageFailed& failed) {
    return finish(std::move(failed.status));
  } catch (const std::bad_alloc&) {
    return finish(Internal("out of memory in the layer pipeline"));
  } catch (const std::exception& e) {
    return finish(Internal(std::string("layer pipeline failed: ") + e.what()));
  }
  return finish(Status::Ok());
}

}  // namespace layercrypt
