// kernels/aes_ctr.cc: AES-256-CTR with a full 128-bit counter over
// ipsec-mb's CTR job (which only increments the low 32 bits).
#include "kernels/aes_ctr.h"

#include <intel-ipsec-mb.h>

#include <algorithm>
#include <cstring>

#include "kernels/secure_memory.h"

namespace layercrypt::kernels {
namespace {

// 128-bit big-endian counter block held as two host integers, so the carry
// out of the low 32 (and 64) bits is plain integer arithmetic.
struct Counter {
  uint64_t hi;
  uint64_t lo;

  void add(uint64_t blocks) {
    const uint64_t old = lo;
    lo += blocks;
    if (lo < old) ++hi;  // wraps mod 2^128 like Go / OpenSSL
  }
  void store(uint8_t out[16]) const {
    for (int i = 0; i < 8; ++i) {
      out[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
      out[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
  }
  // Blocks left before the low 32-bit word wraps: ipsec-mb would wrap it
  // without carrying, so one job must never cross this point.
  uint64_t blocks_before_low32_wrap() const {
    return (uint64_t{1} << 32) - static_cast<uint32_t>(lo);
  }
};

uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

// Runs one CTR job of `len` bytes (len > 0) starting at counter block `iv`
// and waits for it. The manager is the calling thread's own, so the only
// jobs in it are ours; still, ipsec-mb may hand back an older completed job
// first, so we keep flushing until the job carrying our marker returns.
bool run_ctr_job(IMB_MGR* mgr, const uint8_t* enc_keys, const uint8_t iv[16], const uint8_t* src,
                 uint8_t* dst, uint64_t len) {
  int marker = 0;  // its address identifies this call's job
  IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
  job->cipher_mode = IMB_CIPHER_CNTR;
  job->cipher_direction = IMB_DIR_ENCRYPT;
  job->chain_order = IMB_ORDER_CIPHER_HASH;
  job->hash_alg = IMB_AUTH_NULL;
  job->key_len_in_bytes = IMB_KEY_256_BYTES;
  job->enc_keys = enc_keys;
  job->dec_keys = enc_keys;  // CTR only ever runs the forward cipher
  job->iv = iv;
  job->iv_len_in_bytes = 16;
  job->src = src;
  job->dst = dst;
  job->cipher_start_src_offset_in_bytes = 0;
  job->msg_len_to_cipher_in_bytes = len;
  job->hash_start_src_offset_in_bytes = 0;
  job->msg_len_to_hash_in_bytes = 0;
  job->user_data = &marker;

  job = IMB_SUBMIT_JOB(mgr);
  if (imb_get_errno(mgr) != 0) {
    // Drain so the next caller on this thread starts from an empty queue.
    while (IMB_FLUSH_JOB(mgr) != nullptr) {
    }
    return false;
  }
  while (true) {
    if (job == nullptr) job = IMB_FLUSH_JOB(mgr);
    if (job == nullptr) return false;  // queue empty and ours never came back
    if (job->user_data == &marker) return job->status == IMB_STATUS_COMPLETED;
    job = nullptr;  // someone else's completed job: skip it
  }
}

}  // namespace

AesCtr256::AesCtr256(const uint8_t* key, size_t key_len, const uint8_t* iv, size_t iv_len,
                     ImbTier tier)
    : tier_(tier) {
  std::memset(enc_keys_, 0, sizeof(enc_keys_));
  if (key == nullptr || iv == nullptr || key_len != kKeyLen || iv_len != kIvLen) return;
  IMB_MGR* mgr = imb_manager(tier);
  if (mgr == nullptr) return;
  // ipsec-mb always writes the decryption schedule too; CTR never needs it.
  alignas(64) uint8_t dec_keys[16 * 15];
  ScopedWipe wipe_dec(dec_keys, sizeof(dec_keys));
  IMB_AES_KEYEXP_256(mgr, key, enc_keys_, dec_keys);
  iv_hi_ = load_be64(iv);
  iv_lo_ = load_be64(iv + 8);
  arch_name_ = imb_manager_arch_name(mgr);
  ok_ = true;
}

AesCtr256::~AesCtr256() {
  secure_wipe(enc_keys_, sizeof(enc_keys_));
  secure_wipe(&iv_hi_, sizeof(iv_hi_));
  secure_wipe(&iv_lo_, sizeof(iv_lo_));
}

bool AesCtr256::xor_at(uint64_t offset, const uint8_t* in, uint8_t* out, size_t len) const {
  if (!ok_) return false;
  if (len == 0) return true;  // ipsec-mb rejects zero-length CTR jobs
  if (in == nullptr || out == nullptr) return false;
  IMB_MGR* mgr = imb_manager(tier_);
  if (mgr == nullptr) return false;

  Counter ctr{iv_hi_, iv_lo_};
  ctr.add(offset / kBlockLen);
  alignas(16) uint8_t block[16];
  ScopedWipe wipe_block(block, sizeof(block));

  // Leading partial block: make one whole keystream block in a temporary
  // and use its tail, so ipsec-mb only ever starts on a block boundary.
  const size_t skip = static_cast<size_t>(offset % kBlockLen);
  if (skip != 0) {
    alignas(16) uint8_t ks[16] = {};
    ScopedWipe wipe_ks(ks, sizeof(ks));
    ctr.store(block);
    if (!run_ctr_job(mgr, enc_keys_, block, ks, ks, sizeof(ks))) return false;
    const size_t n = std::min(len, kBlockLen - skip);
    for (size_t i = 0; i < n; ++i) out[i] = in[i] ^ ks[skip + i];
    in += n;
    out += n;
    len -= n;
    ctr.add(1);
  }

  // Block-aligned remainder, one job per stretch that stays inside one
  // low-32-bit counter epoch. A trailing partial block is handled by
  // ipsec-mb itself (CTR jobs take any byte length). With 1 MiB chunks the
  // split happens at most once per 64 GiB of keystream, so the common case
  // is a single job per call.
  while (len > 0) {
    const uint64_t max_bytes = ctr.blocks_before_low32_wrap() * kBlockLen;
    const size_t n = len < max_bytes ? len : static_cast<size_t>(max_bytes);
    ctr.store(block);
    if (!run_ctr_job(mgr, enc_keys_, block, in, out, n)) return false;
    in += n;
    out += n;
    len -= n;
    ctr.add(n / kBlockLen);  // n is whole blocks whenever len remains
  }
  return true;
}

}  // namespace layercrypt::kernels
