// tests/kernels/crc32_test.cc: crc32_gzip against zlib's crc32, and
// crc32_combine against the CRC of the concatenation.
#include "kernels/crc32.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "tests/support/corpus.h"

namespace layercrypt::kernels {
namespace {

using layercrypt::testing::CorpusRng;

std::vector<uint8_t> random_bytes(CorpusRng& r, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(r.next());
  return v;
}

uint32_t zlib_crc(const uint8_t* p, size_t n) { return static_cast<uint32_t>(crc32_z(0, p, n)); }

TEST(Crc32, KnownAnswers) {
  EXPECT_EQ(crc32_gzip(0, nullptr, 0), 0u);
  const char* s = "123456789";
  EXPECT_EQ(crc32_gzip(0, reinterpret_cast<const uint8_t*>(s), 9), 0xcbf43926u);
  const uint8_t a = 'a';
  EXPECT_EQ(crc32_gzip(0, &a, 1), 0xe8b7be43u);
}

TEST(Crc32, MatchesZlibOnRandomSizes) {
  CorpusRng r(7);
  std::vector<size_t> sizes = {0,  1,   2,   3,   7,   8,   15,   16,   31,   32,    63,     64,
                               65, 127, 128, 255, 256, 257, 1023, 1024, 4095, 65536, 1 << 20};
  for (int i = 0; i < 200; ++i) sizes.push_back(r.below(20000));
  for (size_t n : sizes) {
    // Unaligned starts too: ISA-L's folding code has alignment-specific paths.
    const auto buf = random_bytes(r, n + 64);
    const size_t off = r.below(64);
    EXPECT_EQ(crc32_gzip(0, buf.data() + off, n), zlib_crc(buf.data() + off, n)) << n;
  }
}

// ISA-L's CRC paths, exported but not declared in its headers: the
// baseline and the PCLMULQDQ (by8) and VPCLMULQDQ/AVX-512 (by16_10) folds.
// crc32_gzip dispatches to one of them; each is cross-checked here.
extern "C" uint32_t crc32_gzip_refl_base(uint32_t, const unsigned char*, uint64_t);
extern "C" uint32_t crc32_gzip_refl_by8(uint32_t, const unsigned char*, uint64_t);
extern "C" uint32_t crc32_gzip_refl_by16_10(uint32_t, const unsigned char*, uint64_t);

TEST(Crc32, EveryIsaLPathAgreesWithTheBaseline) {
  struct Path {
    const char* name;
    uint32_t (*fn)(uint32_t, const unsigned char*, uint64_t);
    bool runs;
  };
  const Path paths[] = {
      {"base", crc32_gzip_refl_base, true},
      {"by8 (PCLMULQDQ)", crc32_gzip_refl_by8,
       __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1")},
      {"by16_10 (VPCLMULQDQ, AVX-512)", crc32_gzip_refl_by16_10,
       __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vpclmulqdq")},
  };
  CorpusRng r(11);
  std::vector<size_t> sizes = {0, 1, 15, 16, 17, 63, 64, 255, 256, 257, 4096, 65537};
  for (int i = 0; i < 100; ++i) sizes.push_back(r.below(20000));
  int ran = 0;
  for (const Path& p : paths) {
    if (!p.runs) {
      std::printf("ISA-L CRC path %s: this CPU cannot run it\n", p.name);
      continue;
    }
    ++ran;
    for (size_t n : sizes) {
      const auto buf = random_bytes(r, n + 64);
      const size_t off = r.below(64);
      const uint32_t seed = static_cast<uint32_t>(r.below(1u << 31));
      EXPECT_EQ(p.fn(seed, buf.data() + off, n), crc32_gzip_refl_base(seed, buf.data() + off, n))
          << p.name << " " << n;
      EXPECT_EQ(crc32_gzip(0, buf.data() + off, n), p.fn(0, buf.data() + off, n))
          << p.name << " " << n;
    }
  }
  EXPECT_GE(ran, 1);
}

TEST(Crc32, IncrementalEqualsWhole) {
  CorpusRng r(8);
  const auto buf = random_bytes(r, 300000);
  const uint32_t whole = zlib_crc(buf.data(), buf.size());
  for (int trial = 0; trial < 50; ++trial) {
    uint32_t c = 0;
    size_t pos = 0;
    while (pos < buf.size()) {
      const size_t n = std::min<size_t>(buf.size() - pos, r.below(5000));
      c = crc32_gzip(c, buf.data() + pos, n);
      pos += n;
    }
    EXPECT_EQ(c, whole);
  }
}

TEST(Crc32, CombineEqualsWhole) {
  CorpusRng r(9);
  const auto buf = random_bytes(r, 1 << 20);
  const uint32_t whole = crc32_gzip(0, buf.data(), buf.size());
  for (int trial = 0; trial < 100; ++trial) {
    const size_t cut = r.below(buf.size() + 1);
    const uint32_t c1 = crc32_gzip(0, buf.data(), cut);
    const uint32_t c2 = crc32_gzip(0, buf.data() + cut, buf.size() - cut);
    EXPECT_EQ(crc32_combine(c1, c2, buf.size() - cut), whole) << cut;
  }
  // Folding many chunk CRCs in order, as the parallel writer does.
  for (size_t chunk : {size_t{1}, size_t{1000}, size_t{65536}, size_t{100000}}) {
    uint32_t c = 0;
    for (size_t pos = 0; pos < buf.size(); pos += chunk) {
      const size_t n = std::min(chunk, buf.size() - pos);
      if (chunk == 1 && pos > 5000) {  // keep the 1-byte case short
        c = crc32_combine(c, crc32_gzip(0, buf.data() + pos, buf.size() - pos), buf.size() - pos);
        break;
      }
      c = crc32_combine(c, crc32_gzip(0, buf.data() + pos, n), n);
    }
    EXPECT_EQ(c, whole) << chunk;
  }
  EXPECT_EQ(crc32_combine(0x12345678u, 0, 0), 0x12345678u);
  EXPECT_EQ(crc32_combine(0, whole, buf.size()), whole);
}

TEST(Crc32, CombineLongLengthsMatchesZlib) {
  // Lengths beyond 4 GiB only go through the combine math; check against zlib.
  for (uint64_t len2 : {uint64_t{1} << 32, (uint64_t{5} << 32) + 12345, uint64_t{1} << 40}) {
    EXPECT_EQ(crc32_combine(0xdeadbeefu, 0x01234567u, len2),
              static_cast<uint32_t>(
                  crc32_combine64(0xdeadbeefu, 0x01234567u, static_cast<z_off64_t>(len2))));
  }
}

}  // namespace
}  // namespace layercrypt::kernels
