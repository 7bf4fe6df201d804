// kernels/aes_ctr.h: seekable AES-256-CTR keystream over ipsec-mb.
//
// What: AesCtr256 XORs the AES-256-CTR keystream into a buffer. The 16-byte IV
// is the whole initial counter block and block i of the keystream is
// AES(K, IV + i), where "+" is a 128-bit big-endian addition that wraps
// modulo 2^128. These are exactly the semantics of Go's cipher.NewCTR and
// OpenSSL's EVP_aes_256_ctr, which ocicrypt's layer cipher (AES-256-CTR +
// HMAC-SHA256) relies on, so a layer encrypted here decrypts with
// containers/ocicrypt and vice versa.
//
// Why seekable: the engine splits a layer into chunks (typically 1 MiB) and
// encrypts them on several threads at once. xor_at(offset, ...) produces the
// keystream bytes [offset, offset + len) directly, so chunk k never waits for
// chunks 0..k-1.
//
// ipsec-mb caveat handled here: its CTR job with a 16-byte IV increments only
// the low 32 bits of the counter block. The kernel therefore splits every
// call at each 2^32-block boundary of the low counter word and carries into
// the upper 96 bits itself, so callers always get the full 128-bit counter.
#ifndef LAYERCRYPT_KERNELS_AES_CTR_H_
#define LAYERCRYPT_KERNELS_AES_CTR_H_

#include <cstddef>
#include <cstdint>

#include "kernels/cpu.h"

namespace layercrypt::kernels {

// AesCtr256 holds one expanded AES-256 key and one initial counter block.
//
// Lifetime and threads: the key schedule is expanded once in the constructor
// and the object is immutable afterwards, so any number of threads may call
// xor_at on the same object concurrently. Each call uses the calling thread's
// own ipsec-mb manager for the object's tier (kernels::imb_manager), never a
// shared one. The expanded key is wiped in the destructor. Not copyable or
// movable (no stray copies of the key schedule).
class AesCtr256 {
 public:
  static constexpr size_t kKeyLen = 32;
  static constexpr size_t kIvLen = 16;
  static constexpr size_t kBlockLen = 16;

  // AesCtr256 expands `key` (`key_len` must be 32) and stores `iv` (`iv_len`
  // must be 16, the full initial counter block) for ipsec-mb tier `tier`.
  // It never throws: on a wrong length, or if `tier` cannot run on this CPU,
  // the object is unusable and ok() returns false. `key` and `iv` are copied;
  // the caller may wipe them afterwards.
  AesCtr256(const uint8_t* key, size_t key_len, const uint8_t* iv, size_t iv_len,
            ImbTier tier = ImbTier::kAuto);
  ~AesCtr256();
  AesCtr256(const AesCtr256&) = delete;
  AesCtr256& operator=(const AesCtr256&) = delete;

  // ok returns true if construction succeeded and xor_at can be used.
  bool ok() const { return ok_; }

  // xor_at XORs keystream bytes [offset, offset + len) into `in` and writes
  // the result to `out` (encryption and decryption are the same operation).
  // `offset` is a byte position in the keystream and need not be a multiple
  // of 16. `in` and `out` may be the same pointer (in-place); any other
  // overlap is not allowed. Returns true on success (also for len == 0, where
  // the pointers may be null). Returns false if !ok(), if `in` or `out` is
  // null with len > 0, or if ipsec-mb reports a job failure; in that case
  // `out` may hold partial output and must be discarded. Thread-safe (const;
  // see the class comment). The keystream wraps after 2^128 blocks, as in
  // Go and OpenSSL; uint64 offsets can never get there.
  bool xor_at(uint64_t offset, const uint8_t* in, uint8_t* out, size_t len) const;

  // tier returns the ipsec-mb tier this object was built for.
  ImbTier tier() const { return tier_; }

  // arch_name returns the ipsec-mb architecture that runs this object's jobs
  // ("sse", "avx", "avx2", "avx512", or "none" if !ok()). Thread-safe.
  const char* arch_name() const { return arch_name_; }

 private:
  alignas(64) uint8_t enc_keys_[16 * 15];  // 15 round keys, AES-256
  uint64_t iv_hi_ = 0;                     // counter block, big-endian halves
  uint64_t iv_lo_ = 0;
  ImbTier tier_;
  const char* arch_name_ = "none";
  bool ok_ = false;
};

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_AES_CTR_H_
