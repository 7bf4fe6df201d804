// tests/kernels/sha256_mb_test.cc: kernels/sha256_mb.h on every path this
// CPU runs, each lane cross-checked against OpenSSL's one-shot SHA256() and
// HMAC(): block-edge lengths, random lengths and split points per lane,
// lanes of unequal lengths, equal lanes long enough to exercise the grouping
// into interleaved passes, reuse after reset(), moves, and every refusal.
#include "kernels/sha256_mb.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "tests/support/test_util.h"

namespace layercrypt::kernels {
namespace {

using layercrypt::testing::Bytes;
using layercrypt::testing::random_bytes;

std::string hex(const uint8_t* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s;
}

// A lane's kind and key, and the message it is to hash.
struct LaneSpec {
  bool hmac = false;
  Bytes key;
  const uint8_t* msg = nullptr;
  size_t len = 0;
};

std::string reference(const LaneSpec& s) {
  static const uint8_t kEmpty = 0;
  const uint8_t* msg = s.len == 0 ? &kEmpty : s.msg;
  uint8_t out[32];
  if (!s.hmac) {
    SHA256(msg, s.len, out);
  } else {
    unsigned n = 0;
    EXPECT_NE(HMAC(EVP_sha256(), s.key.empty() ? &kEmpty : s.key.data(),
                   static_cast<int>(s.key.size()), msg, s.len, out, &n),
              nullptr);
  }
  return hex(out, 32);
}

bool add_lane(Sha256Lanes& lanes, const LaneSpec& s) {
  return s.hmac ? lanes.add_hmac(s.key.data(), s.key.size()) : lanes.add_sha256();
}

std::string lane_final(Sha256Lanes& lanes, size_t i) {
  uint8_t out[kSha256LanesOutLen];
  if (!lanes.final(i, out, sizeof out)) return "final failed";
  return hex(out, sizeof out);
}

class Sha256LanesTest : public ::testing::TestWithParam<Sha256Path> {
 protected:
  void SetUp() override {
    if (!sha256_path_supported(GetParam()))
      GTEST_SKIP() << "path " << sha256_path_name(GetParam()) << " not supported here";
  }
};

// Feeds every lane its message in random pieces (0 to max_piece bytes per
// lane per call, chosen independently per lane) and checks every result.
void run_random_splits(Sha256Path path, const std::vector<LaneSpec>& specs, std::mt19937& rng,
                       size_t max_piece) {
  Sha256Lanes lanes(path);
  ASSERT_TRUE(lanes.ok());
  for (const auto& s : specs) ASSERT_TRUE(add_lane(lanes, s));
  std::vector<size_t> pos(specs.size(), 0);
  for (;;) {
    bool left = false;
    std::vector<const uint8_t*> d(specs.size());
    std::vector<size_t> n(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      const size_t rest = specs[i].len - pos[i];
      n[i] = rng() % 4 == 0 ? 0 : std::min<size_t>(rest, rng() % (max_piece + 1));
      if (rng() % 8 == 0) n[i] = rest;
      d[i] = n[i] == 0 && rng() % 2 == 0 ? nullptr : specs[i].msg + pos[i];
      pos[i] += n[i];
      left = left || pos[i] < specs[i].len;
    }
    ASSERT_TRUE(lanes.update(d.data(), n.data()));
    if (!left) break;
  }
  for (size_t i = 0; i < specs.size(); ++i)
    EXPECT_EQ(lane_final(lanes, i), reference(specs[i]))
        << "lane " << i
        << (specs[i].hmac ? " hmac key " + std::to_string(specs[i].key.size())
                          : std::string(" sha256"))
        << " len " << specs[i].len;
}

TEST_P(Sha256LanesTest, KnownAnswers) {
  Sha256Lanes lanes(GetParam());
  const std::string jefe = "Jefe";
  ASSERT_TRUE(lanes.add_sha256());
  ASSERT_TRUE(lanes.add_hmac(reinterpret_cast<const uint8_t*>(jefe.data()), jefe.size()));
  const std::string abc = "abc", want = "what do ya want for nothing?";
  const uint8_t* d[2] = {reinterpret_cast<const uint8_t*>(abc.data()),
                         reinterpret_cast<const uint8_t*>(want.data())};
  const size_t n[2] = {abc.size(), want.size()};
  ASSERT_TRUE(lanes.update(d, n));
  // FIPS 180-2 "abc"; RFC 4231 test case 2.
  EXPECT_EQ(lane_final(lanes, 0),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(lane_final(lanes, 1),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_P(Sha256LanesTest, BlockEdgeLengthsAndKeySizes) {
  const Bytes pool = random_bytes(300, 1);
  for (size_t len : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 191, 192, 193}) {
    std::vector<LaneSpec> specs;
    specs.push_back({false, {}, pool.data(), len});
    for (size_t key_len : {0, 1, 32, 63, 64, 65, 200})
      specs.push_back({true, random_bytes(key_len, 100 + key_len), pool.data(), len});
    Sha256Lanes lanes(GetParam());
    for (const auto& s : specs) ASSERT_TRUE(add_lane(lanes, s));
    ASSERT_TRUE(lanes.update_all(pool.data(), len));
    for (size_t i = 0; i < specs.size(); ++i)
      EXPECT_EQ(lane_final(lanes, i), reference(specs[i])) << "len " << len << " lane " << i;
  }
}

TEST_P(Sha256LanesTest, RandomLengthsAndSplitsPerLane) {
  const Bytes pool = random_bytes(1 << 18, 2);
  std::mt19937 rng(3);
  for (int round = 0; round < 60; ++round) {
    const size_t num = 1 + rng() % kSha256MaxLanes;
    std::vector<LaneSpec> specs(num);
    for (auto& s : specs) {
      s.hmac = rng() % 2 == 0;
      if (s.hmac) s.key = random_bytes(rng() % 100, rng());
      s.len = rng() % 5 == 0 ? rng() % 130 : rng() % (pool.size() / 4);
      s.msg = pool.data() + rng() % (pool.size() - s.len + 1);
    }
    const size_t max_piece = round % 3 == 0 ? 200 : 20000;
    SCOPED_TRACE("round " + std::to_string(round));
    run_random_splits(GetParam(), specs, rng, max_piece);
  }
}

// Three equal long lanes (the encrypt pipeline's shape), lanes whose block
// counts differ by one or by many, and more lanes than one interleaved pass
// takes, fed in pieces of up to 1 MiB, so that the grouping of lanes into
// passes runs through all its cases.
TEST_P(Sha256LanesTest, EqualAndUnequalLongLanes) {
  const Bytes pool = random_bytes((size_t{3} << 20) + 4096, 4);
  std::mt19937 rng(5);
  const std::vector<std::vector<size_t>> shapes = {
      {(1 << 20) + 17, (1 << 20) + 17, (1 << 20) + 17},
      {(1 << 20), (1 << 20) - 64 * 5, (1 << 20) - 64 * 40, 3},
      {(1 << 20), 100000},
      {(2 << 20) + 1, 64 * 33, 64 * 32, 64 * 31, 1 << 20}};
  for (const auto& shape : shapes) {
    std::vector<LaneSpec> specs;
    for (size_t i = 0; i < shape.size(); ++i)
      specs.push_back({i % 2 == 1, random_bytes(32, i), pool.data() + 1000 * i, shape[i]});
    run_random_splits(GetParam(), specs, rng, size_t{1} << 20);
  }
}

TEST_P(Sha256LanesTest, UpdateAllMatchesEachLane) {
  const Bytes msg = random_bytes(70000, 6);
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    const size_t len = rng() % msg.size();
    std::vector<LaneSpec> specs = {{true, random_bytes(32, 8), msg.data(), len},
                                   {false, {}, msg.data(), len},
                                   {true, random_bytes(80, 9), msg.data(), len}};
    Sha256Lanes lanes(GetParam());
    for (const auto& s : specs) ASSERT_TRUE(add_lane(lanes, s));
    for (size_t pos = 0; pos < len;) {
      const size_t piece = std::min<size_t>(len - pos, rng() % 5000);
      ASSERT_TRUE(lanes.update_all(msg.data() + pos, piece));
      pos += piece;
    }
    for (size_t i = 0; i < specs.size(); ++i)
      EXPECT_EQ(lane_final(lanes, i), reference(specs[i])) << "len " << len;
  }
}

TEST_P(Sha256LanesTest, ResetRestartsWithTheSameKeys) {
  const Bytes a = random_bytes(5000, 10), b = random_bytes(777, 11);
  const Bytes key = random_bytes(32, 12);
  Sha256Lanes lanes(GetParam());
  ASSERT_TRUE(lanes.add_hmac(key.data(), key.size()));
  ASSERT_TRUE(lanes.add_sha256());
  ASSERT_TRUE(lanes.update_all(a.data(), 1000));  // abandoned halfway
  ASSERT_TRUE(lanes.reset());
  for (const Bytes* m : {&a, &b}) {
    ASSERT_TRUE(lanes.update_all(m->data(), m->size()));
    EXPECT_EQ(lane_final(lanes, 0), reference({true, key, m->data(), m->size()}));
    EXPECT_EQ(lane_final(lanes, 1), reference({false, {}, m->data(), m->size()}));
    ASSERT_TRUE(lanes.reset());
  }
  // Lanes may be added again after reset().
  EXPECT_TRUE(lanes.add_sha256());
  EXPECT_EQ(lanes.num_lanes(), 3u);
}

TEST_P(Sha256LanesTest, MovedObjectContinues) {
  const Bytes m = random_bytes(3000, 13), key = random_bytes(20, 14);
  Sha256Lanes first(GetParam());
  ASSERT_TRUE(first.add_sha256());
  ASSERT_TRUE(first.add_hmac(key.data(), key.size()));
  ASSERT_TRUE(first.update_all(m.data(), 1001));
  Sha256Lanes second(std::move(first));
  EXPECT_FALSE(first.ok());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_FALSE(first.update_all(m.data(), 1));
  ASSERT_TRUE(second.update_all(m.data() + 1001, m.size() - 1001));
  EXPECT_EQ(lane_final(second, 0), reference({false, {}, m.data(), m.size()}));
  EXPECT_EQ(lane_final(second, 1), reference({true, key, m.data(), m.size()}));
}

TEST_P(Sha256LanesTest, Refusals) {
  const Bytes m = random_bytes(200, 15), key = random_bytes(32, 16);
  Sha256Lanes lanes(GetParam());
  EXPECT_EQ(lanes.path(), sha256_resolve_path(GetParam()));
  EXPECT_FALSE(lanes.add_hmac(nullptr, 5));
  ASSERT_TRUE(lanes.add_sha256());
  ASSERT_TRUE(lanes.add_hmac(nullptr, 0));
  const uint8_t* d[2] = {m.data(), nullptr};
  size_t n[2] = {10, 10};
  EXPECT_FALSE(lanes.update(d, n)) << "null piece with a length";
  n[1] = 0;
  ASSERT_TRUE(lanes.update(d, n)) << "null piece of 0 bytes";
  EXPECT_FALSE(lanes.add_sha256()) << "lane added after data";

  uint8_t out[kSha256LanesOutLen];
  EXPECT_FALSE(lanes.final(0, out, sizeof out - 1));
  EXPECT_FALSE(lanes.final(0, nullptr, sizeof out));
  EXPECT_FALSE(lanes.final(2, out, sizeof out));
  ASSERT_TRUE(lanes.final(0, out, sizeof out));
  EXPECT_EQ(hex(out, 32), reference({false, {}, m.data(), 10}));
  EXPECT_FALSE(lanes.final(0, out, sizeof out)) << "finished twice";

  // A call that would feed a finished lane feeds nothing at all.
  n[0] = 5;
  n[1] = 7;
  d[1] = m.data() + 10;
  EXPECT_FALSE(lanes.update(d, n));
  EXPECT_FALSE(lanes.update_all(m.data(), 1));
  n[0] = 0;  // a finished lane may be given 0 bytes
  ASSERT_TRUE(lanes.update(d, n));
  EXPECT_EQ(lane_final(lanes, 1), reference({true, {}, m.data() + 10, 7}));

  Sha256Lanes full(GetParam());
  for (size_t i = 0; i < kSha256MaxLanes; ++i) ASSERT_TRUE(full.add_sha256());
  EXPECT_FALSE(full.add_sha256());
  EXPECT_FALSE(full.add_hmac(key.data(), key.size()));
  EXPECT_EQ(full.num_lanes(), kSha256MaxLanes);
}

INSTANTIATE_TEST_SUITE_P(Paths, Sha256LanesTest,
                         ::testing::Values(Sha256Path::kAuto, Sha256Path::kShaNi,
                                           Sha256Path::kOpenSsl),
                         [](const ::testing::TestParamInfo<Sha256Path>& param_info) {
                           std::string name = sha256_path_name(param_info.param);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(Sha256LanesPaths, AutoPrefersShaNiAndOpenSslIsAlwaysThere) {
  const auto paths = sha256_supported_paths();
  ASSERT_FALSE(paths.empty());
  EXPECT_EQ(paths.back(), Sha256Path::kOpenSsl);
  EXPECT_EQ(sha256_resolve_path(Sha256Path::kAuto), paths.front());
  EXPECT_EQ(Sha256Lanes().path(), paths.front());
  EXPECT_EQ(sha256_resolve_path(Sha256Path::kOpenSsl), Sha256Path::kOpenSsl);
  EXPECT_TRUE(sha256_path_supported(Sha256Path::kAuto));
  // The kernel's own cpuid reading agrees with the compiler's.
  __builtin_cpu_init();
  EXPECT_EQ(sha256_path_supported(Sha256Path::kShaNi),
            __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1"));
  // `layercrypt --version --verbose` reports the path.
  EXPECT_NE(cpu_report().find(std::string("sha256 lanes (kernels/sha256_mb.h): ") +
                              sha256_path_name(paths.front()) + "\n"),
            std::string::npos)
      << cpu_report();
}

}  // namespace
}  // namespace layercrypt::kernels
