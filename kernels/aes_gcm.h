// kernels/aes_gcm.h: AES-GCM (128/192/256-bit keys) over ipsec-mb's direct
// GCM API.
//
// What: AesGcmKey is a precomputed GCM key (AES round keys plus the GHASH
// key powers) with one-shot seal/open; AesGcmStream runs one message through
// init / update(any piece sizes) / finish for data that arrives in chunks.
// Semantics are NIST SP 800-38D and match OpenSSL's EVP_aes_*_gcm: any IV
// length >= 1 byte (12 is the standard one and the fast path), AAD of any
// length, tags are the leftmost tag_len bytes of the 16-byte GCM tag.
//
// Why: the main user is AES-256-GCM (JWE A256GCM key wrapping and content
// encryption); A128GCM and A192GCM come for free from the same code.
//
// Decryption policy (BoringSSL's EVP_AEAD contract): AesGcmKey::open only
// returns plaintext whose tag verified; on any failure the output is
// zero-filled. AesGcmStream::update, in contrast, necessarily releases
// plaintext before the tag is checked; callers that stream decryption must
// not act on it until finish_decrypt returns true.
//
// ipsec-mb notes: the precomputed key layout differs between ipsec-mb
// architectures, so a key is bound to the tier it was built for; ipsec-mb's
// direct GCM functions report bad parameters only through a process-global
// errno, so this layer validates every parameter itself before calling in.
#ifndef LAYERCRYPT_KERNELS_AES_GCM_H_
#define LAYERCRYPT_KERNELS_AES_GCM_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/cpu.h"

namespace layercrypt::kernels {

// AesGcmKey holds the expanded key material for one AES-GCM key.
//
// Lifetime and threads: built once, immutable afterwards. seal and open are
// const and may run concurrently from any number of threads; each call uses
// the calling thread's ipsec-mb manager for the key's tier. Key material
// and every per-call GCM context are wiped when no longer needed. Not
// copyable or movable.
class AesGcmKey {
 public:
  static constexpr size_t kTagLen = 16;     // default and maximum tag length
  static constexpr size_t kMinTagLen = 12;  // shortest tag accepted
  static constexpr size_t kStdIvLen = 12;   // the standard (fast) IV length
  // SP 800-38D limit on one message: 2^39 - 256 bits.
  static constexpr uint64_t kMaxMessageLen = (uint64_t{1} << 36) - 32;

  // AesGcmKey expands `key`, whose `key_len` must be 16, 24 or 32 (AES-128,
  // -192, -256), for ipsec-mb tier `tier`. Never throws: on a bad length or
  // an unsupported tier, ok() returns false and every operation fails. `key`
  // is copied; the caller may wipe it afterwards.
  AesGcmKey(const uint8_t* key, size_t key_len, ImbTier tier = ImbTier::kAuto);
  ~AesGcmKey();
  AesGcmKey(const AesGcmKey&) = delete;
  AesGcmKey& operator=(const AesGcmKey&) = delete;

  // ok returns true if the key was built and can be used.
  bool ok() const { return ok_; }

  // key_len returns 16, 24 or 32 (0 if !ok()).
  size_t key_len() const { return ok_ ? key_len_ : 0; }

  // tier returns the ipsec-mb tier the key material was computed for.
  ImbTier tier() const { return tier_; }

  // arch_name returns the ipsec-mb architecture that runs this key ("sse",
  // "avx", "avx2", "avx512", or "none" if !ok()). Thread-safe.
  const char* arch_name() const { return arch_name_; }

  // seal encrypts `len` bytes of `in` into `out` (same length) under `iv`
  // (`iv_len` >= 1) and `aad`, and writes the first `tag_len` (12..16) bytes
  // of the GCM tag to `tag`. `in` and `out` may be the same pointer; no
  // other overlap. Pointers may be null when their length is 0. Returns true
  // on success; false (nothing meaningful in `out`/`tag`) if !ok(), iv_len is
  // 0, tag_len is out of range, a required pointer is null, or `len` exceeds
  // kMaxMessageLen. Thread-safe.
  bool seal(const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len, const uint8_t* in,
            size_t len, uint8_t* out, uint8_t* tag, size_t tag_len = kTagLen) const;

  // open decrypts `len` bytes of `in` into `out` and verifies the `tag_len`
  // (12..16) byte `tag` in constant time. Returns true only if the tag is
  // authentic. On any failure (bad tag, bad parameters, !ok()) returns false
  // and, if `out` is non-null, zero-fills out[0, len), so unauthenticated
  // plaintext never escapes; with in == out the ciphertext is lost too.
  // `in` and `out` may be the same pointer; no other overlap. Thread-safe.
  bool open(const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len, const uint8_t* in,
            size_t len, const uint8_t* tag, size_t tag_len, uint8_t* out) const;

 private:
  friend class AesGcmStream;
  struct Material;  // wraps ipsec-mb's gcm_key_data (64-byte aligned)
  std::unique_ptr<Material> material_;
  size_t key_len_ = 0;
  ImbTier tier_;
  const char* arch_name_ = "none";
  bool ok_ = false;
};

// AesGcmStream encrypts or decrypts one message at a time in pieces:
// init(...), any number of update(...) calls of any sizes (including 0),
// then finish_encrypt or finish_decrypt. After finish (or a failed call) the
// stream must be init'ed again before reuse. The result is identical to one
// seal/open over the concatenated pieces.
//
// Lifetime and threads: borrows `key`, which must outlive the stream. One
// stream must not be used by two threads at the same time (it holds the
// running GCM context); different streams over the same key may run in
// parallel. The GCM context is wiped on finish, on re-init and in the
// destructor. Not copyable or movable.
class AesGcmStream {
 public:
  enum class Direction : uint8_t { kEncrypt, kDecrypt };

  explicit AesGcmStream(const AesGcmKey& key);
  ~AesGcmStream();
  AesGcmStream(const AesGcmStream&) = delete;
  AesGcmStream& operator=(const AesGcmStream&) = delete;

  // init starts a message in direction `dir` with `iv` (`iv_len` >= 1) and
  // the whole `aad` (`aad` may be null if aad_len is 0). Returns true on
  // success; false if the key is not ok() or iv is missing/empty, leaving the
  // stream unusable until the next successful init. Not thread-safe.
  bool init(Direction dir, const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len);

  // update encrypts or decrypts the next `len` bytes of the message from
  // `in` into `out`. `in` and `out` may be the same pointer; no other
  // overlap. Returns true on success; false if the stream is not initialised
  // (or already finished/failed), a pointer is null with len > 0, or the
  // message would exceed AesGcmKey::kMaxMessageLen (the stream then fails
  // permanently until init). When decrypting, the output is NOT yet
  // authenticated. Not thread-safe.
  bool update(const uint8_t* in, uint8_t* out, size_t len);

  // finish_encrypt ends an encryption and writes the first `tag_len`
  // (12..16) bytes of the tag to `tag`. Returns false if the stream is not an
  // initialised encryption or tag/tag_len is invalid. The stream must be
  // re-initialised afterwards either way. Not thread-safe.
  bool finish_encrypt(uint8_t* tag, size_t tag_len = AesGcmKey::kTagLen);

  // finish_decrypt ends a decryption and compares the first `tag_len`
  // (12..16) bytes of the computed tag with `tag` in constant time. Returns
  // true only if they match; false on mismatch or misuse. The caller must
  // discard all plaintext produced by update() when this returns false. The
  // stream must be re-initialised afterwards either way. Not thread-safe.
  bool finish_decrypt(const uint8_t* tag, size_t tag_len = AesGcmKey::kTagLen);

 private:
  enum class State : uint8_t { kIdle, kEncrypting, kDecrypting };
  struct Context;  // wraps ipsec-mb's gcm_context_data
  void reset();

  const AesGcmKey& key_;
  std::unique_ptr<Context> ctx_;
  uint64_t total_len_ = 0;
  State state_ = State::kIdle;
};

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_AES_GCM_H_
