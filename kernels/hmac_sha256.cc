// kernels/hmac_sha256.cc: HMAC-SHA256 over OpenSSL 3 EVP_MAC.
#include "kernels/hmac_sha256.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>
#include <utility>

#include "kernels/secure_memory.h"

namespace layercrypt::kernels {
namespace {

// Fetched once per process, like sha256_md(): EVP_MAC_fetch is a locked
// method-store lookup we do not want per object. Never freed on purpose
// (objects may be destroyed during static destruction).
EVP_MAC* hmac_mac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

// A non-null stand-in for an empty key. EVP_MAC_init treats a null key as
// "keep the current key", so an empty key must still be passed as a pointer
// or a re-init() to the empty key would silently keep the old one.
const uint8_t kNoBytes[1] = {0};

bool init_ctx(EVP_MAC_CTX* ctx, const uint8_t* key, size_t key_len) {
  // OSSL_PARAM wants a mutable char*; OpenSSL only reads it.
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  return EVP_MAC_init(ctx, key_len == 0 ? kNoBytes : key, key_len, params) == 1;
}

}  // namespace

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(ctx_); }

HmacSha256::HmacSha256(HmacSha256&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), finished_(std::exchange(other.finished_, false)) {}

HmacSha256& HmacSha256::operator=(HmacSha256&& other) noexcept {
  if (this != &other) {
    EVP_MAC_CTX_free(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
    finished_ = std::exchange(other.finished_, false);
  }
  return *this;
}

bool HmacSha256::init(const uint8_t* key, size_t key_len) {
  EVP_MAC* mac = hmac_mac();
  // A keyed context is re-keyed in place (OpenSSL cleanses the old ipad/opad
  // states); only the first init allocates.
  if (ctx_ == nullptr && mac != nullptr) ctx_ = EVP_MAC_CTX_new(mac);
  if (ctx_ == nullptr || (key == nullptr && key_len != 0) || !init_ctx(ctx_, key, key_len)) {
    // Never leave the old key or a half-keyed context behind on failure.
    EVP_MAC_CTX_free(ctx_);
    ctx_ = nullptr;
    finished_ = false;
    return false;
  }
  finished_ = false;
  return true;
}

bool HmacSha256::update(const uint8_t* data, size_t data_len) {
  if (ctx_ == nullptr || finished_) return false;
  if (data_len == 0) return true;
  if (data == nullptr) return false;
  return EVP_MAC_update(ctx_, data, data_len) == 1;
}

bool HmacSha256::final(uint8_t* out, size_t out_len) {
  if (ctx_ == nullptr || finished_ || out == nullptr || out_len < kHmacSha256TagLen) return false;
  finished_ = true;
  uint8_t tag[kHmacSha256TagLen];
  ScopedWipe wipe_tag(tag, sizeof(tag));
  size_t len = 0;
  if (EVP_MAC_final(ctx_, tag, &len, sizeof(tag)) != 1 || len != kHmacSha256TagLen) return false;
  std::memcpy(out, tag, kHmacSha256TagLen);
  return true;
}

bool HmacSha256::verify(const uint8_t* expected, size_t expected_len) {
  uint8_t tag[kHmacSha256TagLen];
  ScopedWipe wipe_tag(tag, sizeof(tag));
  // Finish first, whatever `expected_len` is, so a bad length leaves the
  // object in the same (finished) state as a mismatch.
  const bool computed = final(tag, sizeof(tag));
  if (!computed || expected == nullptr || expected_len != kHmacSha256TagLen) return false;
  return constant_time_equal(tag, expected, kHmacSha256TagLen);
}

bool HmacSha256::reset() {
  if (ctx_ == nullptr) return false;
  // A null key makes OpenSSL 3's HMAC provider restart from the stored
  // ipad state (HMAC_Init_ex(ctx, NULL, ...)) instead of rehashing the key.
  if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1) {
    finished_ = true;
    return false;
  }
  finished_ = false;
  return true;
}

bool HmacSha256::clone(HmacSha256* out) const {
  if (ctx_ == nullptr || finished_ || out == nullptr || out == this) return false;
  EVP_MAC_CTX* copy = EVP_MAC_CTX_dup(ctx_);
  if (copy == nullptr) return false;
  EVP_MAC_CTX_free(out->ctx_);
  out->ctx_ = copy;
  out->finished_ = false;
  return true;
}

bool hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* data, size_t data_len,
                 uint8_t* out, size_t out_len) {
  if (out == nullptr || out_len < kHmacSha256TagLen) return false;
  if (data == nullptr && data_len != 0) return false;
  HmacSha256 mac;
  // final() goes through a local tag, so `out` may alias `key` or `data`.
  return mac.init(key, key_len) && mac.update(data, data_len) && mac.final(out, out_len);
}

}  // namespace layercrypt::kernels
