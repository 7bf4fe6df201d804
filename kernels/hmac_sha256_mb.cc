// kernels/hmac_sha256_mb.cc: multi-buffer HMAC-SHA256 over ipsec-mb jobs,
// with the OpenSSL streaming HMAC for messages ipsec-mb 1.3 cannot take.
#include "kernels/hmac_sha256_mb.h"

#include <intel-ipsec-mb.h>

#include <cstring>

#include "kernels/hmac_sha256.h"

namespace layercrypt::kernels {
namespace {

bool cpu_has_shani() {
  static const bool has = [] {
    const IMB_MGR* mgr = imb_manager(ImbTier::kAuto);
    return mgr != nullptr && (mgr->features & IMB_FEATURE_SHANI) != 0;
  }();
  return has;
}

// fits_one_job: ipsec-mb 1.3 rejects HMAC-SHA256 jobs of 0 bytes and of more
// than 65,534 bytes (IMB_ERR_JOB_AUTH_LEN), measured on every tier.
bool fits_one_job(size_t len) { return len != 0 && len <= kImbHmacSha256MaxJobLen; }

}  // namespace

ImbTier hmac_sha256_many_tier(ImbTier tier) {
  // Measured on Zen 4, ipsec-mb 1.3 (bench/bench_hmac_sha256.cc,
  // BM_HmacMany; GB/s = 1e9 B/s of message, one core):
  //   jobs x len       sse/avx/avx2 (SHA-NI)   avx512 (16 lanes)
  //   1 x 16 KiB       1.7                     0.22
  //   4 x 16 KiB       3.2                     0.87
  //   8 x 16 KiB       3.1-3.3                 1.7
  //   16 x 16 KiB      3.1-3.3                 3.1-3.6
  //   17 x 16 KiB      2.8-3.2                 1.8-1.9
  //   64 x 16 KiB      2.8-3.3                 3.2-3.6
  //   16 x mixed       2.9-3.4                 1.7-1.8
  //   64 x mixed       3.0-3.2                 2.9
  // (two runs: a quiet one and bench_hmac_sha256 on a loaded 2-vCPU VM;
  // mixed = sizes uniform in 1..65534.)
  // The 16-lane path pays a full 16-lane pass per flush however few lanes
  // are busy, so it only catches up at multiples of 16 equal-length messages
  // (gain 3-5% loaded, up to ~20% quiet) and loses up to 8x
  // elsewhere. A count threshold would not capture that (17 is worse than
  // 16), so with SHA-NI present kAuto always takes the sse manager, which
  // ipsec-mb documents as its SHA-NI tier (avx/avx2 measured the same).
  if (tier == ImbTier::kAuto && cpu_has_shani() && imb_tier_supported(ImbTier::kSse))
    return ImbTier::kSse;
  return tier;
}

HmacSha256Many::~HmacSha256Many() {
  secure_wipe(ipad_state_, sizeof(ipad_state_));
  secure_wipe(opad_state_, sizeof(opad_state_));
}

bool HmacSha256Many::init(const uint8_t* key, size_t key_len) {
  keyed_ = false;
  secure_wipe(ipad_state_, sizeof(ipad_state_));
  secure_wipe(opad_state_, sizeof(opad_state_));
  SecretBytes().swap(key_);  // frees (and so wipes) the old key's buffer
  if (key == nullptr && key_len != 0) return false;
  // Any manager computes the same states: they are plain SHA-256 chaining
  // values in the layout every tier's HMAC job reads (checked per tier by the
  // tests).
  IMB_MGR* mgr = imb_manager(ImbTier::kAuto);
  if (mgr == nullptr) return false;

  // RFC 2104: K0 = key zero-padded to the block size, or SHA-256(key)
  // zero-padded if the key is longer than a block.
  alignas(64) uint8_t k0[IMB_SHA_256_BLOCK_SIZE] = {};
  alignas(64) uint8_t block[IMB_SHA_256_BLOCK_SIZE];
  ScopedWipe wipe_k0(k0, sizeof(k0));
  ScopedWipe wipe_block(block, sizeof(block));
  if (key_len > IMB_SHA_256_BLOCK_SIZE) {
    IMB_SHA256(mgr, key, key_len, k0);
  } else if (key_len != 0) {
    std::memcpy(k0, key, key_len);
  }
  for (size_t i = 0; i < sizeof(block); ++i) block[i] = k0[i] ^ 0x36;
  IMB_SHA256_ONE_BLOCK(mgr, block, ipad_state_);
  for (size_t i = 0; i < sizeof(block); ++i) block[i] = k0[i] ^ 0x5c;
  IMB_SHA256_ONE_BLOCK(mgr, block, opad_state_);
  // No imb_get_errno check here: the direct hash API reports only null
  // pointers (impossible above), and the manager's errno describes whatever
  // call last touched it, possibly another kernel's.
  if (key_len != 0) key_.assign(key, key + key_len);
  keyed_ = true;
  return true;
}

bool HmacSha256Many::compute(const uint8_t* const* msgs, const size_t* msg_lens, size_t num_msgs,
                             uint8_t (*out_tags)[kHmacSha256ManyTagLen], ImbTier tier) const {
  if (!keyed_) return false;
  if (num_msgs == 0) return true;
  if (msgs == nullptr || msg_lens == nullptr || out_tags == nullptr) return false;
  // Validate everything before submitting anything, so a bad argument never
  // leaves half a batch in flight.
  for (size_t i = 0; i < num_msgs; ++i)
    if (msgs[i] == nullptr && msg_lens[i] != 0) return false;

  size_t num_jobs = 0;
  for (size_t i = 0; i < num_msgs; ++i) num_jobs += fits_one_job(msg_lens[i]) ? 1 : 0;

  bool ok = true;
  if (num_jobs != 0) {
    IMB_MGR* mgr = imb_manager(hmac_sha256_many_tier(tier));
    if (mgr == nullptr) return false;
    // The manager is shared by every kernel on this thread. Kernels drain it
    // before returning, so jobs already in flight belong to a caller we must
    // not interfere with: flushing would complete (and hand us) its jobs.
    if (IMB_QUEUE_SIZE(mgr) != 0) return false;

    size_t completed = 0;
    auto drain = [&](IMB_JOB* job) {
      while (job != nullptr) {
        // Every job is checked: a rejected job still "completes" with an
        // error status and an unwritten tag.
        if (job->status != IMB_STATUS_COMPLETED) ok = false;
        ++completed;
        job = IMB_GET_COMPLETED_JOB(mgr);
      }
    };
    // Submit all, then flush: the manager keeps up to IMB_MAX_JOBS in its
    // ring (it completes the oldest itself when the ring is full), so every
    // lane stays busy until the tail.
    for (size_t i = 0; i < num_msgs; ++i) {
      if (!fits_one_job(msg_lens[i])) continue;
      IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
      job->cipher_mode = IMB_CIPHER_NULL;
      job->cipher_direction = IMB_DIR_ENCRYPT;
      job->chain_order = IMB_ORDER_HASH_CIPHER;
      job->hash_alg = IMB_AUTH_HMAC_SHA_256;
      job->src = msgs[i];
      job->hash_start_src_offset_in_bytes = 0;
      job->msg_len_to_hash_in_bytes = msg_lens[i];
      job->auth_tag_output = out_tags[i];
      job->auth_tag_output_len_in_bytes = kHmacSha256ManyTagLen;
      job->u.HMAC._hashed_auth_key_xor_ipad = ipad_state_;
      job->u.HMAC._hashed_auth_key_xor_opad = opad_state_;
      job->user_data = nullptr;
      job->user_data2 = nullptr;
      // IMB_SUBMIT_JOB_NOCHECK produced wrong tags in 1.3; always check.
      // errno describes the last call only, so read it right after submit.
      IMB_JOB* done = IMB_SUBMIT_JOB(mgr);
      if (imb_get_errno(mgr) != 0) ok = false;
      drain(done);
    }
    for (IMB_JOB* job = IMB_FLUSH_JOB(mgr); job != nullptr; job = IMB_FLUSH_JOB(mgr)) {
      if (imb_get_errno(mgr) != 0) ok = false;
      drain(job);
    }
    if (completed != num_jobs) ok = false;
  }

  // Messages ipsec-mb 1.3 cannot hash (0 bytes, > 65,534 bytes) go through
  // one OpenSSL context keyed once and reset per message.
  if (num_jobs != num_msgs) {
    HmacSha256 mac;
    if (!mac.init(key_.data(), key_.size())) return false;
    bool fresh = true;
    for (size_t i = 0; i < num_msgs; ++i) {
      if (fits_one_job(msg_lens[i])) continue;
      if (!fresh && !mac.reset()) return false;
      fresh = false;
      if (!mac.update(msgs[i], msg_lens[i]) || !mac.final(out_tags[i], kHmacSha256ManyTagLen))
        return false;
    }
  }
  return ok;
}

bool hmac_sha256_many(const uint8_t* key, size_t key_len, const uint8_t* const* msgs,
                      const size_t* msg_lens, size_t num_msgs,
                      uint8_t (*out_tags)[kHmacSha256ManyTagLen], ImbTier tier) {
  HmacSha256Many many;
  return many.init(key, key_len) && many.compute(msgs, msg_lens, num_msgs, out_tags, tier);
}

}  // namespace layercrypt::kernels
