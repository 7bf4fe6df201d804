// tests/kernels/sha256_test.cc: kernels/sha256.h against NIST known answers
// and OpenSSL's one-shot EVP_Digest.
#include "kernels/sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <vector>

#include "tests/support/test_util.h"
#include "tests/support/vector_file.h"

namespace layercrypt::kernels {
namespace {

using layercrypt::testing::load_vectors;
using layercrypt::testing::random_bytes;
using layercrypt::testing::to_hex;

std::string openssl_sha256(const uint8_t* p, size_t n) {
  uint8_t d[32];
  unsigned len = 0;
  EXPECT_EQ(EVP_Digest(p, n, d, &len, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(len, 32u);
  return to_hex(d, 32);
}

std::string digest_of(Sha256& h) {
  uint8_t d[kSha256DigestLen];
  EXPECT_TRUE(h.final(d, sizeof(d)));
  return to_hex(d, sizeof(d));
}

TEST(Sha256, NistKnownAnswers) {
  for (const auto& c : load_vectors("sha256_kat.txt")) {
    const auto msg = c.bytes("Msg");
    const uint64_t repeat = c.has("Repeat") ? c.number("Repeat") : 1;
    const std::string want = to_hex(c.bytes("Digest"));

    // Streaming: the repeated unit fed one update at a time.
    Sha256 h;
    ASSERT_TRUE(h.ok());
    for (uint64_t i = 0; i < repeat; ++i) ASSERT_TRUE(h.update(msg.data(), msg.size()));
    EXPECT_EQ(digest_of(h), want) << c.where();

    // One-shot over the expanded message.
    std::vector<uint8_t> full;
    full.reserve(msg.size() * repeat);
    for (uint64_t i = 0; i < repeat; ++i) full.insert(full.end(), msg.begin(), msg.end());
    uint8_t d[kSha256DigestLen];
    ASSERT_TRUE(sha256(full.data(), full.size(), d, sizeof(d)));
    EXPECT_EQ(to_hex(d, sizeof(d)), want) << c.where();
    c.check_all_consumed();
  }
}

const size_t kSizes[] = {0,   1,   55,   56,    63,    64,    65,      127,
                         128, 129, 4095, 65534, 65535, 65536, 1 << 20, 123457};

TEST(Sha256, MatchesOpenSslOneShot) {
  for (size_t n : kSizes) {
    const auto data = random_bytes(n, static_cast<uint32_t>(n) + 1);
    Sha256 h;
    ASSERT_TRUE(h.update(data.data(), data.size()));
    EXPECT_EQ(digest_of(h), openssl_sha256(data.data(), n)) << n;
    uint8_t d[kSha256DigestLen];
    ASSERT_TRUE(sha256(data.data(), n, d, sizeof(d)));
    EXPECT_EQ(to_hex(d, sizeof(d)), openssl_sha256(data.data(), n)) << n;
  }
}

TEST(Sha256, RandomSplitsEqualOneShot) {
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    const size_t n = rng() % (300 * 1024);
    const auto data = random_bytes(n, rng());
    Sha256 h;
    size_t pos = 0;
    while (pos < n) {
      // Mix tiny, block-straddling and large pieces, plus empty updates.
      const size_t cap = (rng() % 4 == 0) ? 70000 : 200;
      const size_t piece = std::min<size_t>(n - pos, rng() % (cap + 1));
      ASSERT_TRUE(h.update(data.data() + pos, piece));
      pos += piece;
    }
    EXPECT_EQ(digest_of(h), openssl_sha256(data.data(), n)) << "round " << round;
  }
}

TEST(Sha256, ResetAndReuse) {
  const auto a = random_bytes(1000, 1), b = random_bytes(777, 2);
  Sha256 h;
  ASSERT_TRUE(h.update(a.data(), a.size()));
  EXPECT_EQ(digest_of(h), openssl_sha256(a.data(), a.size()));
  ASSERT_TRUE(h.reset());
  ASSERT_TRUE(h.update(b.data(), b.size()));
  EXPECT_EQ(digest_of(h), openssl_sha256(b.data(), b.size()));
  // Reset mid-stream discards what was absorbed.
  ASSERT_TRUE(h.reset());
  ASSERT_TRUE(h.update(a.data(), a.size()));
  ASSERT_TRUE(h.reset());
  EXPECT_EQ(digest_of(h), openssl_sha256(nullptr, 0));
}

TEST(Sha256, FinishedObjectRefusesUntilReset) {
  Sha256 h;
  uint8_t d[kSha256DigestLen];
  ASSERT_TRUE(h.final(d, sizeof(d)));
  const uint8_t x = 1;
  EXPECT_FALSE(h.update(&x, 1));
  EXPECT_FALSE(h.final(d, sizeof(d)));
  ASSERT_TRUE(h.reset());
  EXPECT_TRUE(h.update(&x, 1));
}

TEST(Sha256, RejectsShortOutputAndNullData) {
  Sha256 h;
  uint8_t d[kSha256DigestLen] = {};
  EXPECT_FALSE(h.final(d, kSha256DigestLen - 1));
  EXPECT_FALSE(h.update(nullptr, 5));
  EXPECT_TRUE(h.update(nullptr, 0));
  EXPECT_EQ(digest_of(h), openssl_sha256(nullptr, 0));  // the short final did not finish it
  EXPECT_FALSE(sha256(d, 1, d, kSha256DigestLen - 1));
  EXPECT_FALSE(sha256(nullptr, 1, d, sizeof(d)));
  EXPECT_TRUE(sha256(nullptr, 0, d, sizeof(d)));
  EXPECT_EQ(to_hex(d, sizeof(d)), openssl_sha256(nullptr, 0));
}

TEST(Sha256, OneShotOutputMayAliasInput) {
  auto data = random_bytes(100, 9);
  const std::string want = openssl_sha256(data.data(), data.size());
  ASSERT_TRUE(sha256(data.data(), data.size(), data.data(), data.size()));
  EXPECT_EQ(to_hex(data.data(), 32), want);
}

TEST(Sha256, CloneForksState) {
  const auto data = random_bytes(5000, 3);
  Sha256 h, fork;
  ASSERT_TRUE(h.update(data.data(), 2000));
  ASSERT_TRUE(h.clone(&fork));
  EXPECT_FALSE(h.clone(&h));
  ASSERT_TRUE(h.update(data.data() + 2000, 3000));
  EXPECT_EQ(digest_of(fork), openssl_sha256(data.data(), 2000));
  EXPECT_EQ(digest_of(h), openssl_sha256(data.data(), 5000));
  Sha256 unused;
  EXPECT_FALSE(h.clone(&unused));  // h is finished
}

TEST(Sha256, MoveTransfersState) {
  const auto data = random_bytes(300, 4);
  Sha256 a;
  ASSERT_TRUE(a.update(data.data(), 100));
  Sha256 b(std::move(a));
  EXPECT_FALSE(a.ok());  // NOLINT(bugprone-use-after-move): moved-from is documented
  EXPECT_FALSE(a.update(data.data(), 1));
  Sha256 c;
  c = std::move(b);
  ASSERT_TRUE(c.update(data.data() + 100, 200));
  EXPECT_EQ(digest_of(c), openssl_sha256(data.data(), 300));
}

}  // namespace
}  // namespace layercrypt::kernels
