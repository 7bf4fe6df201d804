// tests/kernels/hmac_sha256_test.cc: kernels/hmac_sha256.h against RFC 4231
// and OpenSSL's one-shot HMAC().
#include "kernels/hmac_sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <random>
#include <vector>

#include "tests/support/test_util.h"
#include "tests/support/vector_file.h"

namespace layercrypt::kernels {
namespace {

using layercrypt::testing::load_vectors;
using layercrypt::testing::random_bytes;
using layercrypt::testing::to_hex;

std::string openssl_hmac(const std::vector<uint8_t>& key, const uint8_t* p, size_t n) {
  uint8_t tag[32];
  unsigned len = 0;
  static const uint8_t kEmpty = 0;
  EXPECT_NE(HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
                 n == 0 ? &kEmpty : p, n, tag, &len),
            nullptr);
  EXPECT_EQ(len, 32u);
  return to_hex(tag, 32);
}
std::string openssl_hmac(const std::vector<uint8_t>& key, const std::vector<uint8_t>& m) {
  return openssl_hmac(key, m.data(), m.size());
}

std::string tag_of(HmacSha256& h) {
  uint8_t t[kHmacSha256TagLen];
  EXPECT_TRUE(h.final(t, sizeof(t)));
  return to_hex(t, sizeof(t));
}

TEST(HmacSha256, Rfc4231KnownAnswers) {
  int cases = 0;
  for (const auto& c : load_vectors("hmac_sha256_rfc4231.txt")) {
    SCOPED_TRACE(c.where() + " case " + c.str("Case"));
    const auto key = c.bytes("Key");
    const auto msg = c.bytes("Msg");
    const auto want = c.bytes("Tag");
    const size_t cmp = c.has("Truncate") ? c.number("Truncate") : kHmacSha256TagLen;
    ASSERT_EQ(want.size(), cmp);
    ASSERT_LE(cmp, kHmacSha256TagLen);

    // Streaming, one byte at a time then all at once.
    HmacSha256 h;
    ASSERT_TRUE(h.init(key.data(), key.size()));
    for (uint8_t b : msg) ASSERT_TRUE(h.update(&b, 1));
    uint8_t t[kHmacSha256TagLen];
    ASSERT_TRUE(h.final(t, sizeof(t)));
    EXPECT_EQ(to_hex(t, cmp), to_hex(want));

    ASSERT_TRUE(h.reset());
    ASSERT_TRUE(h.update(msg.data(), msg.size()));
    ASSERT_TRUE(h.final(t, sizeof(t)));
    EXPECT_EQ(to_hex(t, cmp), to_hex(want));

    uint8_t t2[kHmacSha256TagLen];
    ASSERT_TRUE(hmac_sha256(key.data(), key.size(), msg.data(), msg.size(), t2, sizeof(t2)));
    EXPECT_EQ(to_hex(t2, cmp), to_hex(want));

    // verify() takes full tags only: a full RFC tag verifies, the truncated
    // one (case 5) is rejected even though its 16 bytes are right.
    ASSERT_TRUE(h.reset());
    ASSERT_TRUE(h.update(msg.data(), msg.size()));
    if (cmp == kHmacSha256TagLen) {
      EXPECT_TRUE(h.verify(want.data(), want.size()));
    } else {
      EXPECT_FALSE(h.verify(want.data(), want.size()));
    }
    c.check_all_consumed();
    ++cases;
  }
  EXPECT_EQ(cases, 7);
}

const size_t kLens[] = {0, 1, 63, 64, 65, 127, 128, 129, 4095, 65534, 65535, 65536, 1 << 20};

TEST(HmacSha256, KeyAndMessageLengthsMatchOpenSsl) {
  std::mt19937 rng(7);
  std::vector<size_t> key_lens(std::begin(kLens), std::end(kLens));
  std::vector<size_t> msg_lens = key_lens;
  key_lens.push_back(1 + rng() % 300);
  msg_lens.push_back(1 + rng() % 300000);
  const auto data = random_bytes(1 << 20, 11);
  const auto key_pool = random_bytes(1 << 20, 12);
  for (size_t kl : key_lens) {
    const std::vector<uint8_t> key(key_pool.begin(), key_pool.begin() + kl);
    HmacSha256 reused;
    ASSERT_TRUE(reused.init(key.data(), key.size()));
    bool first = true;
    for (size_t ml : msg_lens) {
      SCOPED_TRACE("key_len " + std::to_string(kl) + " msg_len " + std::to_string(ml));
      const std::string want = openssl_hmac(key, data.data(), ml);
      uint8_t t[kHmacSha256TagLen];
      ASSERT_TRUE(hmac_sha256(key.data(), kl, data.data(), ml, t, sizeof(t)));
      EXPECT_EQ(to_hex(t, sizeof(t)), want);
      if (!first) {
        ASSERT_TRUE(reused.reset());
      }
      first = false;
      ASSERT_TRUE(reused.update(data.data(), ml));
      EXPECT_EQ(tag_of(reused), want);
    }
  }
}

TEST(HmacSha256, RandomSplitsEqualOneShot) {
  std::mt19937 rng(99);
  for (int round = 0; round < 40; ++round) {
    const auto key = random_bytes(rng() % 200, rng());
    const size_t n = rng() % (400 * 1024);
    const auto data = random_bytes(n, rng());
    HmacSha256 h;
    ASSERT_TRUE(h.init(key.data(), key.size()));
    size_t pos = 0;
    while (pos < n) {
      const size_t cap = (rng() % 4 == 0) ? 100000 : 150;
      const size_t piece = std::min<size_t>(n - pos, rng() % (cap + 1));
      ASSERT_TRUE(h.update(data.data() + pos, piece));
      pos += piece;
    }
    EXPECT_EQ(tag_of(h), openssl_hmac(key, data)) << "round " << round;
  }
}

TEST(HmacSha256, ResetReusesKeyAndInitRekeys) {
  const auto k1 = random_bytes(32, 1), k2 = random_bytes(100, 2);
  const auto m1 = random_bytes(5000, 3), m2 = random_bytes(17, 4);
  HmacSha256 h;
  ASSERT_TRUE(h.init(k1.data(), k1.size()));
  ASSERT_TRUE(h.update(m1.data(), m1.size()));
  // reset mid-message discards the absorbed data.
  ASSERT_TRUE(h.reset());
  ASSERT_TRUE(h.update(m2.data(), m2.size()));
  EXPECT_EQ(tag_of(h), openssl_hmac(k1, m2));
  ASSERT_TRUE(h.reset());
  ASSERT_TRUE(h.update(m1.data(), m1.size()));
  EXPECT_EQ(tag_of(h), openssl_hmac(k1, m1));
  ASSERT_TRUE(h.init(k2.data(), k2.size()));
  ASSERT_TRUE(h.update(m1.data(), m1.size()));
  EXPECT_EQ(tag_of(h), openssl_hmac(k2, m1));
  // Re-keying to the empty key must not keep the previous key.
  ASSERT_TRUE(h.init(nullptr, 0));
  ASSERT_TRUE(h.update(m1.data(), m1.size()));
  EXPECT_EQ(tag_of(h), openssl_hmac({}, m1));
}

TEST(HmacSha256, VerifyAcceptsTheTagAndRejectsFlippedBitsAndTruncation) {
  const auto key = random_bytes(32, 5), msg = random_bytes(3000, 6);
  uint8_t good[kHmacSha256TagLen];
  ASSERT_TRUE(hmac_sha256(key.data(), key.size(), msg.data(), msg.size(), good, sizeof(good)));
  HmacSha256 keyed;
  ASSERT_TRUE(keyed.init(key.data(), key.size()));
  ASSERT_TRUE(keyed.update(msg.data(), msg.size()));

  HmacSha256 h;
  ASSERT_TRUE(keyed.clone(&h));
  EXPECT_TRUE(h.verify(good, sizeof(good)));

  for (size_t bit = 0; bit < 8 * kHmacSha256TagLen; ++bit) {
    uint8_t bad[kHmacSha256TagLen];
    std::copy(std::begin(good), std::end(good), bad);
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ASSERT_TRUE(keyed.clone(&h));
    EXPECT_FALSE(h.verify(bad, sizeof(bad))) << "bit " << bit;
  }
  for (size_t len : {size_t{0}, size_t{1}, size_t{16}, size_t{31}}) {
    ASSERT_TRUE(keyed.clone(&h));
    EXPECT_FALSE(h.verify(good, len)) << "truncated to " << len;
  }
  uint8_t longer[kHmacSha256TagLen + 1] = {};
  std::copy(std::begin(good), std::end(good), longer);
  ASSERT_TRUE(keyed.clone(&h));
  EXPECT_FALSE(h.verify(longer, sizeof(longer)));
  ASSERT_TRUE(keyed.clone(&h));
  EXPECT_FALSE(h.verify(nullptr, kHmacSha256TagLen));
  // verify finishes the object like final does.
  EXPECT_FALSE(h.verify(good, sizeof(good)));
  ASSERT_TRUE(h.reset());
  ASSERT_TRUE(h.update(msg.data(), msg.size()));
  EXPECT_TRUE(h.verify(good, sizeof(good)));
}

TEST(HmacSha256, CloneForksState) {
  const auto key = random_bytes(20, 8), msg = random_bytes(9000, 9);
  HmacSha256 h, fork;
  ASSERT_TRUE(h.init(key.data(), key.size()));
  ASSERT_TRUE(h.update(msg.data(), 4000));
  ASSERT_TRUE(h.clone(&fork));
  EXPECT_FALSE(h.clone(&h));
  ASSERT_TRUE(h.update(msg.data() + 4000, 5000));
  ASSERT_TRUE(fork.update(msg.data() + 4000, 1));
  EXPECT_EQ(tag_of(h), openssl_hmac(key, msg));
  EXPECT_EQ(tag_of(fork), openssl_hmac(key, msg.data(), 4001));
  // The clone keeps the key across reset.
  ASSERT_TRUE(fork.reset());
  ASSERT_TRUE(fork.update(msg.data(), 10));
  EXPECT_EQ(tag_of(fork), openssl_hmac(key, msg.data(), 10));
}

TEST(HmacSha256, MisuseFailsCleanly) {
  HmacSha256 h;
  uint8_t t[kHmacSha256TagLen];
  const uint8_t x = 0;
  EXPECT_FALSE(h.keyed());
  EXPECT_FALSE(h.update(&x, 1));
  EXPECT_FALSE(h.final(t, sizeof(t)));
  EXPECT_FALSE(h.verify(t, sizeof(t)));
  EXPECT_FALSE(h.reset());
  HmacSha256 other;
  EXPECT_FALSE(h.clone(&other));
  EXPECT_FALSE(h.init(nullptr, 5));
  EXPECT_FALSE(h.keyed());

  ASSERT_TRUE(h.init(&x, 1));
  EXPECT_FALSE(h.update(nullptr, 3));
  EXPECT_FALSE(h.final(t, kHmacSha256TagLen - 1));  // too small: not finished
  ASSERT_TRUE(h.final(t, sizeof(t)));
  EXPECT_FALSE(h.update(&x, 1));
  EXPECT_FALSE(h.final(t, sizeof(t)));

  EXPECT_FALSE(hmac_sha256(&x, 1, &x, 1, t, kHmacSha256TagLen - 1));
  EXPECT_FALSE(hmac_sha256(&x, 1, nullptr, 1, t, sizeof(t)));
  EXPECT_FALSE(hmac_sha256(nullptr, 1, &x, 1, t, sizeof(t)));
}

TEST(HmacSha256, OneShotOutputMayAliasInput) {
  auto key = random_bytes(40, 10);
  auto msg = random_bytes(100, 11);
  const std::string want = openssl_hmac(key, msg);
  ASSERT_TRUE(hmac_sha256(key.data(), key.size(), msg.data(), msg.size(), msg.data(), msg.size()));
  EXPECT_EQ(to_hex(msg.data(), 32), want);
  const auto msg2 = random_bytes(100, 11);
  ASSERT_TRUE(
      hmac_sha256(key.data(), key.size(), msg2.data(), msg2.size(), key.data(), key.size()));
  EXPECT_EQ(to_hex(key.data(), 32), want);
}

TEST(HmacSha256, MoveTransfersState) {
  const auto key = random_bytes(16, 12), msg = random_bytes(50, 13);
  HmacSha256 a;
  ASSERT_TRUE(a.init(key.data(), key.size()));
  ASSERT_TRUE(a.update(msg.data(), 20));
  HmacSha256 b(std::move(a));
  EXPECT_FALSE(a.keyed());  // NOLINT(bugprone-use-after-move): documented
  HmacSha256 c;
  c = std::move(b);
  ASSERT_TRUE(c.update(msg.data() + 20, 30));
  EXPECT_EQ(tag_of(c), openssl_hmac(key, msg));
}

}  // namespace
}  // namespace layercrypt::kernels
