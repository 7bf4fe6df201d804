// kernels/hmac_sha256_mb.h: multi-buffer one-shot HMAC-SHA256 of many
// independent messages under one key, through ipsec-mb's job API.
//
// What: given N complete messages (e.g. the chunks or manifests of several
// layers authenticated with the same key), compute N full 32-byte
// HMAC-SHA256 tags. Each tag equals HMAC-SHA256(key, msg[i]) exactly as
// kernels/hmac_sha256.h (and RFC 2104) would compute it.
//
// How: the key's inner/outer states (SHA-256 of key^0x36.. and key^0x5c..
// blocks, IMB_SHA256_ONE_BLOCK; keys over 64 bytes hashed first with
// IMB_SHA256) are precomputed once by HmacSha256Many::init(). compute() then
// submits one IMB_AUTH_HMAC_SHA_256 / IMB_CIPHER_NULL job per message with
// IMB_SUBMIT_JOB (always the checking variant), keeps them all in flight,
// flushes, and checks every job's status and imb_get_errno. The manager
// comes from kernels::imb_manager(tier), i.e. the calling thread's own.
//
// Measured limits of ipsec-mb 1.3 (all tiers, Zen 4; the length limits are
// re-checked on every tier by tests/kernels/hmac_sha256_mb_test.cc, the
// speeds by bench/bench_hmac_sha256.cc):
//   * A job hashes 1..65,534 bytes (kImbHmacSha256MaxJobLen). Longer
//     messages are rejected (status IMB_STATUS_INVALID_ARGS, errno 2009
//     IMB_ERR_JOB_AUTH_LEN "Invalid authentication message length"), and so is
//     a 0-byte message. IMB_SUBMIT_JOB_NOCHECK skips that check and, in our
//     probe, returned WRONG tags for every length tried (0..131072, valid
//     ones included), so it is never used.
//   * Those messages still get a correct tag: compute() hashes every message
//     of 0 or more than 65,534 bytes with the OpenSSL streaming HMAC
//     (kernels/hmac_sha256.h) on the calling thread, at single-stream speed.
//   * Tiers: the avx512 manager (what init_mb_mgr_auto picks here) hashes in
//     16 AVX-512 lanes: a lone job runs at ~0.22 GB/s and every flush costs a
//     full 16-lane pass however few lanes are busy, so it reaches ~3.1-3.6
//     GB/s per core only with 16 equal jobs (or multiples of 16) in flight;
//     17 equal jobs drop to ~1.8 GB/s, and with mixed sizes it stays below
//     the SHA-NI managers (1.7 vs 2.9-3.4 GB/s at 16 jobs, 2.9 vs 3.0-3.2
//     at 64).
//     The sse/avx/avx2 managers use SHA-NI: ~1.7 GB/s for a lone job and
//     ~2.8-3.4 GB/s from 2 jobs on (two interleaved streams), flat in the job
//     count. (GB/s = 1e9 message bytes/s on one core; the benchmark prints
//     GiB/s.)
//     Crossover: the 16-lane path wins only for batches of multiples of 16
//     equal-length messages, by 3-5% on a loaded VM and up to ~20% quiet; everywhere else SHA-NI
//     wins, by up to 8x. The full table is next to hmac_sha256_many_tier() in the .cc; the rows
//     come from bench/bench_hmac_sha256.cc (BM_HmacMany/<tier>/jobs:N/len:L). For comparison one
//     OpenSSL stream (kernels/hmac_sha256.h) does ~1.7.
//   * kAuto therefore does not mean init_mb_mgr_auto here: if the CPU has
//     SHA-NI, kAuto runs on the sse manager (ipsec-mb's documented SHA-NI
//     tier); otherwise on the init_mb_mgr_auto manager. An explicit tier is
//     always honoured. hmac_sha256_many_tier() reports the choice.
//
// Secrets: the key (kept for the OpenSSL fallback) is held in SecretBytes,
// the ipad/opad states and key blocks are wiped when no longer needed.
//
// Why not always OpenSSL: one OpenSSL stream is ~1.7 GB/s; a multi-buffer
// batch of >= 2 messages on a SHA-NI manager roughly doubles that per core.
#ifndef LAYERCRYPT_KERNELS_HMAC_SHA256_MB_H_
#define LAYERCRYPT_KERNELS_HMAC_SHA256_MB_H_

#include <cstddef>
#include <cstdint>

#include "kernels/cpu.h"
#include "kernels/secure_memory.h"

namespace layercrypt::kernels {

// kImbHmacSha256MaxJobLen is the longest message (bytes) one ipsec-mb 1.3
// HMAC-SHA256 job accepts; longer ones take the OpenSSL fallback.
inline constexpr size_t kImbHmacSha256MaxJobLen = 65534;

// kHmacSha256ManyTagLen is the size of each output tag (full, untruncated).
inline constexpr size_t kHmacSha256ManyTagLen = 32;

// hmac_sha256_many_tier returns the tier whose manager compute() uses for a
// request of `tier`: `tier` itself if explicit; for kAuto, kSse if the CPU
// has SHA-NI (see the measurements above), else kAuto. Thread-safe.
ImbTier hmac_sha256_many_tier(ImbTier tier);

// HmacSha256Many holds one key's precomputed HMAC-SHA256 states for repeated
// multi-buffer batches.
//
// Thread-safety: init() must not race with anything else on the object;
// compute() is const and may run concurrently from several threads (each
// uses its own thread's ipsec-mb manager). Not copyable or movable (it owns
// secret state in place; hold it by unique_ptr to move it around).
class HmacSha256Many {
 public:
  HmacSha256Many() = default;
  // ~HmacSha256Many wipes the ipad/opad states and the key.
  ~HmacSha256Many();
  HmacSha256Many(const HmacSha256Many&) = delete;
  HmacSha256Many& operator=(const HmacSha256Many&) = delete;

  // init keys the object with the `key_len` bytes at `key` (any length; `key`
  // may be null when `key_len` is 0), replacing any previous key. Returns true
  // on success; false if `key` is null with a non-zero length or no ipsec-mb
  // manager is available, in which case the object is unkeyed.
  bool init(const uint8_t* key, size_t key_len);

  // keyed returns true after a successful init().
  bool keyed() const { return keyed_; }

  // compute writes HMAC-SHA256(key, msgs[i][0..msg_lens[i])) to out_tags[i]
  // for every i < num_msgs, using the manager of hmac_sha256_many_tier(tier).
  // msgs[i] may be null when msg_lens[i] is 0; messages may share or overlap
  // memory, but no tag may overlap any message (ipsec-mb reads messages while
  // writing earlier tags). Messages of 0 or > kImbHmacSha256MaxJobLen bytes
  // are hashed with OpenSSL (see above). num_msgs == 0 returns true.
  // Returns true only if every tag was computed; false if the object is
  // unkeyed, an argument is null where data is needed, the manager for the
  // tier is unavailable (unsupported CPU) or already has jobs in flight from
  // another caller on this thread, or any job or OpenSSL call failed. On
  // failure the contents of out_tags are unspecified. The manager is always
  // left with no jobs in flight.
  bool compute(const uint8_t* const* msgs, const size_t* msg_lens, size_t num_msgs,
               uint8_t (*out_tags)[kHmacSha256ManyTagLen], ImbTier tier = ImbTier::kAuto) const;

 private:
  // Inner/outer SHA-256 states after one block of key^ipad / key^opad, in the
  // layout IMB_SHA256_ONE_BLOCK writes and the HMAC job reads (the same for
  // every tier).
  alignas(64) uint8_t ipad_state_[32] = {};
  alignas(64) uint8_t opad_state_[32] = {};
  SecretBytes key_;  // for the OpenSSL fallback
  bool keyed_ = false;
};

// hmac_sha256_many keys a temporary HmacSha256Many with `key` and runs
// compute(msgs, msg_lens, num_msgs, out_tags, tier). Returns true on success;
// false in any case init() or compute() would. Thread-safe.
bool hmac_sha256_many(const uint8_t* key, size_t key_len, const uint8_t* const* msgs,
                      const size_t* msg_lens, size_t num_msgs,
                      uint8_t (*out_tags)[kHmacSha256ManyTagLen], ImbTier tier = ImbTier::kAuto);

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_HMAC_SHA256_MB_H_
