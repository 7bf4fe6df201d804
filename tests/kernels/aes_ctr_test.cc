// tests/kernels/aes_ctr_test.cc: AesCtr256 against NIST SP 800-38A and
// against OpenSSL EVP_aes_256_ctr (full 128-bit counter), on every ipsec-mb
// tier this CPU can run plus kAuto.
#include "kernels/aes_ctr.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu.h"
#include "tests/support/imb_tiers.h"
#include "tests/support/vector_file.h"

namespace layercrypt::kernels {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::from_hex;
using testing::to_hex;

constexpr size_t kMiB = size_t{1} << 20;

Bytes random_bytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// add_to_counter adds `blocks` to a 16-byte big-endian counter block, byte by
// byte (deliberately a different formulation from the kernel's).
Bytes add_to_counter(Bytes ctr, uint64_t blocks) {
  unsigned carry = 0;
  for (int i = 15; i >= 0; --i) {
    const unsigned add = i >= 8 ? static_cast<unsigned>((blocks >> (8 * (15 - i))) & 0xff) : 0;
    const unsigned sum = ctr[i] + add + carry;
    ctr[i] = static_cast<uint8_t>(sum);
    carry = sum >> 8;
  }
  return ctr;
}

// openssl_ctr_at returns `in` XOR keystream[offset, offset + len) computed by
// OpenSSL: start at counter block IV + offset/16 and discard offset%16 bytes.
Bytes openssl_ctr_at(const Bytes& key, const Bytes& iv, uint64_t offset, const uint8_t* in,
                     size_t len) {
  const Bytes start = add_to_counter(iv, offset / 16);
  const size_t skip = offset % 16;
  Bytes buf(skip + len, 0), out(skip + len);
  if (len) std::memcpy(buf.data() + skip, in, len);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  EXPECT_EQ(1, EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr, key.data(), start.data()));
  if (!buf.empty()) {
    EXPECT_EQ(1, EVP_EncryptUpdate(ctx, out.data(), &n, buf.data(), static_cast<int>(buf.size())));
  }
  EVP_CIPHER_CTX_free(ctx);
  return Bytes(out.begin() + static_cast<ptrdiff_t>(skip), out.end());
}

// openssl_ctr_stream runs OpenSSL from counter IV over the whole prefix, so
// every increment (including the carries) is OpenSSL's own.
Bytes openssl_ctr_stream(const Bytes& key, const Bytes& iv, uint64_t offset, const Bytes& in) {
  Bytes buf(offset + in.size(), 0), out(buf.size());
  std::copy(in.begin(), in.end(), buf.begin() + static_cast<ptrdiff_t>(offset));
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  EXPECT_EQ(1, EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr, key.data(), iv.data()));
  EXPECT_EQ(1, EVP_EncryptUpdate(ctx, out.data(), &n, buf.data(), static_cast<int>(buf.size())));
  EVP_CIPHER_CTX_free(ctx);
  return Bytes(out.begin() + static_cast<ptrdiff_t>(offset), out.end());
}

Bytes kernel_xor(const AesCtr256& ctr, uint64_t offset, const Bytes& in) {
  Bytes out(in.size(), 0xee);
  EXPECT_TRUE(ctr.xor_at(offset, in.data(), out.data(), in.size()));
  return out;
}

class AesCtrTierTest : public testing::ImbTierTest {
 protected:
  // Per-tier deterministic seed, so each tier sees different (but
  // reproducible) data.
  std::mt19937_64 rng(uint64_t salt) const {
    return std::mt19937_64(0xC7A5EED0ull + 131 * salt + static_cast<uint64_t>(GetParam()));
  }
};

TEST_P(AesCtrTierTest, ReportsArchitecture) {
  const Bytes key(32, 1), iv(16, 2);
  AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), tier());
  ASSERT_TRUE(ctr.ok());
  EXPECT_EQ(ctr.tier(), tier());
  const std::string arch = ctr.arch_name();
  EXPECT_NE(arch, "none");
  EXPECT_NE(arch, "no-aesni");
  if (tier() != ImbTier::kAuto) {
    EXPECT_EQ(arch, imb_tier_name(tier()));
  }
  RecordProperty("ipsec_mb_arch", arch);
}

TEST_P(AesCtrTierTest, Sp800_38aKnownAnswers) {
  const auto cases = testing::load_vectors("aes_256_ctr_sp800_38a.txt");
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.where());
    const std::string dir = c.str("DIRECTION");
    EXPECT_TRUE(dir == "encrypt" || dir == "decrypt") << dir;
    const Bytes key = c.bytes("KEY"), iv = c.bytes("IV"), in = c.bytes("IN"), want = c.bytes("OUT");
    const uint64_t offset = c.number("OFFSET");
    c.check_all_consumed();
    ASSERT_EQ(in.size(), want.size());

    AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), tier());
    ASSERT_TRUE(ctr.ok());
    EXPECT_EQ(to_hex(kernel_xor(ctr, offset, in)), to_hex(want));

    // In place.
    Bytes buf = in;
    ASSERT_TRUE(ctr.xor_at(offset, buf.data(), buf.data(), buf.size()));
    EXPECT_EQ(to_hex(buf), to_hex(want));

    // Every two-way split point, second half first: exercises leading and
    // trailing partial blocks at every alignment.
    for (size_t k = 0; k <= in.size(); ++k) {
      Bytes out(in.size(), 0);
      ASSERT_TRUE(ctr.xor_at(offset + k, in.data() + k, out.data() + k, in.size() - k));
      ASSERT_TRUE(ctr.xor_at(offset, in.data(), out.data(), k));
      ASSERT_EQ(to_hex(out), to_hex(want)) << "split at " << k;
    }
  }
}

// Spans around counter carries out of the low 32 bits, out of the low 64
// bits and around the full 2^128 wrap, checked against OpenSSL running the
// whole stream from the IV (its increments are full 128-bit).
TEST_P(AesCtrTierTest, CounterCarriesMatchOpenSsl) {
  auto rng = this->rng(1);
  const Bytes key = random_bytes(rng, 32);
  struct IvCase {
    const char* name;
    std::string iv_hex;
  };
  const std::vector<IvCase> ivs = {
      {"carry-32", "0123456789abcdef01234567fffffffd"},
      {"carry-32-exact", "0123456789abcdef01234567ffffffff"},
      {"carry-32-far", "0123456789abcdef01234567ffffff00"},
      {"carry-64", "0123456789abcdefffffffffffffffFD"},
      {"carry-96", "01234567fffffffffffffffffffffffe"},
      {"wrap-128", "fffffffffffffffffffffffffffffffd"},
      {"wrap-128-exact", "ffffffffffffffffffffffffffffffff"},
  };
  // (offset, len): start before and end after the carry, unaligned on both
  // ends, exact boundaries, tiny spans straddling it, and long ones that
  // cross it deep inside a job.
  const std::vector<std::pair<uint64_t, size_t>> spans = {
      {0, 100},           {5, 80},       {17, 61},     {31, 2},
      {32, 16},           {47, 1},       {47, 2},      {48, 17},
      {1, 16 * 4096 + 7}, {3, kMiB + 3}, {4095, 8193}, {16 * 256 - 9, 40},
      {16 * 256 + 1, 15}};
  for (const auto& ivc : ivs) {
    const Bytes iv = from_hex(ivc.iv_hex);
    AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), tier());
    ASSERT_TRUE(ctr.ok());
    for (const auto& [offset, len] : spans) {
      SCOPED_TRACE(std::string(ivc.name) + " offset " + std::to_string(offset) + " len " +
                   std::to_string(len));
      const Bytes in = random_bytes(rng, len);
      const Bytes want = openssl_ctr_stream(key, iv, offset, in);
      ASSERT_EQ(kernel_xor(ctr, offset, in), want);
      // The IV-adjusting reference must agree with the streaming one, so
      // the far-offset test below can rely on it.
      ASSERT_EQ(openssl_ctr_at(key, iv, offset, in.data(), in.size()), want);
    }
  }
}

// Offsets far into the keystream, where the carry comes from the offset
// itself, including a span that runs past byte 2^64 of the keystream.
TEST_P(AesCtrTierTest, FarOffsetsMatchOpenSsl) {
  auto rng = this->rng(2);
  const Bytes key = random_bytes(rng, 32);
  const Bytes iv0(16, 0);
  const Bytes iv_hi = from_hex("00000000000000aaf000000000000000");
  const std::vector<std::pair<Bytes, uint64_t>> cases = {
      {iv0, (uint64_t{0xffffffff} << 4) - 7},       // crosses low-32 wrap from IV 0
      {iv0, (uint64_t{1} << 36) + 3},               // block 2^32 + 0
      {iv_hi, ((uint64_t{1} << 60) - 1) * 16 + 5},  // low 64 bits wrap
      {iv0, ~uint64_t{0} - 2},                      // runs past 2^64 bytes
      {from_hex("ffffffffffffffffffffffffffffffff"), ~uint64_t{0} - 20},
  };
  for (const auto& [iv, offset] : cases) {
    AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), tier());
    ASSERT_TRUE(ctr.ok());
    for (size_t len : {size_t{1}, size_t{15}, size_t{16}, size_t{33}, size_t{4097}}) {
      SCOPED_TRACE("iv " + to_hex(iv) + " offset " + std::to_string(offset) + " len " +
                   std::to_string(len));
      const Bytes in = random_bytes(rng, len);
      ASSERT_EQ(kernel_xor(ctr, offset, in), openssl_ctr_at(key, iv, offset, in.data(), len));
    }
  }
}

TEST_P(AesCtrTierTest, RandomSizesAndOffsetsMatchOpenSsl) {
  auto rng = this->rng(3);
  std::vector<size_t> sizes = {0, 1, 15, 16, 17, 4095, 4096, 4097, kMiB - 1, kMiB, kMiB + 1};
  for (int i = 0; i < 6; ++i) sizes.push_back(rng() % (2 * kMiB));
  for (int round = 0; round < 2; ++round) {
    const Bytes key = random_bytes(rng, 32), iv = random_bytes(rng, 16);
    AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), tier());
    ASSERT_TRUE(ctr.ok());
    for (size_t len : sizes) {
      for (uint64_t offset : {uint64_t{0}, uint64_t{1}, uint64_t{15}, uint64_t{16}, uint64_t{17},
                              uint64_t{rng() % 100000}}) {
        SCOPED_TRACE("len " + std::to_string(len) + " offset " + std::to_string(offset));
        const Bytes in = random_bytes(rng, len);
        ASSERT_EQ(kernel_xor(ctr, offset, in), openssl_ctr_at(key, iv, offset, in.data(), len));
      }
    }
  }
}

TEST_P(AesCtrTierTest, InPlaceEqualsOutOfPlace) {
  auto rng = this->rng(4);
  const Bytes key = random_bytes(rng, 32), iv = random_bytes(rng, 16);
  AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), tier());
  ASSERT_TRUE(ctr.ok());
  for (size_t len : {size_t{1}, size_t{31}, size_t{4096}, kMiB + 5}) {
    const uint64_t offset = rng() % 1000;
    const Bytes in = random_bytes(rng, len);
    const Bytes out = kernel_xor(ctr, offset, in);
    Bytes buf = in;
    ASSERT_TRUE(ctr.xor_at(offset, buf.data(), buf.data(), buf.size()));
    EXPECT_EQ(buf, out);
    // Applying it twice is the identity (decrypt == encrypt).
    ASSERT_TRUE(ctr.xor_at(offset, buf.data(), buf.data(), buf.size()));
    EXPECT_EQ(buf, in);
  }
}

// Splitting one buffer into random pieces, processing them in a random
// order and from several threads gives the bytes of a single call.
TEST_P(AesCtrTierTest, PiecesOutOfOrderAndFromThreadsMatchOneCall) {
  auto rng = this->rng(5);
  const Bytes key = random_bytes(rng, 32);
  // Low 32 bits close to wrapping so some piece straddles the carry.
  Bytes iv = random_bytes(rng, 16);
  iv[12] = 0xff, iv[13] = 0xff, iv[14] = 0x80, iv[15] = 0x00;
  AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), tier());
  ASSERT_TRUE(ctr.ok());
  const uint64_t base = 7;  // the buffer starts at an unaligned stream offset
  const Bytes in = random_bytes(rng, 3 * kMiB + 123);
  const Bytes want = kernel_xor(ctr, base, in);
  ASSERT_EQ(want, openssl_ctr_stream(key, iv, base, in));

  struct Piece {
    size_t begin, len;
  };
  std::vector<Piece> pieces;
  for (size_t pos = 0; pos < in.size();) {
    size_t len;
    switch (rng() % 4) {
      case 0:
        len = 1 + rng() % 17;
        break;
      case 1:
        len = 1 + rng() % 5000;
        break;
      default:
        len = 1 + rng() % 400000;
        break;
    }
    len = std::min(len, in.size() - pos);
    pieces.push_back({pos, len});
    pos += len;
  }
  std::shuffle(pieces.begin(), pieces.end(), rng);

  Bytes out(in.size(), 0);
  for (const auto& p : pieces)
    ASSERT_TRUE(ctr.xor_at(base + p.begin, in.data() + p.begin, out.data() + p.begin, p.len));
  EXPECT_EQ(out, want);

  // Same, in place, spread over 4 threads (each gets its own ipsec-mb
  // manager from imb_manager).
  Bytes shared = in;
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> ok(kThreads, 1);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < pieces.size(); i += kThreads) {
        const auto& p = pieces[i];
        if (!ctr.xor_at(base + p.begin, shared.data() + p.begin, shared.data() + p.begin, p.len))
          ok[t] = 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(ok[t], 1) << "thread " << t;
  EXPECT_EQ(shared, want);
}

INSTANTIATE_TEST_SUITE_P(Tiers, AesCtrTierTest, ::testing::ValuesIn(testing::all_imb_tiers()),
                         testing::imb_tier_param_name);

TEST(AesCtr, AllTiersAgree) {
  std::mt19937_64 rng(42);
  const Bytes key = random_bytes(rng, 32), iv = random_bytes(rng, 16);
  const Bytes in = random_bytes(rng, 100003);
  AesCtr256 ref(key.data(), key.size(), iv.data(), iv.size());
  ASSERT_TRUE(ref.ok());
  const Bytes want = kernel_xor(ref, 13, in);
  for (ImbTier t : imb_supported_tiers()) {
    AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), t);
    ASSERT_TRUE(ctr.ok()) << imb_tier_name(t);
    EXPECT_EQ(kernel_xor(ctr, 13, in), want) << imb_tier_name(t);
  }
}

TEST(AesCtr, RejectsBadArguments) {
  const Bytes key(32, 7), iv(16, 9);
  EXPECT_FALSE(AesCtr256(key.data(), 16, iv.data(), 16).ok());
  EXPECT_FALSE(AesCtr256(key.data(), 24, iv.data(), 16).ok());
  EXPECT_FALSE(AesCtr256(key.data(), 32, iv.data(), 12).ok());
  EXPECT_FALSE(AesCtr256(nullptr, 32, iv.data(), 16).ok());
  EXPECT_FALSE(AesCtr256(key.data(), 32, nullptr, 16).ok());

  AesCtr256 bad(key.data(), 31, iv.data(), 16);
  uint8_t buf[4] = {1, 2, 3, 4};
  EXPECT_FALSE(bad.xor_at(0, buf, buf, sizeof(buf)));
  EXPECT_STREQ(bad.arch_name(), "none");

  AesCtr256 good(key.data(), 32, iv.data(), 16);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good.xor_at(12345, nullptr, nullptr, 0));  // empty span is a no-op
  EXPECT_FALSE(good.xor_at(0, nullptr, buf, 4));
  EXPECT_FALSE(good.xor_at(0, buf, nullptr, 4));
}

}  // namespace
}  // namespace layercrypt::kernels
