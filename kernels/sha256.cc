// kernels/sha256.cc: SHA-256 over OpenSSL 3 EVP_MD.
#include "kernels/sha256.h"

#include <openssl/evp.h>

#include <cstring>
#include <utility>

namespace layercrypt::kernels {
namespace {

// The fetched EVP_MD is cached for the whole process: EVP_get_digestbyname /
// EVP_sha256() would make every EVP_DigestInit_ex2 do an implicit fetch (a
// locked method-store lookup), which is measurable for the many short-lived
// digests the engine creates. It is deliberately never freed: objects may
// still be destroyed during static destruction, after a static owner would
// have released it.
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

Sha256::Sha256() {
  const EVP_MD* md = sha256_md();
  if (md == nullptr) return;
  ctx_ = EVP_MD_CTX_new();
  if (ctx_ != nullptr && EVP_DigestInit_ex2(ctx_, md, nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = nullptr;
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(Sha256&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), finished_(std::exchange(other.finished_, false)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
    finished_ = std::exchange(other.finished_, false);
  }
  return *this;
}

bool Sha256::update(const uint8_t* data, size_t data_len) {
  if (ctx_ == nullptr || finished_) return false;
  // EVP_DigestUpdate accepts (nullptr, 0), but be explicit: a zero-length
  // update is a no-op that must not depend on `data`.
  if (data_len == 0) return true;
  if (data == nullptr) return false;
  return EVP_DigestUpdate(ctx_, data, data_len) == 1;
}

bool Sha256::final(uint8_t* out, size_t out_len) {
  if (ctx_ == nullptr || finished_ || out == nullptr || out_len < kSha256DigestLen) return false;
  // Finished even if OpenSSL fails: its context is then in an unknown state
  // and only reset() may bring it back.
  finished_ = true;
  unsigned int len = 0;
  uint8_t digest[kSha256DigestLen];
  if (EVP_DigestFinal_ex(ctx_, digest, &len) != 1 || len != kSha256DigestLen) return false;
  std::memcpy(out, digest, kSha256DigestLen);
  return true;
}

bool Sha256::reset() {
  if (ctx_ == nullptr) return false;
  // Re-initialising with the same EVP_MD keeps OpenSSL's provider context,
  // so reuse costs no allocation.
  if (EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1) {
    finished_ = true;
    return false;
  }
  finished_ = false;
  return true;
}

bool Sha256::clone(Sha256* out) const {
  if (ctx_ == nullptr || finished_ || out == nullptr || out == this) return false;
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  if (copy == nullptr) return false;
  if (EVP_MD_CTX_copy_ex(copy, ctx_) != 1) {
    EVP_MD_CTX_free(copy);
    return false;
  }
  EVP_MD_CTX_free(out->ctx_);
  out->ctx_ = copy;
  out->finished_ = false;
  return true;
}

bool sha256(const uint8_t* data, size_t data_len, uint8_t* out, size_t out_len) {
  const EVP_MD* md = sha256_md();
  if (md == nullptr || out == nullptr || out_len < kSha256DigestLen) return false;
  if (data == nullptr && data_len != 0) return false;
  static const uint8_t kEmpty = 0;
  // Digest into a local first so a failure writes nothing and `out` may alias
  // `data`.
  uint8_t digest[kSha256DigestLen];
  unsigned int len = 0;
  if (EVP_Digest(data_len == 0 ? &kEmpty : data, data_len, digest, &len, md, nullptr) != 1 ||
      len != kSha256DigestLen)
    return false;
  std::memcpy(out, digest, kSha256DigestLen);
  return true;
}

}  // namespace layercrypt::kernels
