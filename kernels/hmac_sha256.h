// kernels/hmac_sha256.h: streaming HMAC-SHA256 (RFC 2104 / FIPS 198-1)
// through OpenSSL 3 EVP_MAC.
//
// What: one HMAC-SHA256 computation that absorbs data in pieces of any size
// and finishes into a 32-byte tag, or checks an expected tag in constant time.
// ocicrypt's AES_256_CTR_HMAC_SHA256 authenticates a whole layer's
// ciphertext with one HMAC, so the engine streams the layer through update()
// instead of buffering it.
//
// Semantics: the tag is HMAC-SHA256(key, m) where m is every byte passed to
// update() since init() or the last reset(), in order, however it was split.
// The key may have any length, including 0; keys longer than 64 bytes are
// hashed first, as RFC 2104 requires. Tags are always full length (32 bytes):
// the kernel neither produces nor accepts truncated tags (ocicrypt uses the
// full tag; truncation is caller policy). After final() or verify() the
// object is finished until reset() (same key) or init() (new key).
//
// Why OpenSSL EVP_MAC "HMAC" with digest "SHA256": the audited
// implementation, SHA-NI accelerated: measured 1.75 GB/s (1.63 GiB/s) per
// stream at 1 MiB updates on Zen 4, equal to OpenSSL's one-shot HMAC()
// (bench/bench_hmac_sha256.cc). The EVP_MAC is fetched once per process.
// Per-update overhead is a few indirect calls (EVP_MAC_update -> provider ->
// HMAC_Update -> EVP_DigestUpdate), ~10 ns: 1 MiB in 64-byte updates runs at
// ~1.3 GB/s, in >= 1 KiB updates at full speed. Keying plus a 64-byte
// message costs ~1.2 us (context allocation and two key-block hashes), so
// reuse an object with reset() rather than re-keying per message.
//
// Secrets: OpenSSL copies the key into its context (as the ipad/opad
// states); the context is freed with EVP_MAC_CTX_free, which cleanses it.
// Temporary tags computed by verify() are wiped. This class keeps no other
// copy of the key.
#ifndef LAYERCRYPT_KERNELS_HMAC_SHA256_H_
#define LAYERCRYPT_KERNELS_HMAC_SHA256_H_

#include <cstddef>
#include <cstdint>

typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace layercrypt::kernels {

// kHmacSha256TagLen is the size of an HMAC-SHA256 tag in bytes.
inline constexpr size_t kHmacSha256TagLen = 32;

// HmacSha256 is one streaming HMAC-SHA256 computation.
//
// Lifecycle: construct (unkeyed), init(key), update()..., final() or
// verify(); then reset() to authenticate another message with the same key,
// or init() with another key. Calls on an unkeyed or finished object fail.
//
// Thread-safety: an object is not thread-safe; distinct objects may be used
// from distinct threads concurrently. Movable, not copyable (use clone(),
// which duplicates the keyed state through EVP_MAC_CTX_dup).
class HmacSha256 {
 public:
  // HmacSha256 makes an unkeyed object; it allocates nothing until init().
  HmacSha256() = default;
  ~HmacSha256();
  HmacSha256(HmacSha256&& other) noexcept;
  HmacSha256& operator=(HmacSha256&& other) noexcept;
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // init keys the object with the `key_len` bytes at `key` (any length; `key`
  // may be null when `key_len` is 0) and starts a message, discarding any
  // previous key and state. Returns true on success; false on allocation or
  // OpenSSL failure, in which case the object is unkeyed.
  bool init(const uint8_t* key, size_t key_len);

  // keyed returns true after a successful init() (even when finished).
  bool keyed() const { return ctx_ != nullptr; }

  // update absorbs `data_len` bytes at `data`; `data` may be null when
  // `data_len` is 0. Returns true on success; false if `data` is null with a
  // non-zero length, the object is unkeyed or finished, or OpenSSL failed.
  bool update(const uint8_t* data, size_t data_len);

  // final writes the 32-byte tag to `out` and finishes the object. `out_len`
  // must be at least kHmacSha256TagLen; exactly 32 bytes are written. Returns
  // true on success; false, writing nothing, if `out_len` is too small or
  // `out` is null, the object is unkeyed or finished, or OpenSSL failed.
  // `out` may alias buffers previously passed to update().
  bool final(uint8_t* out, size_t out_len);

  // verify finishes the object and compares its tag with the `expected_len`
  // bytes at `expected` in constant time (constant_time_equal). Returns true
  // only if `expected_len` is exactly kHmacSha256TagLen and all 32 bytes
  // match; false on mismatch, on a truncated or over-long `expected`, or on
  // any failure final() would report. The computed tag is wiped.
  bool verify(const uint8_t* expected, size_t expected_len);

  // reset discards absorbed data and starts a new message with the same key,
  // reusing the keyed ipad/opad states (no rehash of the key, no allocation).
  // Returns true on success; false if the object is unkeyed or OpenSSL
  // failed.
  bool reset();

  // clone makes `*out` an independent copy of this object's key and current
  // state (EVP_MAC_CTX_dup). Useful to key once and fork per message. Returns
  // true on success; false, leaving `*out` unchanged, if this object is
  // unkeyed or finished, `out` is null or `this`, or OpenSSL failed.
  bool clone(HmacSha256* out) const;

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
  bool finished_ = false;
};

// hmac_sha256 computes HMAC-SHA256(key, data) into the 32 bytes at `out`
// (`out_len` must be at least kHmacSha256TagLen). `key` / `data` may be null
// when their length is 0; `out` may alias `key` or `data`. Returns true on
// success; false, writing nothing, if `out_len` is too small, `key` or
// `data` is null with a non-zero length, or OpenSSL failed. Thread-safe.
bool hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* data, size_t data_len,
                 uint8_t* out, size_t out_len);

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_HMAC_SHA256_H_
