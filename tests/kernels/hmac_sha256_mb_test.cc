// tests/kernels/hmac_sha256_mb_test.cc: kernels/hmac_sha256_mb.h on every
// ipsec-mb tier this CPU runs (plus kAuto) against OpenSSL's HMAC(), and the
// ipsec-mb 1.3 job-length limits the kernel is designed around.
#include "kernels/hmac_sha256_mb.h"

#include <gtest/gtest.h>
#include <intel-ipsec-mb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cpu.h"
#include "tests/support/imb_tiers.h"
#include "tests/support/test_util.h"
#include "tests/support/vector_file.h"

namespace layercrypt::kernels {
namespace {

using layercrypt::testing::random_bytes;
using layercrypt::testing::to_hex;
using Tag = uint8_t[kHmacSha256ManyTagLen];

std::string openssl_hmac(const std::vector<uint8_t>& key, const uint8_t* p, size_t n) {
  uint8_t tag[32];
  unsigned len = 0;
  static const uint8_t kEmpty = 0;
  EXPECT_NE(HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
                 n == 0 ? &kEmpty : p, n, tag, &len),
            nullptr);
  return to_hex(tag, 32);
}

// A batch of messages at pseudo-random offsets of one shared pool (so some
// overlap), with the sizes the kernel must route specially mixed in.
struct Batch {
  std::vector<const uint8_t*> msgs;
  std::vector<size_t> lens;
};

Batch make_batch(const std::vector<uint8_t>& pool, size_t count, uint32_t seed) {
  static const size_t kSpecial[] = {0, 1, 64, 65534, 65535, 200000, 16384, 63};
  std::mt19937 rng(seed);
  Batch b;
  for (size_t i = 0; i < count; ++i) {
    size_t len = (i % 3 == 0) ? kSpecial[(i / 3) % std::size(kSpecial)] : rng() % 70000;
    const size_t off = rng() % (pool.size() - len + 1);
    b.msgs.push_back(len == 0 && i % 2 == 0 ? nullptr : pool.data() + off);
    b.lens.push_back(len);
  }
  return b;
}

class HmacSha256ManyTest : public testing::ImbTierTest {};

TEST_P(HmacSha256ManyTest, EveryTagMatchesOpenSsl) {
  const ImbTier tier = GetParam();
  const auto pool = random_bytes(300000, 1);
  for (size_t key_len :
       {size_t{0}, size_t{20}, size_t{32}, size_t{64}, size_t{65}, size_t{131}, size_t{1000}}) {
    const auto key = random_bytes(key_len, static_cast<uint32_t>(key_len) + 100);
    HmacSha256Many many;
    ASSERT_TRUE(many.init(key.data(), key.size()));
    for (size_t count : {0, 1, 3, 16, 17, 100}) {
      SCOPED_TRACE("tier " + std::string(imb_tier_name(tier)) + " key_len " +
                   std::to_string(key_len) + " count " + std::to_string(count));
      const Batch b = make_batch(pool, count, static_cast<uint32_t>(count * 31 + key_len));
      std::vector<std::array<uint8_t, 32>> tags(count);
      auto* out = reinterpret_cast<Tag*>(tags.data());
      ASSERT_TRUE(many.compute(b.msgs.data(), b.lens.data(), count, count ? out : nullptr, tier));
      for (size_t i = 0; i < count; ++i)
        EXPECT_EQ(to_hex(tags[i].data(), 32), openssl_hmac(key, b.msgs[i], b.lens[i]))
            << "message " << i << " len " << b.lens[i];
      // The thread's manager is left empty for the next kernel.
      EXPECT_EQ(IMB_QUEUE_SIZE(imb_manager(hmac_sha256_many_tier(tier))), 0u);
    }
  }
}

TEST_P(HmacSha256ManyTest, AllLimitLengthsAndFreeFunction) {
  const ImbTier tier = GetParam();
  const auto pool = random_bytes(1 << 20, 2);
  const auto key = random_bytes(32, 3);
  // Every boundary in one batch, twice, so jobs and fallbacks interleave.
  std::vector<size_t> lens = {0,    1,     63,    64,    65,    127,     128,   129,
                              4095, 65533, 65534, 65535, 65536, 1 << 20, 200000};
  lens.insert(lens.end(), lens.begin(), lens.end());
  std::vector<const uint8_t*> msgs(lens.size(), pool.data());
  std::vector<std::array<uint8_t, 32>> tags(lens.size());
  ASSERT_TRUE(hmac_sha256_many(key.data(), key.size(), msgs.data(), lens.data(), lens.size(),
                               reinterpret_cast<Tag*>(tags.data()), tier));
  for (size_t i = 0; i < lens.size(); ++i)
    EXPECT_EQ(to_hex(tags[i].data(), 32), openssl_hmac(key, pool.data(), lens[i]))
        << "len " << lens[i];
}

TEST_P(HmacSha256ManyTest, ManyEqualJobsBeyondTheRing) {
  // More jobs than the manager's ring (IMB_MAX_JOBS) holds, so submit has to
  // complete old jobs itself.
  const ImbTier tier = GetParam();
  const size_t count = IMB_MAX_JOBS + 37;
  const auto pool = random_bytes(count + 1024, 4);
  const auto key = random_bytes(48, 5);
  std::vector<const uint8_t*> msgs(count);
  std::vector<size_t> lens(count);
  for (size_t i = 0; i < count; ++i) {
    msgs[i] = pool.data() + i;
    lens[i] = 1 + (i * 7) % 1024;
  }
  std::vector<std::array<uint8_t, 32>> tags(count);
  HmacSha256Many many;
  ASSERT_TRUE(many.init(key.data(), key.size()));
  ASSERT_TRUE(
      many.compute(msgs.data(), lens.data(), count, reinterpret_cast<Tag*>(tags.data()), tier));
  for (size_t i = 0; i < count; ++i)
    EXPECT_EQ(to_hex(tags[i].data(), 32), openssl_hmac(key, msgs[i], lens[i])) << i;
}

TEST_P(HmacSha256ManyTest, ConcurrentComputeOnOneObject) {
  const ImbTier tier = GetParam();
  const auto pool = random_bytes(200000, 6);
  const auto key = random_bytes(32, 7);
  HmacSha256Many many;
  ASSERT_TRUE(many.init(key.data(), key.size()));
  const Batch b = make_batch(pool, 40, 8);
  std::vector<std::string> want;
  for (size_t i = 0; i < 40; ++i) want.push_back(openssl_hmac(key, b.msgs[i], b.lens[i]));
  auto worker = [&](std::vector<std::array<uint8_t, 32>>* tags, bool* ok) {
    *ok = true;
    for (int r = 0; r < 5 && *ok; ++r)
      *ok = many.compute(b.msgs.data(), b.lens.data(), 40, reinterpret_cast<Tag*>(tags->data()),
                         tier);
  };
  std::vector<std::array<uint8_t, 32>> t1(40), t2(40);
  bool ok1 = false, ok2 = false;
  std::thread a(worker, &t1, &ok1), c(worker, &t2, &ok2);
  a.join();
  c.join();
  ASSERT_TRUE(ok1);
  ASSERT_TRUE(ok2);
  for (size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(to_hex(t1[i].data(), 32), want[i]);
    EXPECT_EQ(to_hex(t2[i].data(), 32), want[i]);
  }
}

TEST_P(HmacSha256ManyTest, RefusesAManagerWithForeignJobsInFlight) {
  const ImbTier tier = GetParam();
  IMB_MGR* mgr = imb_manager(hmac_sha256_many_tier(tier));
  ASSERT_NE(mgr, nullptr);
  // Another caller's job left in flight (one job does not fill the lanes, so
  // the manager keeps it queued). The kernel must not flush it away.
  static const uint8_t ipad[32] = {}, opad[32] = {};
  uint8_t foreign_msg[100] = {}, foreign_tag[32];
  IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
  job->cipher_mode = IMB_CIPHER_NULL;
  job->cipher_direction = IMB_DIR_ENCRYPT;
  job->chain_order = IMB_ORDER_HASH_CIPHER;
  job->hash_alg = IMB_AUTH_HMAC_SHA_256;
  job->src = foreign_msg;
  job->hash_start_src_offset_in_bytes = 0;
  job->msg_len_to_hash_in_bytes = sizeof(foreign_msg);
  job->auth_tag_output = foreign_tag;
  job->auth_tag_output_len_in_bytes = 32;
  job->u.HMAC._hashed_auth_key_xor_ipad = ipad;
  job->u.HMAC._hashed_auth_key_xor_opad = opad;
  IMB_JOB* done = IMB_SUBMIT_JOB(mgr);
  int drained = 0;
  while (done != nullptr) {
    ++drained;
    done = IMB_GET_COMPLETED_JOB(mgr);
  }
  if (IMB_QUEUE_SIZE(mgr) == 0) GTEST_SKIP() << "manager completed the lone job at submit";

  const uint8_t key[16] = {1};
  const uint8_t* msgs[1] = {foreign_msg};
  const size_t lens[1] = {10};
  Tag tags[1];
  EXPECT_FALSE(hmac_sha256_many(key, sizeof(key), msgs, lens, 1, tags, tier));
  EXPECT_EQ(IMB_QUEUE_SIZE(mgr), 1u);  // the foreign job is still there
  while ((done = IMB_FLUSH_JOB(mgr)) != nullptr) {
    EXPECT_EQ(done->status, IMB_STATUS_COMPLETED);
    ++drained;
  }
  EXPECT_EQ(drained, 1);
}

TEST_P(HmacSha256ManyTest, MisuseFails) {
  const ImbTier tier = GetParam();
  HmacSha256Many many;
  const uint8_t byte = 0;
  const uint8_t* msgs[2] = {&byte, nullptr};
  size_t lens[2] = {1, 5};
  Tag tags[2];
  EXPECT_FALSE(many.compute(msgs, lens, 1, tags, tier));  // unkeyed
  EXPECT_FALSE(many.init(nullptr, 3));
  EXPECT_FALSE(many.keyed());
  ASSERT_TRUE(many.init(&byte, 1));
  EXPECT_TRUE(many.compute(nullptr, nullptr, 0, nullptr, tier));
  EXPECT_FALSE(many.compute(msgs, lens, 2, tags, tier));  // null message with a length
  EXPECT_FALSE(many.compute(nullptr, lens, 1, tags, tier));
  EXPECT_FALSE(many.compute(msgs, nullptr, 1, tags, tier));
  EXPECT_FALSE(many.compute(msgs, lens, 1, nullptr, tier));
  EXPECT_EQ(IMB_QUEUE_SIZE(imb_manager(hmac_sha256_many_tier(tier))), 0u);
}

INSTANTIATE_TEST_SUITE_P(Tiers, HmacSha256ManyTest, ::testing::ValuesIn(testing::all_imb_tiers()),
                         testing::imb_tier_param_name);

// The ipsec-mb 1.3 limits the kernel routes around, checked on the raw job
// API of every tier: if a newer ipsec-mb lifts them, this fails and
// kImbHmacSha256MaxJobLen (and the header's measurements) must be revisited.
class ImbHmacSha256LimitTest : public HmacSha256ManyTest {};

TEST_P(ImbHmacSha256LimitTest, JobAcceptsOneTo65534Bytes) {
  IMB_MGR* mgr = imb_manager(GetParam());
  ASSERT_NE(mgr, nullptr);
  const auto key = random_bytes(32, 9);
  const auto data = random_bytes(70000, 10);
  uint8_t k0[64] = {}, block[64];
  alignas(64) uint8_t ipad[32], opad[32];
  std::memcpy(k0, key.data(), key.size());
  for (int i = 0; i < 64; ++i) block[i] = k0[i] ^ 0x36;
  IMB_SHA256_ONE_BLOCK(mgr, block, ipad);
  for (int i = 0; i < 64; ++i) block[i] = k0[i] ^ 0x5c;
  IMB_SHA256_ONE_BLOCK(mgr, block, opad);
  for (size_t len : {size_t{0}, size_t{1}, size_t{65534}, size_t{65535}, size_t{65536}}) {
    SCOPED_TRACE("len " + std::to_string(len));
    uint8_t tag[32] = {};
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
    job->cipher_mode = IMB_CIPHER_NULL;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_HASH_CIPHER;
    job->hash_alg = IMB_AUTH_HMAC_SHA_256;
    job->src = data.data();
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = len;
    job->auth_tag_output = tag;
    job->auth_tag_output_len_in_bytes = 32;
    job->u.HMAC._hashed_auth_key_xor_ipad = ipad;
    job->u.HMAC._hashed_auth_key_xor_opad = opad;
    IMB_JOB* done = IMB_SUBMIT_JOB(mgr);
    const int submit_errno = imb_get_errno(mgr);
    int status = -1, jobs = 0;
    for (; done != nullptr; done = IMB_GET_COMPLETED_JOB(mgr), ++jobs) status = done->status;
    for (done = IMB_FLUSH_JOB(mgr); done != nullptr; done = IMB_FLUSH_JOB(mgr), ++jobs)
      status = done->status;
    ASSERT_EQ(jobs, 1);
    if (len >= 1 && len <= kImbHmacSha256MaxJobLen) {
      EXPECT_EQ(status, IMB_STATUS_COMPLETED);
      EXPECT_EQ(submit_errno, 0);
      EXPECT_EQ(to_hex(tag, 32), openssl_hmac(key, data.data(), len));
    } else {
      EXPECT_EQ(status, IMB_STATUS_INVALID_ARGS);
      EXPECT_EQ(submit_errno, IMB_ERR_JOB_AUTH_LEN);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, ImbHmacSha256LimitTest,
                         ::testing::ValuesIn(testing::all_imb_tiers()),
                         testing::imb_tier_param_name);

}  // namespace
}  // namespace layercrypt::kernels
