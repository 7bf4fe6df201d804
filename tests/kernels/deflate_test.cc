// tests/kernels/deflate_test.cc: streaming and chunked gzip compression.
// Every output is checked by decompressing it with independent inflaters
// (zlib, the system gzip/pigz/igzip tools, our ISA-L inflater); compressed
// bytes are only ever compared with other outputs of the same run (chunked
// determinism), never with stored golden files.
#include "kernels/deflate.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "kernels/crc32.h"
#include "kernels/inflate.h"
#include "tests/support/corpus.h"
#include "tests/support/test_util.h"

namespace layercrypt::kernels {
namespace {

using layercrypt::testing::Bytes;
using layercrypt::testing::CorpusRng;
using layercrypt::testing::have_tool;
using layercrypt::testing::make_tar_like_corpus;
using layercrypt::testing::random_bytes;
using layercrypt::testing::read_file;
using layercrypt::testing::TempDir;
using layercrypt::testing::write_file;

constexpr size_t kKiB = 1024, kMiB = 1024 * 1024;

// zlib_gunzip decompresses a single gzip member with zlib; fails the test if
// zlib rejects it or if bytes follow the member.
Bytes zlib_gunzip(const Bytes& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
  Bytes out;
  uint8_t buf[1 << 16];
  zs.next_in = const_cast<uint8_t*>(gz.data());
  zs.avail_in = static_cast<uInt>(gz.size());
  int ret;
  do {
    zs.next_out = buf;
    zs.avail_out = sizeof(buf);
    ret = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), buf, buf + (sizeof(buf) - zs.avail_out));
  } while (ret == Z_OK);
  EXPECT_EQ(ret, Z_STREAM_END) << "zlib rejected the stream: " << (zs.msg ? zs.msg : "");
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the member";
  inflateEnd(&zs);
  return out;
}

// isal_gunzip decompresses with our GzipInflater (one-shot buffers).
Bytes isal_gunzip(const Bytes& gz) {
  GzipInflater inf;
  Bytes out;
  Bytes buf(1 << 16);
  size_t pos = 0;
  for (;;) {
    size_t used, w;
    const InflateResult r =
        inf.update(gz.data() + pos, gz.size() - pos, &used, buf.data(), buf.size(), &w);
    pos += used;
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
    if (r == InflateResult::kNeedInput) break;
    if (r != InflateResult::kNeedOutput) {
      ADD_FAILURE() << "GzipInflater: " << inflate_result_name(r);
      return out;
    }
  }
  EXPECT_EQ(inf.finish(), InflateResult::kOk);
  return out;
}

// streaming compresses `in` with a GzipDeflater, feeding pieces of random
// size (up to max_piece) into an output buffer of out_cap bytes.
Bytes streaming(int level, const Bytes& in, size_t max_piece, size_t out_cap, uint64_t seed) {
  CorpusRng r(seed);
  GzipDeflater d;
  EXPECT_EQ(d.init(level), DeflateResult::kOk);
  Bytes out, buf(out_cap);
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = std::min<size_t>(in.size() - pos, 1 + r.below(max_piece));
    const uint8_t* p = in.data() + pos;
    for (;;) {
      size_t used, w;
      const DeflateResult res = d.update(p, n, &used, buf.data(), buf.size(), &w);
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
      p += used;
      n -= used;
      pos += used;
      if (res == DeflateResult::kNeedInput) {
        EXPECT_EQ(n, 0u);
        break;
      }
      if (res != DeflateResult::kNeedOutput) {
        ADD_FAILURE() << deflate_result_name(res);
        return out;
      }
    }
  }
  for (;;) {
    size_t w;
    const DeflateResult res = d.finish(buf.data(), buf.size(), &w);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
    if (res == DeflateResult::kOk) break;
    if (res != DeflateResult::kNeedOutput) {
      ADD_FAILURE() << deflate_result_name(res);
      break;
    }
  }
  EXPECT_EQ(d.total_in(), in.size());
  return out;
}

// ChunkOut is one compressed chunk.
struct ChunkOut {
  Bytes data;
  uint32_t crc = 0;
  size_t in_len = 0;
};

// chunk_spans cuts [0, n) into chunks. empty_tail: a length that is a
// multiple of the chunk size (or 0) gets an extra empty last chunk, as a
// writer reading a pipe produces; otherwise max(1, ceil(n / chunk)) chunks.
std::vector<std::pair<size_t, size_t>> chunk_spans(size_t n, size_t chunk, bool empty_tail) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t pos = 0; pos < n; pos += chunk) spans.emplace_back(pos, std::min(chunk, n - pos));
  if (spans.empty() || (empty_tail && n % chunk == 0)) spans.emplace_back(n, 0);
  return spans;
}

ChunkOut compress_one(DeflateChunker& c, int level, const Bytes& in, size_t off, size_t len,
                      bool last) {
  ChunkOut o;
  o.in_len = len;
  o.data.resize(deflate_chunk_bound(len));
  size_t w = 0;
  const DeflateResult r =
      c.compress(level, in.data() + off, len, last, o.data.data(), o.data.size(), &w, &o.crc);
  EXPECT_EQ(r, DeflateResult::kOk) << deflate_result_name(r);
  EXPECT_LE(w, deflate_chunk_bound(len));
  o.data.resize(w);
  return o;
}

Bytes join(const std::vector<ChunkOut>& chunks, uint64_t total) {
  Bytes out(kGzipHeaderSize);
  gzip_write_header(out.data());
  uint32_t crc = 0;
  for (const auto& c : chunks) {
    out.insert(out.end(), c.data.begin(), c.data.end());
    crc = crc32_combine(crc, c.crc, c.in_len);
  }
  uint8_t trl[kGzipTrailerSize];
  gzip_write_trailer(crc, total, trl);
  out.insert(out.end(), trl, trl + kGzipTrailerSize);
  return out;
}

// chunked compresses `in` in chunks using `threads` threads, each thread
// taking chunk indices from `order` (a permutation) through a shared counter,
// with its own DeflateChunker. Output assembled in chunk order.
Bytes chunked(int level, const Bytes& in, size_t chunk, int threads = 1,
              std::vector<size_t> order = {}, bool empty_tail = false) {
  const auto spans = chunk_spans(in.size(), chunk, empty_tail);
  if (order.empty()) {
    order.resize(spans.size());
    std::iota(order.begin(), order.end(), 0);
  }
  std::vector<ChunkOut> outs(spans.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    DeflateChunker c;
    for (size_t k; (k = next.fetch_add(1)) < order.size();) {
      const size_t i = order[k];
      outs[i] = compress_one(c, level, in, spans[i].first, spans[i].second, i + 1 == spans.size());
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  const Bytes out = join(outs, in.size());
  EXPECT_LE(out.size(), gzip_chunked_bound(in.size(), chunk));
  return out;
}

// ---- system tools --------------------------------------------------------

// tool_gunzip runs `<tool> -dc` on `gz`; returns false if the tool failed.
bool tool_gunzip(const std::string& tool, const Bytes& gz, Bytes* out) {
  TempDir dir;
  write_file(dir.file("in.gz"), gz);
  const std::string cmd =
      tool + " -dc " + dir.file("in.gz") + " > " + dir.file("out") + " 2>" + dir.file("err");
  if (std::system(cmd.c_str()) != 0) {
    const Bytes err = read_file(dir.file("err"));
    ADD_FAILURE() << tool << " -d failed: " << std::string(err.begin(), err.end());
    return false;
  }
  *out = read_file(dir.file("out"));
  return true;
}

void expect_tools_accept(const Bytes& gz, const Bytes& want, const std::string& what) {
  for (const char* tool : {"gzip", "pigz", "igzip"}) {
    if (!have_tool(tool)) {
      ADD_FAILURE() << tool << " not found: apt-get install gzip pigz isal";
      continue;
    }
    Bytes got;
    if (tool_gunzip(tool, gz, &got)) {
      EXPECT_TRUE(got == want) << tool << " " << what;
    }
  }
}

// ---- tests ---------------------------------------------------------------

TEST(GzipHeader, FixedBytesAndIsalAgrees) {
  uint8_t h[kGzipHeaderSize];
  gzip_write_header(h);
  const uint8_t want[kGzipHeaderSize] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  EXPECT_EQ(0, std::memcmp(h, want, sizeof(h)));
  // The streaming compressor lets ISA-L write the header: it must be ours.
  for (int level = 0; level <= 3; ++level) {
    const Bytes gz = streaming(level, Bytes{1, 2, 3}, 3, 4096, 1);
    ASSERT_GE(gz.size(), kGzipHeaderSize + kGzipTrailerSize);
    EXPECT_EQ(0, std::memcmp(gz.data(), h, kGzipHeaderSize)) << level;
  }
  uint8_t t[kGzipTrailerSize];
  gzip_write_trailer(0x04030201u, (uint64_t{7} << 32) | 0x08070605u, t);
  const uint8_t want_t[kGzipTrailerSize] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(0, std::memcmp(t, want_t, sizeof(t)));
}

TEST(DeflateResult, Names) {
  EXPECT_STREQ(deflate_result_name(DeflateResult::kOk), "ok");
  EXPECT_STREQ(deflate_result_name(DeflateResult::kOutputTooSmall), "output-too-small");
  EXPECT_STREQ(deflate_result_name(static_cast<DeflateResult>(200)), "unknown");
}

TEST(Deflate, RoundTripAllLevelsSizesChunkSizes) {
  const Bytes corpus = make_tar_like_corpus(3 * kMiB + 4321, 1);
  for (size_t chunk : {64 * kKiB, 1 * kMiB}) {
    const std::vector<size_t> sizes = {
        0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk + 77, corpus.size()};
    for (int level = 0; level <= 3; ++level) {
      for (size_t n : sizes) {
        SCOPED_TRACE("level " + std::to_string(level) + " chunk " + std::to_string(chunk) +
                     " size " + std::to_string(n));
        const Bytes in(corpus.begin(), corpus.begin() + static_cast<ptrdiff_t>(n));
        const Bytes gz = chunked(level, in, chunk);
        EXPECT_TRUE(zlib_gunzip(gz) == in);
        EXPECT_TRUE(isal_gunzip(gz) == in);
        // Same input, pipe-style ending (empty last chunk when n % chunk == 0).
        const Bytes gz_tail = chunked(level, in, chunk, 1, {}, /*empty_tail=*/true);
        EXPECT_TRUE(zlib_gunzip(gz_tail) == in);
        if (chunk == 64 * kKiB) {  // streaming does not depend on the chunk size
          const Bytes s = streaming(level, in, 200 * kKiB, 128 * kKiB, n);
          EXPECT_TRUE(zlib_gunzip(s) == in);
          EXPECT_TRUE(isal_gunzip(s) == in);
          EXPECT_LE(s.size(), gzip_deflate_bound(n, level));
        }
      }
    }
  }
}

TEST(Deflate, SystemToolsAcceptOurOutput) {
  const Bytes corpus = make_tar_like_corpus(2 * kMiB + 999, 2);
  const size_t chunk = 64 * kKiB;
  for (int level = 0; level <= 3; ++level) {
    for (size_t n : {size_t{0}, size_t{1}, chunk, 2 * chunk + 5, corpus.size()}) {
      const Bytes in(corpus.begin(), corpus.begin() + static_cast<ptrdiff_t>(n));
      const std::string what = "level " + std::to_string(level) + " size " + std::to_string(n);
      expect_tools_accept(chunked(level, in, chunk), in, "chunked " + what);
      expect_tools_accept(chunked(level, in, chunk, 1, {}, true), in, "chunked+empty " + what);
      expect_tools_accept(streaming(level, in, 100 * kKiB, 64 * kKiB, 3), in, "stream " + what);
    }
  }
}

TEST(Deflate, ChunkedOutputIndependentOfThreadsAndOrder) {
  // Levels 0 and 3 only: deflate.h explains why ISA-L's levels 1 and 2 are
  // not byte-reproducible; ChunkedLevels1And2AreValidInAnyOrder covers them.
  const Bytes in = make_tar_like_corpus(4 * kMiB + 100, 3);
  for (int level : {0, 3}) {
    for (size_t chunk : {64 * kKiB, 1 * kMiB}) {
      const Bytes ref = chunked(level, in, chunk, 1);
      const size_t n_chunks = chunk_spans(in.size(), chunk, false).size();
      std::vector<size_t> reversed(n_chunks), shuffled(n_chunks);
      std::iota(reversed.rbegin(), reversed.rend(), 0);
      std::iota(shuffled.begin(), shuffled.end(), 0);
      CorpusRng r(level * 100 + chunk);
      for (size_t i = n_chunks; i > 1; --i) std::swap(shuffled[i - 1], shuffled[r.below(i)]);
      EXPECT_TRUE(chunked(level, in, chunk, 2) == ref) << level << " 2 threads";
      EXPECT_TRUE(chunked(level, in, chunk, 2, reversed) == ref) << level << " 2 reversed";
      EXPECT_TRUE(chunked(level, in, chunk, 8, shuffled) == ref) << level << " 8 shuffled";
      EXPECT_TRUE(chunked(level, in, chunk, 8, reversed) == ref) << level << " 8 reversed";
      EXPECT_TRUE(zlib_gunzip(ref) == in);
    }
  }
}

TEST(Deflate, ChunkedLevels1And2AreValidInAnyOrder) {
  const Bytes in = make_tar_like_corpus(4 * kMiB + 100, 3);
  for (int level : {1, 2}) {
    for (size_t chunk : {64 * kKiB, 1 * kMiB}) {
      const size_t n_chunks = chunk_spans(in.size(), chunk, false).size();
      std::vector<size_t> reversed(n_chunks);
      std::iota(reversed.rbegin(), reversed.rend(), 0);
      EXPECT_TRUE(zlib_gunzip(chunked(level, in, chunk, 1)) == in) << level;
      EXPECT_TRUE(zlib_gunzip(chunked(level, in, chunk, 8, reversed)) == in) << level;
    }
  }
}

TEST(Deflate, ChunkerOutputDoesNotDependOnHistory) {
  // One chunker used for unrelated data first must give the same bytes as a
  // fresh one: no state leaks between calls.
  const Bytes a = make_tar_like_corpus(300 * kKiB, 4), b = make_tar_like_corpus(200 * kKiB, 5);
  for (int level = 0; level <= 3; ++level) {
    DeflateChunker used, fresh;
    compress_one(used, level, a, 0, a.size(), false);
    compress_one(used, (level + 1) % 4, a, 1000, 50000, true);
    const ChunkOut x = compress_one(used, level, b, 0, b.size(), true);
    const ChunkOut y = compress_one(fresh, level, b, 0, b.size(), true);
    // Byte equality where ISA-L is reproducible at all (deflate.h).
    if (level == 0 || level == 3) {
      EXPECT_TRUE(x.data == y.data) << level;
    }
    EXPECT_TRUE(zlib_gunzip(join({x}, b.size())) == b) << level;
    EXPECT_EQ(x.crc, crc32_gzip(0, b.data(), b.size()));
  }
}

TEST(Deflate, IncompressibleInputStaysWithinBounds) {
  const Bytes rnd = random_bytes(2 * kMiB + 17, 6);
  for (int level = 0; level <= 3; ++level) {
    SCOPED_TRACE(level);
    // Whole chunks, including sizes around the 65535-byte stored block limit.
    DeflateChunker c;
    for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{100}, size_t{65534}, size_t{65535},
                     size_t{65536}, size_t{131071}, size_t{131072}, size_t{1} << 20, rnd.size()}) {
      for (bool last : {false, true}) {
        const ChunkOut o = compress_one(c, level, rnd, 0, n, last);
        EXPECT_LE(o.data.size(), deflate_chunk_bound(n)) << n;
      }
    }
    CorpusRng r(level);
    for (int i = 0; i < 200; ++i) {
      const size_t n = r.below(3000);
      compress_one(c, level, rnd, r.below(1000), n, r.percent(50));
    }
    for (size_t chunk : {64 * kKiB, 1 * kMiB}) {
      const Bytes gz = chunked(level, rnd, chunk);
      EXPECT_TRUE(zlib_gunzip(gz) == rnd);
    }
    // Streaming: random pieces, small output buffer.
    const Bytes s = streaming(level, rnd, 300 * kKiB, 1000, 9);
    EXPECT_LE(s.size(), gzip_deflate_bound(rnd.size(), level));
    EXPECT_TRUE(zlib_gunzip(s) == rnd);
  }
}

TEST(Deflate, StreamingTinyPiecesAndTinyOutput) {
  const Bytes in = make_tar_like_corpus(40 * kKiB, 7);
  for (int level = 0; level <= 3; ++level) {
    // 1-byte input pieces, 1-byte output buffer.
    EXPECT_TRUE(zlib_gunzip(streaming(level, in, 1, 1, 1)) == in) << level;
    EXPECT_TRUE(zlib_gunzip(streaming(level, in, 7, 3, 2)) == in) << level;
  }
}

TEST(Deflate, EmptyInputGivesValidMembers) {
  for (int level = 0; level <= 3; ++level) {
    const Bytes s = streaming(level, {}, 1, 64, 1);
    EXPECT_TRUE(zlib_gunzip(s).empty());
    const Bytes c = chunked(level, {}, 64 * kKiB);
    EXPECT_TRUE(zlib_gunzip(c).empty());
    EXPECT_TRUE(isal_gunzip(c).empty());
    // The empty last block is tiny.
    EXPECT_LE(c.size(), kGzipHeaderSize + 5 + kGzipTrailerSize);
  }
}

TEST(Deflate, EmptyNonLastChunkIsHarmless) {
  // An empty non-last chunk (a writer flushing an empty buffer) must still
  // splice into a valid stream.
  const Bytes in = make_tar_like_corpus(100 * kKiB, 8);
  DeflateChunker c;
  std::vector<ChunkOut> parts;
  parts.push_back(compress_one(c, 1, in, 0, 50 * kKiB, false));
  parts.push_back(compress_one(c, 1, in, 50 * kKiB, 0, false));
  parts.push_back(compress_one(c, 1, in, 50 * kKiB, 50 * kKiB, true));
  EXPECT_LE(parts[1].data.size(), 5u);
  EXPECT_TRUE(zlib_gunzip(join(parts, in.size())) == in);
}

TEST(Deflate, BadArguments) {
  DeflateChunker c;
  uint8_t in[16] = {}, out[64];
  size_t w = 99;
  uint32_t crc;
  EXPECT_EQ(c.compress(-1, in, 16, true, out, sizeof(out), &w, &crc), DeflateResult::kBadLevel);
  EXPECT_EQ(w, 0u);
  EXPECT_EQ(c.compress(4, in, 16, true, out, sizeof(out), &w, &crc), DeflateResult::kBadLevel);
  EXPECT_EQ(c.compress(1, in, 16, true, out, deflate_chunk_bound(16) - 1, &w, &crc),
            DeflateResult::kOutputTooSmall);
  EXPECT_EQ(c.compress(1, in, kMaxDeflateChunk + 1, true, out, sizeof(out), &w, &crc),
            DeflateResult::kInputTooLarge);
  EXPECT_EQ(c.compress(1, in, 16, true, out, deflate_chunk_bound(16), &w, nullptr),
            DeflateResult::kOk);

  GzipDeflater d;
  size_t used;
  EXPECT_EQ(d.update(in, 16, &used, out, sizeof(out), &w), DeflateResult::kBadState);
  EXPECT_EQ(d.finish(out, sizeof(out), &w), DeflateResult::kBadState);
  EXPECT_EQ(d.init(7), DeflateResult::kBadLevel);
  EXPECT_EQ(d.update(in, 16, &used, out, sizeof(out), &w), DeflateResult::kBadState);
  ASSERT_EQ(d.init(2), DeflateResult::kOk);
  EXPECT_EQ(d.update(in, 16, &used, out, sizeof(out), &w), DeflateResult::kNeedInput);
  EXPECT_EQ(used, 16u);
  size_t fw;
  ASSERT_EQ(d.finish(out + w, sizeof(out) - w, &fw), DeflateResult::kOk);
  EXPECT_EQ(d.update(in, 16, &used, out, sizeof(out), &w), DeflateResult::kBadState);
  size_t again;
  EXPECT_EQ(d.finish(out, sizeof(out), &again), DeflateResult::kOk);
  EXPECT_EQ(again, 0u);
  // Reuse after init.
  ASSERT_EQ(d.init(0), DeflateResult::kOk);
  EXPECT_EQ(d.total_in(), 0u);
}

TEST(Deflate, ChunkBoundFormula) {
  EXPECT_EQ(deflate_chunk_bound(0), 5u);
  EXPECT_EQ(deflate_chunk_bound(1), 6u);
  EXPECT_EQ(deflate_chunk_bound(65535), 65540u);
  EXPECT_EQ(deflate_chunk_bound(65536), 65546u);
  EXPECT_EQ(gzip_chunked_bound(0, 65536), 10u + 5u + 8u);
}

}  // namespace
}  // namespace layercrypt::kernels
