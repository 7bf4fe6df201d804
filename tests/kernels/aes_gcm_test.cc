// tests/kernels/aes_gcm_test.cc: AesGcmKey / AesGcmStream against the
// McGrew-Viega and Wycheproof known answers and against OpenSSL
// EVP_aes_*_gcm, on every ipsec-mb tier this CPU can run plus kAuto.
#include "kernels/aes_gcm.h"

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
using testing::to_hex;

constexpr size_t kMiB = size_t{1} << 20;

Bytes random_bytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

bool all_zero(const Bytes& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

const EVP_CIPHER* openssl_gcm(size_t key_len) {
  switch (key_len) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    default:
      return EVP_aes_256_gcm();
  }
}

struct Sealed {
  Bytes ct, tag;
};

// openssl_seal / openssl_open are the reference implementation.
Sealed openssl_seal(const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& pt,
                    size_t tag_len) {
  Sealed s{Bytes(pt.size() + 16), Bytes(tag_len)};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, total = 0;
  EXPECT_EQ(1, EVP_EncryptInit_ex(ctx, openssl_gcm(key.size()), nullptr, nullptr, nullptr));
  EXPECT_EQ(1,
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr));
  EXPECT_EQ(1, EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), iv.data()));
  if (!aad.empty()) {
    EXPECT_EQ(1, EVP_EncryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())));
  }
  if (!pt.empty()) {
    EXPECT_EQ(1, EVP_EncryptUpdate(ctx, s.ct.data(), &n, pt.data(), static_cast<int>(pt.size())));
    total = n;
  }
  EXPECT_EQ(1, EVP_EncryptFinal_ex(ctx, s.ct.data() + total, &n));
  EXPECT_EQ(
      1, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_len), s.tag.data()));
  EVP_CIPHER_CTX_free(ctx);
  s.ct.resize(pt.size());
  return s;
}

bool openssl_open(const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& ct,
                  const Bytes& tag, Bytes* pt) {
  pt->assign(ct.size() + 16, 0);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, total = 0;
  EVP_DecryptInit_ex(ctx, openssl_gcm(key.size()), nullptr, nullptr, nullptr);
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr);
  EVP_DecryptInit_ex(ctx, nullptr, nullptr, key.data(), iv.data());
  if (!aad.empty()) EVP_DecryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size()));
  if (!ct.empty()) {
    EVP_DecryptUpdate(ctx, pt->data(), &n, ct.data(), static_cast<int>(ct.size()));
    total = n;
  }
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()),
                      const_cast<uint8_t*>(tag.data()));
  const bool ok = EVP_DecryptFinal_ex(ctx, pt->data() + total, &n) == 1;
  EVP_CIPHER_CTX_free(ctx);
  pt->resize(ct.size());
  return ok;
}

// Random piece sizes for incremental tests: mostly small and odd, some
// zero, some large.
std::vector<size_t> random_pieces(std::mt19937_64& rng, size_t total) {
  std::vector<size_t> out;
  for (size_t pos = 0; pos < total;) {
    size_t len;
    switch (rng() % 5) {
      case 0:
        len = 0;
        break;
      case 1:
        len = 1 + rng() % 16;
        break;
      case 2:
        len = 1 + rng() % 100;
        break;
      case 3:
        len = 16 * (1 + rng() % 64);
        break;
      default:
        len = 1 + rng() % 70000;
        break;
    }
    len = std::min(len, total - pos);
    out.push_back(len);
    pos += len;
  }
  return out;
}

Sealed stream_seal(const AesGcmKey& key, const Bytes& iv, const Bytes& aad, const Bytes& pt,
                   const std::vector<size_t>& pieces, size_t tag_len = 16) {
  AesGcmStream s(key);
  Sealed out{Bytes(pt.size(), 0), Bytes(tag_len, 0)};
  EXPECT_TRUE(
      s.init(AesGcmStream::Direction::kEncrypt, iv.data(), iv.size(), aad.data(), aad.size()));
  size_t pos = 0;
  for (size_t len : pieces) {
    EXPECT_TRUE(s.update(pt.data() + pos, out.ct.data() + pos, len));
    pos += len;
  }
  EXPECT_EQ(pos, pt.size());
  EXPECT_TRUE(s.finish_encrypt(out.tag.data(), tag_len));
  return out;
}

bool stream_open(const AesGcmKey& key, const Bytes& iv, const Bytes& aad, const Bytes& ct,
                 const Bytes& tag, const std::vector<size_t>& pieces, Bytes* pt) {
  AesGcmStream s(key);
  pt->assign(ct.size(), 0);
  if (!s.init(AesGcmStream::Direction::kDecrypt, iv.data(), iv.size(), aad.data(), aad.size()))
    return false;
  size_t pos = 0;
  for (size_t len : pieces) {
    if (!s.update(ct.data() + pos, pt->data() + pos, len)) return false;
    pos += len;
  }
  EXPECT_EQ(pos, ct.size());
  return s.finish_decrypt(tag.data(), tag.size());
}

std::vector<ImbTier> runnable_tiers() {
  std::vector<ImbTier> out = {ImbTier::kAuto};
  for (ImbTier t : imb_supported_tiers()) out.push_back(t);
  return out;
}

class AesGcmTierTest : public testing::ImbTierTest {
 protected:
  std::mt19937_64 rng(uint64_t salt) const {
    return std::mt19937_64(0x6C3A5EEDull + 977 * salt + static_cast<uint64_t>(GetParam()));
  }
};

TEST_P(AesGcmTierTest, ReportsArchitecture) {
  for (size_t key_len : {16, 24, 32}) {
    const Bytes k(key_len, 3);
    AesGcmKey key(k.data(), k.size(), tier());
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key.key_len(), key_len);
    EXPECT_EQ(key.tier(), tier());
    const std::string arch = key.arch_name();
    EXPECT_NE(arch, "none");
    if (tier() != ImbTier::kAuto) {
      EXPECT_EQ(arch, imb_tier_name(tier()));
    }
  }
}

TEST_P(AesGcmTierTest, KnownAnswers) {
  const auto cases = testing::load_vectors("aes_gcm_kat.txt");
  ASSERT_GE(cases.size(), 50u);
  auto rng = this->rng(1);
  size_t valid = 0, invalid = 0;
  for (const auto& c : cases) {
    const std::string source = c.str("SOURCE");
    SCOPED_TRACE(c.where() + " " + source);
    const Bytes k = c.bytes("KEY"), iv = c.bytes("IV"), aad = c.bytes("AAD"), pt = c.bytes("PT"),
                ct = c.bytes("CT"), tag = c.bytes("TAG");
    const std::string result = c.str("RESULT");
    c.check_all_consumed();
    ASSERT_TRUE(result == "valid" || result == "acceptable" || result == "invalid") << result;
    ASSERT_EQ(pt.size(), ct.size());

    AesGcmKey key(k.data(), k.size(), tier());
    ASSERT_TRUE(key.ok());

    if (result == "invalid") {
      ++invalid;
      Bytes out(ct.size(), 0xAA);
      EXPECT_FALSE(key.open(iv.data(), iv.size(), aad.data(), aad.size(), ct.data(), ct.size(),
                            tag.data(), tag.size(), out.data()));
      EXPECT_TRUE(all_zero(out)) << to_hex(out);
      Bytes streamed;
      EXPECT_FALSE(stream_open(key, iv, aad, ct, tag, random_pieces(rng, ct.size()), &streamed));
      // And the tag really is the only thing wrong: sealing PT gives CT.
      Bytes got_ct(pt.size()), got_tag(16);
      ASSERT_TRUE(key.seal(iv.data(), iv.size(), aad.data(), aad.size(), pt.data(), pt.size(),
                           got_ct.data(), got_tag.data()));
      EXPECT_EQ(got_ct, ct);
      EXPECT_NE(got_tag, tag);
      continue;
    }
    ++valid;
    // One-shot seal.
    Bytes got_ct(pt.size(), 0xEE), got_tag(16, 0xEE);
    ASSERT_TRUE(key.seal(iv.data(), iv.size(), aad.data(), aad.size(), pt.data(), pt.size(),
                         got_ct.data(), got_tag.data()));
    EXPECT_EQ(to_hex(got_ct), to_hex(ct));
    EXPECT_EQ(to_hex(got_tag), to_hex(tag));
    // One-shot open.
    Bytes got_pt(ct.size(), 0xEE);
    EXPECT_TRUE(key.open(iv.data(), iv.size(), aad.data(), aad.size(), ct.data(), ct.size(),
                         tag.data(), tag.size(), got_pt.data()));
    EXPECT_EQ(to_hex(got_pt), to_hex(pt));
    // Truncated (12-byte) tag is the prefix of the full one.
    Bytes tag12(12);
    ASSERT_TRUE(key.seal(iv.data(), iv.size(), aad.data(), aad.size(), pt.data(), pt.size(),
                         got_ct.data(), tag12.data(), 12));
    EXPECT_TRUE(std::equal(tag12.begin(), tag12.end(), tag.begin()));
    EXPECT_TRUE(key.open(iv.data(), iv.size(), aad.data(), aad.size(), ct.data(), ct.size(),
                         tag.data(), 12, got_pt.data()));
    // In place.
    Bytes buf = pt, buf_tag(16);
    ASSERT_TRUE(key.seal(iv.data(), iv.size(), aad.data(), aad.size(), buf.data(), buf.size(),
                         buf.data(), buf_tag.data()));
    EXPECT_EQ(buf, ct);
    EXPECT_TRUE(key.open(iv.data(), iv.size(), aad.data(), aad.size(), buf.data(), buf.size(),
                         buf_tag.data(), buf_tag.size(), buf.data()));
    EXPECT_EQ(buf, pt);
    // Streaming, in random pieces.
    const Sealed st = stream_seal(key, iv, aad, pt, random_pieces(rng, pt.size()));
    EXPECT_EQ(st.ct, ct);
    EXPECT_EQ(st.tag, tag);
    Bytes streamed;
    EXPECT_TRUE(stream_open(key, iv, aad, ct, tag, random_pieces(rng, ct.size()), &streamed));
    EXPECT_EQ(streamed, pt);
  }
  EXPECT_GE(valid, 40u);
  EXPECT_GE(invalid, 10u);
}

TEST_P(AesGcmTierTest, RandomInputsMatchOpenSsl) {
  auto rng = this->rng(2);
  std::vector<size_t> sizes = {0,    1,    15,   16,    17,       255,  256,
                               4095, 4096, 4097, 65537, kMiB - 1, kMiB, kMiB + 1};
  for (int i = 0; i < 4; ++i) sizes.push_back(rng() % (2 * kMiB));
  const size_t iv_lens[] = {12, 1, 8, 16, 60, 12};
  const size_t tag_lens[] = {16, 12, 13, 14, 15, 16};
  for (size_t key_len : {16, 24, 32}) {
    const Bytes k = random_bytes(rng, key_len);
    AesGcmKey key(k.data(), k.size(), tier());
    ASSERT_TRUE(key.ok());
    for (size_t i = 0; i < sizes.size(); ++i) {
      const size_t len = sizes[i];
      const size_t iv_len = iv_lens[i % 6], tag_len = tag_lens[(i / 2) % 6];
      SCOPED_TRACE("key " + std::to_string(key_len) + " len " + std::to_string(len) + " iv " +
                   std::to_string(iv_len) + " tag " + std::to_string(tag_len));
      const Bytes iv = random_bytes(rng, iv_len), aad = random_bytes(rng, rng() % 70),
                  pt = random_bytes(rng, len);
      const Sealed want = openssl_seal(k, iv, aad, pt, tag_len);
      Bytes ct(len), tag(tag_len);
      ASSERT_TRUE(key.seal(iv.data(), iv.size(), aad.data(), aad.size(), pt.data(), pt.size(),
                           ct.data(), tag.data(), tag_len));
      ASSERT_EQ(ct, want.ct);
      ASSERT_EQ(to_hex(tag), to_hex(want.tag));
      Bytes back(len, 0xEE);
      ASSERT_TRUE(key.open(iv.data(), iv.size(), aad.data(), aad.size(), ct.data(), ct.size(),
                           tag.data(), tag.size(), back.data()));
      ASSERT_EQ(back, pt);
      Bytes ossl_pt;
      ASSERT_TRUE(openssl_open(k, iv, aad, ct, tag, &ossl_pt));
    }
  }
}

TEST_P(AesGcmTierTest, IncrementalEqualsOneShot) {
  auto rng = this->rng(3);
  for (size_t key_len : {16, 24, 32}) {
    const Bytes k = random_bytes(rng, key_len);
    AesGcmKey key(k.data(), k.size(), tier());
    ASSERT_TRUE(key.ok());
    for (size_t len : {size_t{0}, size_t{1}, size_t{47}, size_t{4099}, kMiB + 33}) {
      for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE("key " + std::to_string(key_len) + " len " + std::to_string(len));
        const Bytes iv = random_bytes(rng, round == 1 ? 16 : 12),
                    aad = random_bytes(rng, rng() % 40), pt = random_bytes(rng, len);
        Bytes ct(len), tag(16);
        ASSERT_TRUE(key.seal(iv.data(), iv.size(), aad.data(), aad.size(), pt.data(), pt.size(),
                             ct.data(), tag.data()));
        const Sealed st = stream_seal(key, iv, aad, pt, random_pieces(rng, len));
        ASSERT_EQ(st.ct, ct);
        ASSERT_EQ(st.tag, tag);
        Bytes back;
        ASSERT_TRUE(stream_open(key, iv, aad, ct, tag, random_pieces(rng, len), &back));
        ASSERT_EQ(back, pt);

        // In-place streaming, 13-byte tag.
        AesGcmStream s(key);
        Bytes buf = pt, tag13(13);
        ASSERT_TRUE(s.init(AesGcmStream::Direction::kEncrypt, iv.data(), iv.size(), aad.data(),
                           aad.size()));
        size_t pos = 0;
        for (size_t piece : random_pieces(rng, len)) {
          ASSERT_TRUE(s.update(buf.data() + pos, buf.data() + pos, piece));
          pos += piece;
        }
        ASSERT_TRUE(s.finish_encrypt(tag13.data(), tag13.size()));
        ASSERT_EQ(buf, ct);
        ASSERT_TRUE(std::equal(tag13.begin(), tag13.end(), tag.begin()));

        // The same stream object is reusable after finish.
        ASSERT_TRUE(s.init(AesGcmStream::Direction::kDecrypt, iv.data(), iv.size(), aad.data(),
                           aad.size()));
        ASSERT_TRUE(s.update(buf.data(), buf.data(), buf.size()));
        ASSERT_TRUE(s.finish_decrypt(tag13.data(), tag13.size()));
        ASSERT_EQ(buf, pt);
      }
    }
  }
}

// Any change to tag, ciphertext, AAD or IV makes open fail and zero-fill.
TEST_P(AesGcmTierTest, TamperingFailsAndZeroesOutput) {
  auto rng = this->rng(4);
  for (size_t key_len : {16, 24, 32}) {
    const Bytes k = random_bytes(rng, key_len);
    AesGcmKey key(k.data(), k.size(), tier());
    ASSERT_TRUE(key.ok());
    for (size_t len : {size_t{0}, size_t{1}, size_t{16}, size_t{1000}, size_t{65536 + 7}}) {
      const Bytes iv = random_bytes(rng, 12), aad = random_bytes(rng, 1 + rng() % 30),
                  pt = random_bytes(rng, len);
      Bytes ct(len), tag(16);
      ASSERT_TRUE(key.seal(iv.data(), iv.size(), aad.data(), aad.size(), pt.data(), pt.size(),
                           ct.data(), tag.data()));
      auto expect_rejected = [&](const Bytes& iv2, const Bytes& aad2, const Bytes& ct2,
                                 const Bytes& tag2, const std::string& what) {
        SCOPED_TRACE(what + " key " + std::to_string(key_len) + " len " + std::to_string(len));
        Bytes out(ct2.size(), 0xAA);
        EXPECT_FALSE(key.open(iv2.data(), iv2.size(), aad2.data(), aad2.size(), ct2.data(),
                              ct2.size(), tag2.data(), tag2.size(), out.data()));
        EXPECT_TRUE(all_zero(out));
        // In place: the buffer is zeroed too.
        Bytes buf = ct2;
        EXPECT_FALSE(key.open(iv2.data(), iv2.size(), aad2.data(), aad2.size(), buf.data(),
                              buf.size(), tag2.data(), tag2.size(), buf.data()));
        EXPECT_TRUE(all_zero(buf));
        Bytes streamed;
        EXPECT_FALSE(
            stream_open(key, iv2, aad2, ct2, tag2, random_pieces(rng, ct2.size()), &streamed));
        Bytes ossl;
        EXPECT_FALSE(openssl_open(k, iv2, aad2, ct2, tag2, &ossl));  // the peer agrees
      };
      for (size_t bit : {size_t{0}, size_t{7}, size_t{64}, size_t{127}}) {
        Bytes t = tag;
        t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        expect_rejected(iv, aad, ct, t, "tag bit " + std::to_string(bit));
      }
      expect_rejected(iv, aad, ct, Bytes(16, 0), "zero tag");
      {
        Bytes t(tag.begin(), tag.begin() + 12);
        t[11] ^= 0x80;
        expect_rejected(iv, aad, ct, t, "truncated tag, last bit flipped");
      }
      if (len > 0) {
        for (size_t pos : {size_t{0}, len / 2, len - 1}) {
          Bytes c2 = ct;
          c2[pos] ^= 0x01;
          expect_rejected(iv, aad, c2, tag, "ciphertext byte " + std::to_string(pos));
        }
        expect_rejected(iv, aad, Bytes(ct.begin(), ct.end() - 1), tag, "truncated ciphertext");
      }
      {
        Bytes a2 = aad;
        a2[0] ^= 0x40;
        expect_rejected(iv, a2, ct, tag, "aad bit");
        expect_rejected(iv, Bytes(aad.begin(), aad.end() - 1), ct, tag, "aad truncated");
        Bytes a3 = aad;
        a3.push_back(0);
        expect_rejected(iv, a3, ct, tag, "aad extended");
        expect_rejected(iv, Bytes(), ct, tag, "aad dropped");
      }
      {
        Bytes iv2 = iv;
        iv2[11] ^= 0x01;
        expect_rejected(iv2, aad, ct, tag, "iv bit");
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, AesGcmTierTest, ::testing::ValuesIn(testing::all_imb_tiers()),
                         testing::imb_tier_param_name);

// Seal on one tier, open on another (and stream across tiers).
TEST(AesGcm, CrossTier) {
  std::mt19937_64 rng(7);
  const auto tiers = runnable_tiers();
  for (size_t key_len : {16, 24, 32}) {
    const Bytes k = random_bytes(rng, key_len);
    for (ImbTier a : tiers) {
      AesGcmKey ka(k.data(), k.size(), a);
      ASSERT_TRUE(ka.ok());
      const Bytes iv = random_bytes(rng, 12), aad = random_bytes(rng, 20),
                  pt = random_bytes(rng, 100000 + rng() % 1000);
      Bytes ct(pt.size()), tag(16);
      ASSERT_TRUE(ka.seal(iv.data(), iv.size(), aad.data(), aad.size(), pt.data(), pt.size(),
                          ct.data(), tag.data()));
      for (ImbTier b : tiers) {
        SCOPED_TRACE(std::string("seal ") + imb_tier_name(a) + " open " + imb_tier_name(b));
        AesGcmKey kb(k.data(), k.size(), b);
        ASSERT_TRUE(kb.ok());
        Bytes back(pt.size());
        EXPECT_TRUE(kb.open(iv.data(), iv.size(), aad.data(), aad.size(), ct.data(), ct.size(),
                            tag.data(), tag.size(), back.data()));
        EXPECT_EQ(back, pt);
        const Sealed st = stream_seal(kb, iv, aad, pt, random_pieces(rng, pt.size()));
        EXPECT_EQ(st.ct, ct);
        EXPECT_EQ(st.tag, tag);
      }
    }
  }
}

// One key shared by several threads (each thread has its own manager).
TEST(AesGcm, SharedKeyAcrossThreads) {
  std::mt19937_64 rng(11);
  const Bytes k = random_bytes(rng, 32);
  AesGcmKey key(k.data(), k.size());
  ASSERT_TRUE(key.ok());
  struct Job {
    Bytes iv, aad, pt;
    Sealed want;
  };
  std::vector<Job> jobs;
  for (int i = 0; i < 24; ++i) {
    Job j{random_bytes(rng, 12), random_bytes(rng, i), random_bytes(rng, 1 + rng() % 300000), {}};
    j.want = openssl_seal(k, j.iv, j.aad, j.pt, 16);
    jobs.push_back(std::move(j));
  }
  constexpr int kThreads = 4;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < jobs.size(); i += kThreads) {
        const Job& j = jobs[i];
        Bytes ct(j.pt.size()), tag(16), back(j.pt.size());
        if (!key.seal(j.iv.data(), 12, j.aad.data(), j.aad.size(), j.pt.data(), j.pt.size(),
                      ct.data(), tag.data()) ||
            ct != j.want.ct || tag != j.want.tag ||
            !key.open(j.iv.data(), 12, j.aad.data(), j.aad.size(), ct.data(), ct.size(), tag.data(),
                      16, back.data()) ||
            back != j.pt)
          ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(AesGcm, RejectsBadArguments) {
  const Bytes k(32, 5), iv(12, 6), aad(4, 7);
  for (size_t bad_len : {0, 1, 15, 20, 31, 33, 64}) {
    AesGcmKey bad(k.data(), bad_len);
    EXPECT_FALSE(bad.ok()) << bad_len;
    EXPECT_EQ(bad.key_len(), 0u);
    EXPECT_STREQ(bad.arch_name(), "none");
  }
  EXPECT_FALSE(AesGcmKey(nullptr, 32).ok());

  AesGcmKey key(k.data(), k.size());
  ASSERT_TRUE(key.ok());
  Bytes pt(40, 1), ct(40), tag(16), out(40, 0xAA);
  // IV must be non-empty.
  EXPECT_FALSE(
      key.seal(iv.data(), 0, aad.data(), aad.size(), pt.data(), pt.size(), ct.data(), tag.data()));
  EXPECT_FALSE(
      key.seal(nullptr, 12, aad.data(), aad.size(), pt.data(), pt.size(), ct.data(), tag.data()));
  // Tag length 12..16 only.
  for (size_t tl : {0, 4, 8, 11, 17}) {
    EXPECT_FALSE(key.seal(iv.data(), 12, aad.data(), aad.size(), pt.data(), pt.size(), ct.data(),
                          tag.data(), tl))
        << tl;
  }
  EXPECT_FALSE(
      key.seal(iv.data(), 12, aad.data(), aad.size(), pt.data(), pt.size(), ct.data(), nullptr));
  EXPECT_FALSE(key.seal(iv.data(), 12, nullptr, 4, pt.data(), pt.size(), ct.data(), tag.data()));
  EXPECT_FALSE(key.seal(iv.data(), 12, aad.data(), aad.size(), nullptr, 40, ct.data(), tag.data()));
  // Empty message and empty AAD with null pointers are fine.
  EXPECT_TRUE(key.seal(iv.data(), 12, nullptr, 0, nullptr, 0, nullptr, tag.data()));
  EXPECT_TRUE(key.open(iv.data(), 12, nullptr, 0, nullptr, 0, tag.data(), 16, nullptr));

  // Bad parameters on open zero-fill too.
  ASSERT_TRUE(
      key.seal(iv.data(), 12, aad.data(), aad.size(), pt.data(), pt.size(), ct.data(), tag.data()));
  EXPECT_FALSE(key.open(iv.data(), 12, aad.data(), aad.size(), ct.data(), ct.size(), tag.data(), 11,
                        out.data()));
  EXPECT_TRUE(all_zero(out));
  out.assign(40, 0xAA);
  EXPECT_FALSE(key.open(iv.data(), 0, aad.data(), aad.size(), ct.data(), ct.size(), tag.data(), 16,
                        out.data()));
  EXPECT_TRUE(all_zero(out));

  // Stream misuse.
  AesGcmStream s(key);
  uint8_t b[4] = {};
  EXPECT_FALSE(s.update(b, b, 4));  // not initialised
  EXPECT_FALSE(s.finish_encrypt(tag.data()));
  EXPECT_FALSE(s.init(AesGcmStream::Direction::kEncrypt, iv.data(), 0, nullptr, 0));
  ASSERT_TRUE(s.init(AesGcmStream::Direction::kEncrypt, iv.data(), 12, nullptr, 0));
  EXPECT_FALSE(s.finish_decrypt(tag.data()));  // wrong direction ends the stream
  EXPECT_FALSE(s.update(b, b, 4));
  ASSERT_TRUE(s.init(AesGcmStream::Direction::kEncrypt, iv.data(), 12, nullptr, 0));
  EXPECT_FALSE(s.update(nullptr, b, 4));
  EXPECT_FALSE(s.finish_encrypt(tag.data(), 17));
  EXPECT_FALSE(s.update(b, b, 4));  // finished (failed) streams stay closed
  ASSERT_TRUE(s.init(AesGcmStream::Direction::kDecrypt, iv.data(), 12, nullptr, 0));
  EXPECT_FALSE(s.finish_encrypt(tag.data()));

  AesGcmKey bad(k.data(), 7);
  AesGcmStream sb(bad);
  EXPECT_FALSE(sb.init(AesGcmStream::Direction::kEncrypt, iv.data(), 12, nullptr, 0));
  EXPECT_FALSE(bad.seal(iv.data(), 12, nullptr, 0, pt.data(), pt.size(), ct.data(), tag.data()));
}

}  // namespace
}  // namespace layercrypt::kernels
