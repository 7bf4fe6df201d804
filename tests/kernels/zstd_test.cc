// tests/kernels/zstd_test.cc: the streaming zstd decompressor against
// libzstd's compressor and the zstd command-line tool.
#include "kernels/zstd.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdio>
#include <string>

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

constexpr size_t kKiB = 1024;

Bytes compress(const Bytes& in, int level, bool checksum) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum ? 1 : 0);
  Bytes out(ZSTD_compressBound(in.size()));
  const size_t n = ZSTD_compress2(c, out.data(), out.size(), in.data(), in.size());
  ZSTD_freeCCtx(c);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// decompress feeds `in` in pieces of `piece` bytes into buffers of `outbuf`
// bytes; returns finish()'s result and the output.
ZstdResult decompress(const Bytes& in, size_t piece, size_t outbuf, Bytes* out) {
  ZstdDecompressor z;
  EXPECT_TRUE(z.ok());
  Bytes buf(outbuf);
  size_t pos = 0;
  out->clear();
  for (;;) {
    const size_t n = std::min(piece, in.size() - pos);
    size_t used, w;
    const ZstdResult r = z.update(in.data() + pos, n, &used, buf.data(), buf.size(), &w);
    out->insert(out->end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
    pos += used;
    if (r == ZstdResult::kNeedOutput) continue;
    if (r != ZstdResult::kNeedInput) return r;
    if (pos == in.size()) break;
  }
  return z.finish();
}

TEST(Zstd, RoundTripInAnyPieces) {
  const Bytes in = make_tar_like_corpus(600 * kKiB + 5, 41);
  for (int level : {1, 3, 19}) {
    const Bytes c = compress(in, level, level == 3);
    for (size_t piece : {size_t{1} << 30, size_t{4096}, size_t{7}}) {
      Bytes out;
      EXPECT_EQ(decompress(c, piece, 65536, &out), ZstdResult::kOk) << level << " " << piece;
      EXPECT_TRUE(out == in) << level << " " << piece;
    }
  }
  Bytes out;
  EXPECT_EQ(decompress(compress(in, 3, true), 1 << 20, 1, &out), ZstdResult::kOk);
  EXPECT_TRUE(out == in);
}

TEST(Zstd, FramesBackToBackAndSkippableFrames) {
  const Bytes a = make_tar_like_corpus(100 * kKiB, 42), b = random_bytes(3000, 43);
  Bytes c = compress(a, 3, true);
  // A skippable frame (magic 0x184D2A50, 4-byte length, payload) in between.
  const uint8_t skip[] = {0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'};
  c.insert(c.end(), std::begin(skip), std::end(skip));
  const Bytes cb = compress(b, 1, false);
  c.insert(c.end(), cb.begin(), cb.end());
  Bytes out;
  EXPECT_EQ(decompress(c, 999, 4096, &out), ZstdResult::kOk);
  Bytes want = a;
  want.insert(want.end(), b.begin(), b.end());
  EXPECT_TRUE(out == want);
  // An empty frame alone is a valid (empty) stream.
  EXPECT_EQ(decompress(compress({}, 3, true), 100, 100, &out), ZstdResult::kOk);
  EXPECT_TRUE(out.empty());
}

TEST(Zstd, CorruptTruncatedTrailingAndEmpty) {
  const Bytes in = make_tar_like_corpus(200 * kKiB, 44);
  const Bytes c = compress(in, 3, true);
  Bytes out;
  // Truncated anywhere.
  for (size_t cut = 0; cut < c.size(); cut += 1 + cut / 4) {
    Bytes t(c.begin(), c.begin() + static_cast<ptrdiff_t>(cut));
    const ZstdResult r = decompress(t, 1000, 4096, &out);
    EXPECT_TRUE(r == ZstdResult::kTruncated || r == ZstdResult::kBadData) << cut;
  }
  // Garbage after the frame, including zero padding.
  for (const Bytes& tail : {Bytes{0}, Bytes(8, 0), Bytes{'x', 'y', 'z', 'w', 1}}) {
    Bytes g = c;
    g.insert(g.end(), tail.begin(), tail.end());
    EXPECT_NE(decompress(g, 1 << 20, 1 << 20, &out), ZstdResult::kOk);
  }
  // A flipped bit in the data is caught by the frame checksum (or the
  // format); it never passes as the original.
  CorpusRng r(45);
  for (int i = 0; i < 100; ++i) {
    Bytes b = c;
    b[r.below(b.size())] ^= static_cast<uint8_t>(1u << r.below(8));
    const ZstdResult res = decompress(b, 1 << 20, 1 << 20, &out);
    if (res == ZstdResult::kOk) {
      EXPECT_FALSE(out == in);
    }
  }
  // Nothing at all is not a zstd stream; errors are sticky until reset.
  ZstdDecompressor z;
  EXPECT_EQ(z.finish(), ZstdResult::kTruncated);
  Bytes buf(16);
  size_t used, w;
  const uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(z.update(junk, sizeof junk, &used, buf.data(), buf.size(), &w), ZstdResult::kBadData);
  EXPECT_FALSE(z.error_text().empty());
  EXPECT_EQ(z.update(c.data(), c.size(), &used, buf.data(), buf.size(), &w), ZstdResult::kBadData);
  z.reset();
  Bytes all;
  size_t pos = 0;
  for (;;) {
    const ZstdResult res =
        z.update(c.data() + pos, c.size() - pos, &used, buf.data(), buf.size(), &w);
    all.insert(all.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
    pos += used;
    if (res != ZstdResult::kNeedOutput) break;
  }
  EXPECT_EQ(z.finish(), ZstdResult::kOk);
  EXPECT_TRUE(all == in);
}

TEST(Zstd, ReadsWhatTheZstdToolWrites) {
  if (!have_tool("zstd")) GTEST_SKIP() << "zstd not installed (apt-get install zstd)";
  TempDir dir;
  const Bytes in = make_tar_like_corpus(300 * kKiB, 46);
  write_file(dir.path() + "/in", in);
  // Two tool runs concatenated: a multi-frame file as `cat a.zst b.zst`.
  ASSERT_EQ(
      std::system(("zstd -q -19 -c " + dir.path() + "/in > " + dir.path() + "/a.zst && " +
                   "zstd -q --no-check -1 -c " + dir.path() + "/in >> " + dir.path() + "/a.zst")
                      .c_str()),
      0);
  Bytes out;
  EXPECT_EQ(decompress(read_file(dir.path() + "/a.zst"), 65536, 65536, &out), ZstdResult::kOk);
  Bytes want = in;
  want.insert(want.end(), in.begin(), in.end());
  EXPECT_TRUE(out == want);
}

// stream_compress runs ZstdCompressor over `in` in pieces of `piece` bytes
// into output buffers of `outbuf` bytes; returns the frame.
Bytes stream_compress(const Bytes& in, int level, int workers, size_t piece, size_t outbuf) {
  ZstdCompressor z;
  EXPECT_TRUE(z.ok());
  EXPECT_EQ(z.start(level, workers), ZstdResult::kOk) << z.error_text();
  Bytes out, buf(outbuf);
  size_t pos = 0, used = 0, w = 0;
  while (pos < in.size()) {
    const size_t n = std::min(piece, in.size() - pos);
    const ZstdResult r = z.update(in.data() + pos, n, &used, buf.data(), buf.size(), &w);
    EXPECT_TRUE(r == ZstdResult::kNeedInput || r == ZstdResult::kNeedOutput) << zstd_result_name(r);
    if (r != ZstdResult::kNeedInput && r != ZstdResult::kNeedOutput) return {};
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
    pos += used;
  }
  for (;;) {
    const ZstdResult r = z.finish(buf.data(), buf.size(), &w);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
    if (r == ZstdResult::kOk) break;
    EXPECT_EQ(r, ZstdResult::kNeedOutput);
    if (r != ZstdResult::kNeedOutput) return {};
  }
  // Finished: finish() stays kOk and writes nothing; update() is an error.
  EXPECT_EQ(z.finish(buf.data(), buf.size(), &w), ZstdResult::kOk);
  EXPECT_EQ(w, 0u);
  uint8_t b = 0;
  EXPECT_EQ(z.update(&b, 1, &used, buf.data(), buf.size(), &w), ZstdResult::kInternalError);
  return out;
}

TEST(ZstdCompressor, OneFrameInAnyPiecesAndAnyWorkerCount) {
  const Bytes in = make_tar_like_corpus(size_t{6} << 20, 47);
  // libzstd's one-shot decompressor reads it back, and the frame's bytes do
  // not depend on the worker count (>= 1), the input pieces or the output
  // buffer size.
  const Bytes one = stream_compress(in, 1, 1, size_t{1} << 20, 1 << 16);
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(ZSTD_findFrameCompressedSize(one.data(), one.size()), one.size());
  Bytes back(in.size() + 1);
  const size_t n = ZSTD_decompress(back.data(), back.size(), one.data(), one.size());
  ASSERT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  back.resize(n);
  EXPECT_TRUE(back == in);
  EXPECT_TRUE(stream_compress(in, 1, 3, 4099, 1 << 16) == one);
  EXPECT_TRUE(stream_compress(in, 1, 2, size_t{8} << 20, 17) == one);
  // Our own decompressor too, with the checksum the frame carries.
  Bytes out;
  EXPECT_EQ(decompress(one, 65536, 65536, &out), ZstdResult::kOk);
  EXPECT_TRUE(out == in);
  // Single-threaded (no workers), and an empty input.
  const Bytes st = stream_compress(in, 3, 0, 65536, 65536);
  EXPECT_EQ(decompress(st, 65536, 65536, &out), ZstdResult::kOk);
  EXPECT_TRUE(out == in);
  const Bytes empty = stream_compress({}, 3, 2, 1, 1);
  EXPECT_EQ(ZSTD_decompress(back.data(), back.size(), empty.data(), empty.size()), 0u);
}

TEST(ZstdCompressor, RefusesLevelsOutOfRangeAndUseBeforeStart) {
  ZstdCompressor z;
  ASSERT_TRUE(z.ok());
  uint8_t in[4] = {1, 2, 3, 4}, out[64];
  size_t used = 0, w = 0;
  EXPECT_EQ(z.update(in, 4, &used, out, sizeof out, &w), ZstdResult::kInternalError);
  EXPECT_EQ(z.start(0, 1), ZstdResult::kInternalError);
  EXPECT_EQ(z.start(kZstdMaxLevel + 1, 1), ZstdResult::kInternalError);
  EXPECT_EQ(z.start(3, -1), ZstdResult::kInternalError);
  EXPECT_FALSE(z.error_text().empty());
  EXPECT_EQ(z.start(kZstdMaxLevel, 2), ZstdResult::kOk);
  EXPECT_TRUE(z.error_text().empty());
}

}  // namespace
}  // namespace layercrypt::kernels
