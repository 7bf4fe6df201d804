// engine/keywrap/keys/private_key.h: parsing private keys, public keys and X.509
// certificates for the ocicrypt key-wrapping schemes (JWE, PKCS7).
//
// Mirrors Go ocicrypt's utils.parse_private_key / IsPublicKey / parse_certificate
// (spec §3 "Private key parsing", "Recipient syntax"): DER PKCS#8, DER PKCS#1,
// DER SEC1, PEM PKCS#8 / PKCS#1, legacy encrypted PEM (Proc-Type 4,ENCRYPTED +
// DEK-Info) with a password, and JWK JSON. Where we differ, on purpose:
//   * PEM SEC1 (`BEGIN EC PRIVATE KEY`) is accepted; Go rejects it but users
//     have such files (openssl ecparam -genkey writes them).
//   * encrypted PKCS#8 PEM/DER (`BEGIN ENCRYPTED PRIVATE KEY`) is accepted
//     with a password; Go rejects it.
//   * only RSA and EC P-256/P-384/P-521 keys are accepted (Go accepts any
//     type at parse time and fails later); pkcs11 YAML keys are not handled.
//   * missing password, wrong password, a public key, a certificate and
//     unrecognised data get distinct, one-line messages; key bytes never
//     appear in a message.
// OpenSSL's PEM password callback is always ours: it returns the password we
// were given or fails, so OpenSSL never prompts on a terminal.
//
// Thread-safety: the parse functions are reentrant. PrivateKey, PublicKey and
// Certificate are immutable handles (OpenSSL reference counting); copies share
// the OpenSSL object and may be used concurrently from several threads.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_KEYS_PRIVATE_KEY_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_KEYS_PRIVATE_KEY_H_

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/status.h"
#include "kernels/openssl_ptr.h"

namespace layercrypt {

// KeyAlgorithm is the family/curve of a parsed key.
enum class KeyAlgorithm { kRsa, kEcP256, kEcP384, kEcP521 };

// key_algorithm_name returns "RSA", "EC P-256", "EC P-384" or "EC P-521".
const char* key_algorithm_name(KeyAlgorithm alg);

// KeyHandle is the shared base of PrivateKey and PublicKey: an EVP_PKEY
// reference plus its algorithm.
class KeyHandle {
 public:
  KeyHandle() = default;
  KeyHandle(const KeyHandle& other);
  KeyHandle& operator=(const KeyHandle& other);
  KeyHandle(KeyHandle&& other) noexcept;
  KeyHandle& operator=(KeyHandle&& other) noexcept;
  ~KeyHandle();

  // valid returns true if the handle holds a key.
  bool valid() const { return pkey_ != nullptr; }
  // algorithm returns the key family/curve.
  KeyAlgorithm algorithm() const { return alg_; }
  // bits returns the modulus size (RSA) or the curve size (EC).
  int bits() const;
  // description returns e.g. "RSA-2048" or "EC P-256" (no key material).
  std::string description() const;
  // evp returns the borrowed EVP_PKEY; it lives as long as this handle.
  EVP_PKEY* evp() const { return pkey_; }

 protected:
  // Takes ownership of `pkey` (one reference).
  KeyHandle(EVP_PKEY* pkey, KeyAlgorithm alg) : pkey_(pkey), alg_(alg) {}

 private:
  EVP_PKEY* pkey_ = nullptr;
  KeyAlgorithm alg_ = KeyAlgorithm::kRsa;
};

class PublicKey;

// PrivateKey is an RSA or EC (P-256/P-384/P-521) private key.
class PrivateKey : public KeyHandle {
 public:
  PrivateKey() = default;
  // from_evp takes ownership of one reference to `pkey`; it returns the key,
  // or kUnsupported (and frees `pkey`) if it is not RSA / EC P-256/384/521 or
  // holds no private part.
  static StatusOr<PrivateKey> from_evp(EVP_PKEY* pkey);
  // public_key returns the public half of this key.
  PublicKey public_key() const;

 private:
  using KeyHandle::KeyHandle;
};

// PublicKey is an RSA or EC public key usable as a `jwe:` recipient. A JWK
// public key may carry an `alg` and a `kid` member, kept for JWE encryption.
class PublicKey : public KeyHandle {
 public:
  PublicKey() = default;
  // from_evp takes ownership of one reference to `pkey`; returns the key or
  // kUnsupported (and frees `pkey`) for other key types.
  static StatusOr<PublicKey> from_evp(EVP_PKEY* pkey);
  // jwk_alg returns the JWK `alg` member, empty if none.
  const std::string& jwk_alg() const { return jwk_alg_; }
  // jwk_kid returns the JWK `kid` member, empty if none.
  const std::string& jwk_kid() const { return jwk_kid_; }
  // set_jwk_members sets the JWK `alg` / `kid` used by jwe_encrypt (empty =
  // none). Not thread-safe against concurrent readers of this handle.
  void set_jwk_members(std::string alg, std::string kid) {
    jwk_alg_ = std::move(alg);
    jwk_kid_ = std::move(kid);
  }

 private:
  friend class PrivateKey;
  using KeyHandle::KeyHandle;
  std::string jwk_alg_;
  std::string jwk_kid_;
};

// Certificate is a parsed X.509 certificate (the PKCS7 recipient).
class Certificate {
 public:
  Certificate() = default;
  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&& other) noexcept;
  Certificate& operator=(Certificate&& other) noexcept;
  ~Certificate();
  // from_x509 takes ownership of one reference to `x509` (never null).
  static Certificate from_x509(X509* x509);
  // x509 returns the borrowed X509; it lives as long as this handle.
  X509* x509() const { return x509_; }
  // subject returns the one-line subject name, e.g. "CN=foo".
  std::string subject() const;

 private:
  X509* x509_ = nullptr;
};

// parse_private_key parses a private key file's contents. Tries, like Go:
// DER PKCS#8, DER PKCS#1, DER SEC1, then PEM (first block: PKCS#8, PKCS#1,
// SEC1, legacy encrypted PEM, encrypted PKCS#8), then JWK JSON. Also accepts
// DER encrypted PKCS#8. `password` is used only for encrypted forms.
// Returns the key on success; on failure:
//   kInvalidArgument  "...needs a password..." (encrypted, none given),
//                     or a public key / certificate was given;
//   kKeyError         wrong password;
//   kUnsupported      a key type or curve we do not support;
//   kDataError        unrecognised or corrupt data.
StatusOr<PrivateKey> parse_private_key(std::span<const uint8_t> data,
                                       std::optional<std::string_view> password = std::nullopt);

// parse_public_key parses a `jwe:` recipient key like Go's IsPublicKey: DER
// SubjectPublicKeyInfo, PEM `BEGIN PUBLIC KEY`, or a JWK public key. PKCS#1
// `BEGIN RSA PUBLIC KEY`, certificates and private keys are rejected
// (kInvalidArgument, saying what was found); garbage is kDataError.
StatusOr<PublicKey> parse_public_key(std::span<const uint8_t> data);

// parse_certificate parses an X.509 certificate in PEM (first CERTIFICATE
// block) or DER. Returns it, or kInvalidArgument if the data is a key, or
// kDataError if it is not a certificate.
StatusOr<Certificate> parse_certificate(std::span<const uint8_t> data);

// KeyFileKind classifies a file found in a keys directory.
enum class KeyFileKind {
  kPrivateKey,           // parses as a private key without a password
  kEncryptedPrivateKey,  // an encrypted private key that needs a password
  kCertificate,          // an X.509 certificate (PEM or DER)
  kPublicKey,            // a public key (SPKI, PKCS#1 public, JWK public)
  kUnknown,              // none of the above (or an unsupported key type)
};

// key_file_kind_name returns "private key", "encrypted private key",
// "certificate", "public key" or "unknown".
const char* key_file_kind_name(KeyFileKind kind);

// classify_key_file returns what `data` is. It never fails and never prompts;
// use it to skip unusable files in a keys directory with a one-line warning.
// If `out_key` is not null and the result is kPrivateKey, the parsed key is
// stored there; likewise `out_cert` for kCertificate (parsing a key is the
// expensive part of classifying it, so callers should not parse again).
KeyFileKind classify_key_file(std::span<const uint8_t> data, PrivateKey* out_key = nullptr,
                              Certificate* out_cert = nullptr);

// span_of returns the bytes of a string view (convenience for callers).
inline std::span<const uint8_t> span_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

namespace internal {
// Not part of the contract: shared by the engine's key-handling files.

// EvpPkeyOwner owns one EVP_PKEY reference.
using EvpPkeyOwner = kernels::UniquePtr<EVP_PKEY>;

// jwk_to_pkey builds an EVP_PKEY from JWK JSON text (RSA or EC P-256/384/521;
// base64url members, exact coordinate lengths like go-jose). With
// want_private it needs the private members. Returns the key or a status
// naming the problem (never key bytes).
StatusOr<EvpPkeyOwner> jwk_to_pkey(std::string_view jwk_json, bool want_private);
}  // namespace internal

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_KEYS_PRIVATE_KEY_H_
