// tests/kernels/inflate_test.cc: streaming gzip inflate and chunk inflate.
// Inputs are made at test time: by the gzip/pigz/igzip tools run on corpus
// data, by zlib, by hand-built headers, and by our own chunked compressor;
// corrupt inputs are derived from those by flipping/truncating/appending.
#include "kernels/inflate.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/crc32.h"
#include "kernels/deflate.h"
#include "tests/support/corpus.h"
#include "tests/support/test_util.h"

namespace layercrypt::kernels {
namespace {

using layercrypt::testing::Bytes;
using layercrypt::testing::CorpusRng;
using layercrypt::testing::have_tool;
using layercrypt::testing::make_tar_like_corpus;
using layercrypt::testing::read_file;
using layercrypt::testing::TempDir;
using layercrypt::testing::write_file;

constexpr size_t kKiB = 1024;

// ---- helpers ---------------------------------------------------------------

// tool_gzip compresses `in` with a system tool. The input is a named file, so
// gzip/pigz store FNAME (and MTIME) in the header. Fails the test (with the
// install hint) if the tool is missing.
Bytes tool_gzip(const std::string& cmdline, const Bytes& in) {
  const std::string tool = cmdline.substr(0, cmdline.find(' '));
  if (!have_tool(tool)) {
    ADD_FAILURE() << tool
                  << " not found: apt-get install pigz isal (the project's run "
                     "script installs them)";
    return {};
  }
  TempDir dir;
  write_file(dir.file("layer.tar"), in);
  const std::string cmd = cmdline + " -c " + dir.file("layer.tar") + " > " + dir.file("out.gz");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return read_file(dir.file("out.gz"));
}

// raw_deflate makes raw deflate data with zlib.
Bytes raw_deflate(const Bytes& in, int level = 6) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, in.size()));
  zs.next_in = const_cast<uint8_t*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void put_le32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// zlib_gzip makes a plain gzip member with zlib.
Bytes zlib_gzip(const Bytes& in, int level = 6) {
  Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  const Bytes body = raw_deflate(in, level);
  out.insert(out.end(), body.begin(), body.end());
  put_le32(out, crc32_gzip(0, in.data(), in.size()));
  put_le32(out, static_cast<uint32_t>(in.size()));
  return out;
}

// Outcome of feeding a whole stream through GzipInflater.
struct Outcome {
  InflateResult update = InflateResult::kNeedInput;  // last update() result
  InflateResult finish = InflateResult::kTruncated;
  Bytes out;
  uint64_t members = 0;
  // final: the single verdict (the update error if any, else finish()).
  InflateResult final() const { return update == InflateResult::kNeedInput ? finish : update; }
};

// run feeds `gz` in pieces of 1..max_in bytes into output buffers of out_cap
// bytes (random piece sizes from `seed`; max_in == 1 means byte by byte).
Outcome run(const Bytes& gz, size_t max_in = SIZE_MAX, size_t out_cap = 1 << 16,
            uint64_t seed = 1) {
  CorpusRng r(seed);
  GzipInflater inf;
  Outcome o;
  Bytes buf(out_cap);
  size_t pos = 0;
  do {
    size_t n = gz.size() - pos;
    if (max_in != SIZE_MAX) n = std::min<size_t>(n, 1 + r.below(max_in));
    const uint8_t* p = gz.data() + pos;
    for (;;) {
      size_t used = 0, w = 0;
      o.update = inf.update(p, n, &used, buf.data(), buf.size(), &w);
      EXPECT_LE(used, n);
      EXPECT_LE(w, buf.size());
      o.out.insert(o.out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
      p += used;
      n -= used;
      pos += used;
      if (o.update != InflateResult::kNeedOutput) break;
    }
    if (o.update != InflateResult::kNeedInput) break;
    EXPECT_EQ(n, 0u);
  } while (pos < gz.size());
  o.finish = inf.finish();
  o.members = inf.members();
  if (o.final() == InflateResult::kOk) {
    EXPECT_EQ(inf.total_in(), gz.size());
    EXPECT_EQ(inf.total_out(), o.out.size());
  }
  return o;
}

void expect_ok(const Bytes& gz, const Bytes& want, const std::string& what,
               size_t max_in = SIZE_MAX, size_t out_cap = 1 << 16) {
  const Outcome o = run(gz, max_in, out_cap);
  EXPECT_EQ(o.final(), InflateResult::kOk) << what << ": " << inflate_result_name(o.final());
  EXPECT_TRUE(o.out == want) << what << " (" << o.out.size() << " vs " << want.size() << ")";
}

void expect_error(const Bytes& gz, InflateResult want, const std::string& what) {
  for (size_t max_in : {SIZE_MAX, size_t{1} << 12, size_t{7}}) {
    const Outcome o = run(gz, max_in);
    EXPECT_EQ(o.final(), want) << what << " max_in " << max_in << ": got "
                               << inflate_result_name(o.final());
  }
}

Bytes member_with_all_flags(const Bytes& in, bool good_hcrc) {
  // FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT, built by hand.
  Bytes h = {0x1f, 0x8b, 8, 0x1f, 0x78, 0x56, 0x34, 0x12, 2, 3};
  const Bytes extra = {'L', 'C', 4, 0, 1, 2, 3, 4};  // one subfield "LC", 4 bytes
  h.push_back(static_cast<uint8_t>(extra.size()));
  h.push_back(0);
  h.insert(h.end(), extra.begin(), extra.end());
  for (char c : std::string("layer.tar")) h.push_back(static_cast<uint8_t>(c));
  h.push_back(0);
  for (char c : std::string("a comment, with \xe9 latin-1")) h.push_back(static_cast<uint8_t>(c));
  h.push_back(0);
  uint16_t hcrc = static_cast<uint16_t>(crc32_gzip(0, h.data(), h.size()));
  if (!good_hcrc) hcrc ^= 0x0100;
  h.push_back(static_cast<uint8_t>(hcrc));
  h.push_back(static_cast<uint8_t>(hcrc >> 8));
  const Bytes body = raw_deflate(in);
  h.insert(h.end(), body.begin(), body.end());
  put_le32(h, crc32_gzip(0, in.data(), in.size()));
  put_le32(h, static_cast<uint32_t>(in.size()));
  return h;
}

// ---- tests: valid streams ------------------------------------------------------

TEST(InflateResult, Names) {
  EXPECT_STREQ(inflate_result_name(InflateResult::kOk), "ok");
  EXPECT_STREQ(inflate_result_name(InflateResult::kBadCrc), "bad-crc");
  EXPECT_STREQ(inflate_result_name(InflateResult::kTrailingGarbage), "trailing-garbage");
  EXPECT_STREQ(inflate_result_name(static_cast<InflateResult>(200)), "unknown");
}

TEST(GzipInflate, StreamsFromSystemTools) {
  const Bytes in = make_tar_like_corpus(3 * 1024 * kKiB + 333, 11);
  for (const char* cmd :
       {"gzip -9", "gzip -1", "pigz -6", "pigz -1 -b 128", "igzip -1", "igzip -3", "igzip -0"}) {
    const Bytes gz = tool_gzip(cmd, in);
    if (gz.empty()) continue;
    expect_ok(gz, in, cmd);
  }
  // Empty input through a tool.
  expect_ok(tool_gzip("gzip -6", {}), {}, "gzip empty");
}

TEST(GzipInflate, PiecesAndTinyOutputBuffers) {
  const Bytes in = make_tar_like_corpus(96 * kKiB, 12);
  const Bytes gz9 = tool_gzip("gzip -9", in);  // has FNAME
  const Bytes all = member_with_all_flags(in, true);
  for (const Bytes* gz : {&gz9, &all}) {
    expect_ok(*gz, in, "byte by byte", 1);
    expect_ok(*gz, in, "random pieces", 5000);
    expect_ok(*gz, in, "1-byte output", SIZE_MAX, 1);
    expect_ok(*gz, in, "byte in, 3-byte out", 1, 3);
    expect_ok(*gz, in, "random pieces, 100-byte out", 300, 100);
  }
}

TEST(GzipInflate, AllHeaderFlags) {
  const Bytes in = make_tar_like_corpus(20 * kKiB, 13);
  expect_ok(member_with_all_flags(in, true), in, "all flags");
  // The header CRC is verified, also when the header arrives byte by byte.
  expect_error(member_with_all_flags(in, false), InflateResult::kBadHeader, "bad FHCRC");
  // zlib must agree the hand-built member is valid (guards the test itself).
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
  const Bytes gz = member_with_all_flags(in, true);
  Bytes out(in.size() + 1);
  zs.next_in = const_cast<uint8_t*>(gz.data());
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  inflateEnd(&zs);
}

TEST(GzipInflate, MultiMember) {
  const Bytes a = make_tar_like_corpus(70 * kKiB, 14), b = make_tar_like_corpus(50 * kKiB, 15);
  Bytes two = tool_gzip("gzip -6", a);
  const Bytes gb = zlib_gzip(b, 1);
  two.insert(two.end(), gb.begin(), gb.end());
  Bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  for (size_t max_in : {SIZE_MAX, size_t{1}, size_t{4096}}) {
    const Outcome o = run(two, max_in);
    EXPECT_EQ(o.final(), InflateResult::kOk);
    EXPECT_TRUE(o.out == ab);
    EXPECT_EQ(o.members, 2u);
  }
  // Three members, the middle one empty, the last with every header flag.
  Bytes three = zlib_gzip(a);
  const Bytes empty = zlib_gzip({});
  const Bytes flags = member_with_all_flags(b, true);
  three.insert(three.end(), empty.begin(), empty.end());
  three.insert(three.end(), flags.begin(), flags.end());
  expect_ok(three, ab, "three members");
  expect_ok(three, ab, "three members, bytewise", 1, 7);
}

TEST(GzipInflate, OurChunkedOutput) {
  const Bytes in = make_tar_like_corpus(1024 * kKiB + 5, 16);
  for (int level = 0; level <= 3; ++level) {
    DeflateChunker c;
    Bytes gz(kGzipHeaderSize);
    gzip_write_header(gz.data());
    uint32_t crc = 0;
    const size_t chunk = 64 * kKiB;
    for (size_t pos = 0; pos < in.size(); pos += chunk) {
      const size_t n = std::min(chunk, in.size() - pos);
      Bytes out(deflate_chunk_bound(n));
      size_t w;
      uint32_t ccrc;
      ASSERT_EQ(c.compress(level, in.data() + pos, n, pos + n == in.size(), out.data(), out.size(),
                           &w, &ccrc),
                DeflateResult::kOk);
      gz.insert(gz.end(), out.begin(), out.begin() + static_cast<ptrdiff_t>(w));
      crc = crc32_combine(crc, ccrc, n);
    }
    uint8_t t[kGzipTrailerSize];
    gzip_write_trailer(crc, in.size(), t);
    gz.insert(gz.end(), t, t + kGzipTrailerSize);
    expect_ok(gz, in, "chunked level " + std::to_string(level));
  }
}

// ---- tests: corrupt streams -----------------------------------------------------

TEST(GzipInflate, CorruptTrailer) {
  const Bytes in = make_tar_like_corpus(64 * kKiB, 17);
  const Bytes gz = tool_gzip("gzip -6", in);
  ASSERT_GT(gz.size(), 8u);
  for (size_t i = 0; i < 4; ++i) {
    Bytes bad = gz;
    bad[bad.size() - 8 + i] ^= 0x40;
    expect_error(bad, InflateResult::kBadCrc, "crc byte " + std::to_string(i));
    bad = gz;
    bad[bad.size() - 4 + i] ^= 0x01;
    expect_error(bad, InflateResult::kBadLength, "isize byte " + std::to_string(i));
  }
  // Both wrong: reported as a CRC error.
  Bytes both = gz;
  both[both.size() - 8] ^= 1;
  both[both.size() - 1] ^= 1;
  expect_error(both, InflateResult::kBadCrc, "crc and isize");
  // The second member's trailer is checked too.
  Bytes two = gz;
  Bytes second = zlib_gzip(in);
  second[second.size() - 2] ^= 0x80;
  two.insert(two.end(), second.begin(), second.end());
  expect_error(two, InflateResult::kBadLength, "second member isize");
}

TEST(GzipInflate, FlippedBitsNeverPass) {
  const Bytes in = make_tar_like_corpus(48 * kKiB, 18);
  const Bytes gz = zlib_gzip(in, 6);
  CorpusRng r(19);
  for (int i = 0; i < 300; ++i) {
    Bytes bad = gz;
    // Body only (header errors are covered elsewhere): between header and trailer.
    const size_t pos = 10 + r.below(gz.size() - 18);
    bad[pos] ^= static_cast<uint8_t>(1u << r.below(8));
    const Outcome o = run(bad, i % 3 == 0 ? 1000 : SIZE_MAX);
    const InflateResult f = o.final();
    EXPECT_NE(f, InflateResult::kOk) << "flip at " << pos;
    EXPECT_TRUE(f == InflateResult::kBadData || f == InflateResult::kBadCrc ||
                f == InflateResult::kBadLength || f == InflateResult::kTruncated ||
                f == InflateResult::kTrailingGarbage || f == InflateResult::kBadHeader)
        << inflate_result_name(f);
  }
  // A specific one: an invalid block type (BTYPE = 11) right after the header.
  Bytes bad = gz;
  bad[10] |= 0x06;
  expect_error(bad, InflateResult::kBadData, "BTYPE 3");
}

TEST(GzipInflate, TruncationDetected) {
  const Bytes in = make_tar_like_corpus(40 * kKiB, 20);
  const Bytes one = member_with_all_flags(in, true);
  Bytes two = one;
  const Bytes z = zlib_gzip(in, 1);
  two.insert(two.end(), z.begin(), z.end());
  for (const Bytes* gz : {static_cast<const Bytes*>(&one), static_cast<const Bytes*>(&two)}) {
    std::vector<size_t> cuts;
    for (size_t c = 0; c < 64 && c < gz->size(); ++c) cuts.push_back(c);  // header region
    for (size_t c = 0; c < gz->size(); c += 97) cuts.push_back(c);
    for (size_t c = gz->size() - 24; c < gz->size(); ++c) cuts.push_back(c);  // trailer
    if (gz == &two)
      for (size_t c = one.size() - 10; c < one.size() + 30; ++c)
        if (c != one.size()) cuts.push_back(c);  // around the member boundary
    for (size_t cut : cuts) {
      const Bytes t(gz->begin(), gz->begin() + static_cast<ptrdiff_t>(cut));
      const Outcome o = run(t, cut % 2 ? 13 : SIZE_MAX);
      EXPECT_EQ(o.update, InflateResult::kNeedInput) << "cut " << cut;
      EXPECT_EQ(o.finish, InflateResult::kTruncated) << "cut " << cut;
    }
  }
  // Exactly at the member boundary it is a complete one-member stream.
  const Bytes t(two.begin(), two.begin() + static_cast<ptrdiff_t>(one.size()));
  expect_ok(t, in, "cut at boundary");
}

TEST(GzipInflate, TrailingBytes) {
  const Bytes in = make_tar_like_corpus(30 * kKiB, 21);
  const Bytes gz = zlib_gzip(in);
  auto with = [&](Bytes tail) {
    Bytes b = gz;
    b.insert(b.end(), tail.begin(), tail.end());
    return b;
  };
  expect_error(with({'g', 'a', 'r', 'b', 'a', 'g', 'e'}), InflateResult::kTrailingGarbage, "text");
  expect_error(with({0}), InflateResult::kTrailingGarbage, "one zero");
  expect_error(with(Bytes(512, 0)), InflateResult::kTrailingGarbage, "tar-style zero padding");
  expect_error(with({0x1f, 0x00}), InflateResult::kTrailingGarbage, "half magic");
  expect_error(with({0x1f}), InflateResult::kTruncated, "lone 1f");
  expect_error(with({0x1f, 0x8b}), InflateResult::kTruncated, "magic only");
  expect_error(with({0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}), InflateResult::kTruncated,
               "header only");
  expect_error(with({0x1f, 0x8b, 7}), InflateResult::kBadHeader, "second member CM 7");
  // The output of the complete member is still delivered before the error.
  const Outcome o = run(with({'x'}));
  EXPECT_TRUE(o.out == in);
  EXPECT_EQ(o.members, 1u);
}

TEST(GzipInflate, BadHeaders) {
  const Bytes in = make_tar_like_corpus(8 * kKiB, 22);
  const Bytes gz = zlib_gzip(in);
  Bytes b = gz;
  b[0] = 0x1e;
  expect_error(b, InflateResult::kBadHeader, "magic 0");
  b = gz;
  b[1] = 0x8c;
  expect_error(b, InflateResult::kBadHeader, "magic 1");
  b = gz;
  b[2] = 7;
  expect_error(b, InflateResult::kBadHeader, "CM 7");
  for (uint8_t bit : {0x20, 0x40, 0x80}) {
    b = gz;
    b[3] |= bit;
    expect_error(b, InflateResult::kBadHeader, "reserved flag");
  }
  expect_error({}, InflateResult::kTruncated, "empty input");
  expect_error(Bytes(100, 0), InflateResult::kBadHeader, "zeros");
  // A zlib (RFC 1950) stream is not gzip.
  Bytes zl(compressBound(in.size()));
  uLongf zn = zl.size();
  ASSERT_EQ(compress2(zl.data(), &zn, in.data(), in.size(), 6), Z_OK);
  zl.resize(zn);
  expect_error(zl, InflateResult::kBadHeader, "zlib stream");
}

TEST(GzipInflate, ErrorsAreStickyAndResetClears) {
  const Bytes in = make_tar_like_corpus(8 * kKiB, 23);
  Bytes bad = zlib_gzip(in);
  bad[bad.size() - 8] ^= 1;
  GzipInflater inf;
  Bytes out(in.size() * 2);
  size_t used, w;
  EXPECT_EQ(inf.update(bad.data(), bad.size(), &used, out.data(), out.size(), &w),
            InflateResult::kBadCrc);
  EXPECT_EQ(inf.update(bad.data(), bad.size(), &used, out.data(), out.size(), &w),
            InflateResult::kBadCrc);
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(w, 0u);
  EXPECT_EQ(inf.finish(), InflateResult::kBadCrc);
  inf.reset();
  const Bytes good = zlib_gzip(in);
  EXPECT_EQ(inf.update(good.data(), good.size(), &used, out.data(), out.size(), &w),
            InflateResult::kNeedInput);
  EXPECT_EQ(inf.finish(), InflateResult::kOk);
  EXPECT_EQ(w, in.size());
  EXPECT_EQ(0, std::memcmp(out.data(), in.data(), in.size()));
}

// ---- tests: InflateChunker -------------------------------------------------------

struct Chunks {
  std::vector<Bytes> comp;
  std::vector<size_t> sizes;
  std::vector<uint32_t> crcs;
};

Chunks make_chunks(const Bytes& in, size_t chunk, int level) {
  Chunks cs;
  DeflateChunker c;
  for (size_t pos = 0; pos < in.size() || cs.comp.empty(); pos += chunk) {
    const size_t n = std::min(chunk, in.size() - pos);
    Bytes out(deflate_chunk_bound(n));
    size_t w;
    uint32_t crc;
    EXPECT_EQ(c.compress(level, in.data() + pos, n, pos + n >= in.size(), out.data(), out.size(),
                         &w, &crc),
              DeflateResult::kOk);
    out.resize(w);
    cs.comp.push_back(out);
    cs.sizes.push_back(n);
    cs.crcs.push_back(crc);
    if (pos + n >= in.size()) break;
  }
  return cs;
}

TEST(InflateChunker, EachChunkOnItsOwn) {
  const Bytes in = make_tar_like_corpus(700 * kKiB + 3, 24);
  Bytes rnd(100 * kKiB);
  CorpusRng r(25);
  for (auto& x : rnd) x = static_cast<uint8_t>(r.next());
  Bytes mixed = in;
  mixed.insert(mixed.end(), rnd.begin(), rnd.end());  // stored-block chunks too
  InflateChunker ic;
  for (int level = 0; level <= 3; ++level) {
    const Chunks cs = make_chunks(mixed, 64 * kKiB, level);
    Bytes all;
    // Inflate in reverse order to show independence.
    std::vector<Bytes> outs(cs.comp.size());
    for (size_t i = cs.comp.size(); i-- > 0;) {
      outs[i].resize(cs.sizes[i]);
      size_t w;
      uint32_t crc;
      ASSERT_EQ(ic.inflate(cs.comp[i].data(), cs.comp[i].size(), i + 1 == cs.comp.size(),
                           outs[i].data(), outs[i].size(), &w, &crc),
                InflateResult::kOk)
          << "level " << level << " chunk " << i;
      EXPECT_EQ(w, cs.sizes[i]);
      EXPECT_EQ(crc, cs.crcs[i]);
    }
    for (const auto& o : outs) all.insert(all.end(), o.begin(), o.end());
    EXPECT_TRUE(all == mixed) << level;
  }
  // Empty last chunk.
  const Chunks e = make_chunks({}, 64 * kKiB, 1);
  ASSERT_EQ(e.comp.size(), 1u);
  size_t w = 1;
  uint8_t dummy[1];
  EXPECT_EQ(ic.inflate(e.comp[0].data(), e.comp[0].size(), true, dummy, 0, &w, nullptr),
            InflateResult::kOk);
  EXPECT_EQ(w, 0u);
}

TEST(InflateChunker, Errors) {
  const Bytes in = make_tar_like_corpus(200 * kKiB, 26);
  const Chunks cs = make_chunks(in, 64 * kKiB, 1);
  ASSERT_GE(cs.comp.size(), 3u);
  InflateChunker ic;
  Bytes out(128 * kKiB);
  size_t w;
  const Bytes& mid = cs.comp[0];
  const Bytes& last = cs.comp.back();
  // Wrong `last` flag.
  EXPECT_EQ(ic.inflate(mid.data(), mid.size(), true, out.data(), out.size(), &w, nullptr),
            InflateResult::kTruncated);
  EXPECT_EQ(ic.inflate(last.data(), last.size(), false, out.data(), out.size(), &w, nullptr),
            InflateResult::kBadData);
  // Output too small.
  EXPECT_EQ(ic.inflate(mid.data(), mid.size(), false, out.data(), cs.sizes[0] - 1, &w, nullptr),
            InflateResult::kNeedOutput);
  // Garbage after the final block.
  Bytes g = last;
  g.push_back(0);
  EXPECT_EQ(ic.inflate(g.data(), g.size(), true, out.data(), out.size(), &w, nullptr),
            InflateResult::kTrailingGarbage);
  // Truncations of the last chunk, and of a middle chunk (mid-block cuts are
  // kTruncated; a cut on a block boundary shows as a short output instead).
  for (size_t cut = 0; cut < last.size(); cut += 1 + cut / 8) {
    const InflateResult r = ic.inflate(last.data(), cut, true, out.data(), out.size(), &w, nullptr);
    EXPECT_TRUE(r == InflateResult::kTruncated || r == InflateResult::kBadData)
        << cut << " " << inflate_result_name(r);
  }
  for (size_t cut = 0; cut < mid.size(); cut += 1 + cut / 8) {
    const InflateResult r = ic.inflate(mid.data(), cut, false, out.data(), out.size(), &w, nullptr);
    if (r == InflateResult::kOk) {
      EXPECT_LT(w, cs.sizes[0]) << cut;
    } else {
      EXPECT_TRUE(r == InflateResult::kTruncated || r == InflateResult::kBadData)
          << cut << " " << inflate_result_name(r);
    }
  }
  // Flipped bits: never a silent success with the right size and CRC.
  CorpusRng r(27);
  for (int i = 0; i < 200; ++i) {
    Bytes b = mid;
    b[r.below(b.size())] ^= static_cast<uint8_t>(1u << r.below(8));
    uint32_t crc;
    const InflateResult res =
        ic.inflate(b.data(), b.size(), false, out.data(), out.size(), &w, &crc);
    if (res == InflateResult::kOk) {
      EXPECT_FALSE(w == cs.sizes[0] && crc == cs.crcs[0]);
    }
  }
}

// The boundary check that makes a chunk index safe to follow: a non-last
// chunk is accepted only if it ends exactly where the next block starts. Cut
// 1 to 4 bytes short (inside the empty stored block that ends it), it must
// not pass as a complete chunk, even though every output byte is there.
TEST(InflateChunker, ChunkCutShortOfItsBoundaryIsNotOk) {
  const Bytes in = make_tar_like_corpus(300 * kKiB, 28);
  for (int level = 0; level <= 3; ++level) {
    const Chunks cs = make_chunks(in, 64 * kKiB, level);
    ASSERT_GE(cs.comp.size(), 2u);
    const Bytes& mid = cs.comp[1];
    InflateChunker ic;
    Bytes out(cs.sizes[1]);
    size_t w;
    ASSERT_EQ(ic.inflate(mid.data(), mid.size(), false, out.data(), out.size(), &w, nullptr),
              InflateResult::kOk);
    for (size_t cut = 1; cut <= 4; ++cut) {
      EXPECT_NE(
          ic.inflate(mid.data(), mid.size() - cut, false, out.data(), out.size(), &w, nullptr),
          InflateResult::kOk)
          << "level " << level << " cut " << cut;
    }
  }
}

// A range of a stream that was compressed with history (a streaming gzip)
// starts with matches that reach back before it: on its own it must fail,
// never decode to other bytes.
TEST(InflateChunker, MatchBeforeTheChunkFails) {
  const Bytes in = make_tar_like_corpus(256 * kKiB, 29);
  // Two halves compressed as one stream with a full flush between them would
  // not share history; a sync flush point made by a streaming deflater does.
  GzipDeflater d;
  ASSERT_EQ(d.init(1), DeflateResult::kOk);
  Bytes gz(gzip_deflate_bound(in.size(), 1));
  size_t used, w1, w2;
  ASSERT_EQ(d.update(in.data(), in.size(), &used, gz.data(), gz.size(), &w1),
            DeflateResult::kNeedInput);
  ASSERT_EQ(d.finish(gz.data() + w1, gz.size() - w1, &w2), DeflateResult::kOk);
  gz.resize(w1 + w2);
  // Inflate the deflate data (after the 10-byte header) from byte 0: fine.
  InflateChunker ic;
  Bytes out(in.size());
  size_t w;
  EXPECT_EQ(ic.inflate(gz.data() + 10, gz.size() - 18, true, out.data(), out.size(), &w, nullptr),
            InflateResult::kOk);
  EXPECT_TRUE(Bytes(out.begin(), out.begin() + static_cast<ptrdiff_t>(w)) == in);
  // Started anywhere else it never yields a full, correct copy of a suffix.
  CorpusRng r(30);
  for (int i = 0; i < 100; ++i) {
    const size_t start = 1 + r.below(gz.size() - 19);
    const InflateResult res = ic.inflate(gz.data() + 10 + start, gz.size() - 18 - start, true,
                                         out.data(), out.size(), &w, nullptr);
    if (res == InflateResult::kOk) {
      EXPECT_FALSE(w > 0 && w < in.size() &&
                   std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(w),
                              in.end() - static_cast<ptrdiff_t>(w)))
          << start;
    }
  }
}

TEST(RawInflater, ContinuesFromAChunkBoundaryWithTheHistoryAsDictionary) {
  const Bytes in = make_tar_like_corpus(400 * kKiB + 7, 31);
  const Chunks cs = make_chunks(in, 64 * kKiB, 1);
  ASSERT_GE(cs.comp.size(), 4u);
  // Inflate chunk 0 and 1 on their own, then the rest as one raw stream with
  // the last 32 KiB of output as dictionary, fed in odd pieces.
  const size_t k = 2;
  size_t done = 0;
  for (size_t i = 0; i < k; ++i) done += cs.sizes[i];
  Bytes rest;
  for (size_t i = k; i < cs.comp.size(); ++i)
    rest.insert(rest.end(), cs.comp[i].begin(), cs.comp[i].end());
  RawInflater raw;
  ASSERT_TRUE(raw.reset(in.data(), done));  // longer than 32 KiB: cut to the window
  Bytes out;
  Bytes buf(1000);
  size_t pos = 0;
  InflateResult res = InflateResult::kNeedInput;
  while (pos < rest.size() || res == InflateResult::kNeedOutput) {
    const size_t piece = std::min<size_t>(rest.size() - pos, 777);
    size_t used, w;
    res = raw.update(rest.data() + pos, piece, &used, buf.data(), buf.size(), &w);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(w));
    pos += used;
    ASSERT_TRUE(res == InflateResult::kNeedInput || res == InflateResult::kNeedOutput ||
                res == InflateResult::kOk)
        << inflate_result_name(res);
    if (res == InflateResult::kOk) break;
  }
  EXPECT_EQ(res, InflateResult::kOk);
  EXPECT_TRUE(raw.finished());
  EXPECT_EQ(raw.total_out(), in.size() - done);
  EXPECT_TRUE(out == Bytes(in.begin() + static_cast<ptrdiff_t>(done), in.end()));
  // A byte after the final block is trailing garbage.
  ASSERT_TRUE(raw.reset(in.data(), done));
  rest.push_back(0);
  Bytes big(in.size());
  size_t used, w;
  EXPECT_EQ(raw.update(rest.data(), rest.size(), &used, big.data(), big.size(), &w),
            InflateResult::kTrailingGarbage);
}

TEST(RawInflater, MatchesIntoTheDictionaryNeedIt) {
  // zlib writes a raw deflate stream that references a preset dictionary:
  // the independent implementation decides what "reaching back" means.
  const Bytes dict = make_tar_like_corpus(32 * kKiB, 32);
  Bytes in(dict.begin() + 1000, dict.begin() + 20000);  // all of it in the dictionary
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  ASSERT_EQ(deflateSetDictionary(&z, dict.data(), static_cast<uInt>(dict.size())), Z_OK);
  Bytes comp(deflateBound(&z, in.size()));
  z.next_in = in.data();
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = comp.data();
  z.avail_out = static_cast<uInt>(comp.size());
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  comp.resize(z.total_out);
  deflateEnd(&z);
  ASSERT_LT(comp.size(), in.size() / 10);  // it did use the dictionary

  RawInflater raw;
  Bytes out(in.size());
  size_t used, w;
  ASSERT_TRUE(raw.reset(dict.data(), dict.size()));
  EXPECT_EQ(raw.update(comp.data(), comp.size(), &used, out.data(), out.size(), &w),
            InflateResult::kOk);
  EXPECT_EQ(w, in.size());
  EXPECT_TRUE(out == in);
  ASSERT_TRUE(raw.reset(nullptr, 0));
  EXPECT_EQ(raw.update(comp.data(), comp.size(), &used, out.data(), out.size(), &w),
            InflateResult::kBadData);
  EXPECT_FALSE(raw.finished());
  // InflateChunker has no dictionary: the same stream fails there too.
  InflateChunker ic;
  EXPECT_EQ(ic.inflate(comp.data(), comp.size(), true, out.data(), out.size(), &w, nullptr),
            InflateResult::kBadData);
}

}  // namespace
}  // namespace layercrypt::kernels
