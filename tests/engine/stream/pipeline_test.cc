// tests/engine/pipeline_test.cc: the chunk pipeline's contract: every byte
// once, in order, at its offset; the last flag; segments; the second buffer;
// empty streams; errors; the same with read_ahead.
#include "engine/stream/pipeline.h"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using layercrypt::testing::random_bytes;

constexpr size_t kChunk = 64 << 10;

// Collect records what a serial stage saw.
struct Seen {
  std::vector<uint8_t> bytes;
  std::vector<Chunk> chunks;  // data pointers are not kept valid
};

std::vector<Stage> collecting(Seen* seen) {
  return {{"check", StageKind::kSerialInOrder, [seen](Chunk& c) {
             if (c.seq != seen->chunks.size()) return Internal("out of order");
             if (c.offset != seen->bytes.size()) return Internal("wrong offset");
             seen->bytes.insert(seen->bytes.end(), c.data, c.data + c.len);
             seen->chunks.push_back(c);
             return Status::Ok();
           }}};
}

TEST(Pipeline, EveryByteInOrderAndOnlyTheLastChunkIsLast) {
  for (size_t n : {size_t{1}, kChunk - 1, kChunk, kChunk + 1, 2 * kChunk, 5 * kChunk + 17}) {
    const auto data = random_bytes(n, n);
    MemorySource src(data.data(), data.size());
    Seen seen;
    PipelineOptions po;
    po.chunk_size = kChunk;
    PipelineStats stats;
    ASSERT_TRUE(run_pipeline(src, collecting(&seen), po, &stats).ok()) << n;
    EXPECT_TRUE(seen.bytes == data) << n;
    EXPECT_EQ(stats.bytes, n);
    EXPECT_EQ(seen.chunks.size(), (n + kChunk - 1) / kChunk) << n;
    for (size_t i = 0; i < seen.chunks.size(); ++i) {
      EXPECT_EQ(seen.chunks[i].last, i + 1 == seen.chunks.size()) << n << " chunk " << i;
      if (i + 1 < seen.chunks.size()) {
        EXPECT_EQ(seen.chunks[i].len, kChunk);
      }
    }
  }
}

TEST(Pipeline, EmptyStreamRunsNoStageUnlessAsked) {
  MemorySource src(nullptr, 0);
  Seen seen;
  ASSERT_TRUE(run_pipeline(src, collecting(&seen), {}, nullptr).ok());
  EXPECT_TRUE(seen.chunks.empty());
  PipelineOptions po;
  po.deliver_empty = true;
  Seen again;
  ASSERT_TRUE(run_pipeline(src, collecting(&again), po, nullptr).ok());
  ASSERT_EQ(again.chunks.size(), 1u);
  EXPECT_EQ(again.chunks[0].len, 0u);
  EXPECT_TRUE(again.chunks[0].last);
}

TEST(Pipeline, SegmentsCutTheStreamWhereAsked) {
  const std::vector<size_t> seg = {10, 0, 70000, 5, 200000, 8};
  size_t total = 0;
  for (size_t s : seg) total += s;
  const auto data = random_bytes(total, 3);
  MemorySource src(data.data(), data.size());
  Seen seen;
  PipelineOptions po;
  po.segments = seg;
  ASSERT_TRUE(run_pipeline(src, collecting(&seen), po, nullptr).ok());
  EXPECT_TRUE(seen.bytes == data);
  ASSERT_EQ(seen.chunks.size(), seg.size());
  for (size_t i = 0; i < seg.size(); ++i) {
    EXPECT_EQ(seen.chunks[i].len, seg[i]);
    EXPECT_EQ(seen.chunks[i].last, i + 1 == seg.size());
  }
  // One byte short, or one byte too many: a data error, not a silent cut.
  MemorySource shorter(data.data(), data.size() - 1);
  Seen seen2, seen3;
  Status st = run_pipeline(shorter, collecting(&seen2), po, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kDataError) << st.message();
  auto longer = data;
  longer.push_back(1);
  MemorySource longer_src(longer.data(), longer.size());
  st = run_pipeline(longer_src, collecting(&seen3), po, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kDataError) << st.message();
  EXPECT_NE(st.message().find("beyond"), std::string::npos) << st.message();
}

// A parallel stage writes a transformed copy into the second buffer; a
// serial stage sees it in order. Run with more threads than CPUs.
TEST(Pipeline, SecondBufferCarriesATransformThroughParallelStages) {
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 8);
  const auto data = random_bytes(20 * kChunk + 3, 4);
  for (size_t threads : {1, 2, 8}) {
    MemorySource src(data.data(), data.size());
    std::vector<uint8_t> got;
    PipelineOptions po;
    po.chunk_size = kChunk;
    po.threads = threads;
    po.out_buffer_size = 2 * kChunk;
    std::vector<Stage> stages = {
        {"double", StageKind::kParallel,
         [](Chunk& c) {
           if (c.out == nullptr || c.out_cap != 2 * kChunk || c.out_len != 0)
             return Internal("no fresh second buffer");
           for (size_t i = 0; i < c.len; ++i) c.out[2 * i] = c.out[2 * i + 1] = c.data[i];
           c.out_len = 2 * c.len;
           return Status::Ok();
         }},
        {"collect", StageKind::kSerialInOrder, [&got](Chunk& c) {
           got.insert(got.end(), c.out, c.out + c.out_len);
           return Status::Ok();
         }}};
    ASSERT_TRUE(run_pipeline(src, stages, po, nullptr).ok()) << threads;
    ASSERT_EQ(got.size(), 2 * data.size());
    bool same = true;
    for (size_t i = 0; i < data.size(); ++i)
      same &= got[2 * i] == data[i] && got[2 * i + 1] == data[i];
    EXPECT_TRUE(same) << threads;
  }
}

TEST(Pipeline, AStageErrorStopsTheRunAndIsReturned) {
  const auto data = random_bytes(10 * kChunk, 5);
  MemorySource src(data.data(), data.size());
  std::atomic<int> after{0};
  PipelineOptions po;
  po.chunk_size = kChunk;
  std::vector<Stage> stages = {
      {"fail", StageKind::kSerialInOrder,
       [](Chunk& c) { return c.seq == 3 ? DataError("chunk 3 is bad") : Status::Ok(); }},
      {"count", StageKind::kSerialInOrder, [&after](Chunk& c) {
         if (c.seq >= 3) ++after;
         return Status::Ok();
       }}};
  const Status st = run_pipeline(src, stages, po, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kDataError);
  EXPECT_EQ(st.message(), "chunk 3 is bad");
  EXPECT_EQ(after.load(), 0);
}

// A source that fails after `good` bytes.
class FailingSource : public ByteSource {
 public:
  FailingSource(const std::vector<uint8_t>& data, size_t good) : data_(data), good_(good) {}
  StatusOr<size_t> read(uint8_t* out, size_t cap) override {
    if (pos_ >= good_) return IoError("the disk went away");
    const size_t n = std::min(cap, good_ - pos_);
    std::copy(data_.begin() + pos_, data_.begin() + pos_ + n, out);
    pos_ += n;
    return n;
  }

 private:
  const std::vector<uint8_t>& data_;
  size_t good_, pos_ = 0;
};

// read_ahead: the stages run on the calling thread, in order, with every
// byte, the last flag, segments and the second buffer as in the TBB run;
// the reader stays at most max_live_chunks buffers ahead.
TEST(PipelineReadAhead, SameContractOnTheCallingThread) {
  for (size_t n : {size_t{1}, kChunk, kChunk + 1, 37 * kChunk + 5}) {
    const auto data = random_bytes(n, n + 9);
    MemorySource src(data.data(), data.size());
    Seen seen;
    std::set<const uint8_t*> buffers;
    std::atomic<bool> other_thread{false};
    const auto caller = std::this_thread::get_id();
    std::vector<Stage> stages = collecting(&seen);
    stages.insert(stages.begin(), {"where", StageKind::kParallel, [&](Chunk& c) {
                                     if (std::this_thread::get_id() != caller) other_thread = true;
                                     buffers.insert(c.data);
                                     return Status::Ok();
                                   }});
    PipelineOptions po;
    po.chunk_size = kChunk;
    po.read_ahead = true;
    po.max_live_chunks = 3;
    PipelineStats stats;
    ASSERT_TRUE(run_pipeline(src, stages, po, &stats).ok()) << n;
    EXPECT_TRUE(seen.bytes == data) << n;
    ASSERT_EQ(seen.chunks.size(), (n + kChunk - 1) / kChunk) << n;
    for (size_t i = 0; i < seen.chunks.size(); ++i)
      EXPECT_EQ(seen.chunks[i].last, i + 1 == seen.chunks.size()) << n << " chunk " << i;
    EXPECT_FALSE(other_thread.load()) << n;
    EXPECT_LE(buffers.size(), 3u) << n;
    EXPECT_EQ(stats.bytes, n);
  }
  // Segments and the second buffer.
  const std::vector<size_t> seg = {10, 0, 70000, 5, 200000, 8};
  size_t total = 0;
  for (size_t x : seg) total += x;
  const auto data = random_bytes(total, 11);
  MemorySource src(data.data(), data.size());
  std::vector<uint8_t> got;
  std::vector<size_t> lens;
  PipelineOptions po;
  po.segments = seg;
  po.read_ahead = true;
  po.out_buffer_size = 1 << 20;
  std::vector<Stage> stages = {{"copy", StageKind::kSerialInOrder, [&](Chunk& c) {
                                  std::copy(c.data, c.data + c.len, c.out);
                                  got.insert(got.end(), c.out, c.out + c.len);
                                  lens.push_back(c.len);
                                  return Status::Ok();
                                }}};
  ASSERT_TRUE(run_pipeline(src, stages, po, nullptr).ok());
  EXPECT_TRUE(got == data);
  EXPECT_EQ(lens, seg);
}

// A failing stage stops the run while the reader waits for a buffer, and a
// failing read is returned: neither hangs, and no stage sees a chunk after.
TEST(PipelineReadAhead, ErrorsStopTheRunWithoutHanging) {
  const auto data = random_bytes(64 * kChunk, 12);
  PipelineOptions po;
  po.chunk_size = kChunk;
  po.read_ahead = true;
  po.max_live_chunks = 2;
  int after = 0;
  std::vector<Stage> stages = {{"fail", StageKind::kSerialInOrder,
                                [](Chunk& c) {
                                  if (c.seq == 3) {
                                    // Let the reader fill every buffer and wait for one.
                                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                                    return DataError("chunk 3 is bad");
                                  }
                                  return Status::Ok();
                                }},
                               {"count", StageKind::kSerialInOrder, [&after](Chunk& c) {
                                  if (c.seq >= 3) ++after;
                                  return Status::Ok();
                                }}};
  MemorySource src(data.data(), data.size());
  Status st = run_pipeline(src, stages, po, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kDataError);
  EXPECT_EQ(st.message(), "chunk 3 is bad");
  EXPECT_EQ(after, 0);

  FailingSource failing(data, 5 * kChunk + 100);
  size_t seen = 0;
  std::vector<Stage> count = {{"count", StageKind::kSerialInOrder, [&seen](Chunk& c) {
                                 seen += c.len;
                                 return Status::Ok();
                               }}};
  st = run_pipeline(failing, count, po, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_EQ(st.message(), "the disk went away");
  EXPECT_LE(seen, 5 * kChunk);  // the chunk cut by the error never ran
}

}  // namespace
}  // namespace layercrypt
