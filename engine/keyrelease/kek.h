// engine/keyrelease/kek.h: key-encryption keys (KEKs) that seal and open
// the reference key provider's wrapped keys (wrapped_key.h) with
// AES-256-GCM, without handing their value to anyone.
//
// Two kinds:
//   file    a file holding the 32-byte key, either as 64 hex digits
//           (optionally followed by one newline; what write_new_kek_file
//           writes) or as exactly 32 raw bytes. It is read once into wiping
//           memory and must not be readable by other users (mode 0600 or
//           0640 as made by `layercrypt-keyprovider keygen-kek`); AES-GCM
//           runs in this process (kernels/aes_gcm.h).
//   pkcs11  an AES-256 secret-key object inside a PKCS#11 token, found by
//           CKA_LABEL and/or CKA_ID in the token with a given label, used
//           with CKM_AES_GCM inside the token (kernels/pkcs11.h): its value
//           never enters this process. The PIN comes from a file (its first
//           line) or an environment variable, is held in wiping memory and
//           never appears in a message.
//
// Nonces: seal draws a random 12-byte nonce per call (OpenSSL's DRBG); with
// a random nonce a KEK should seal fewer than 2^32 blobs (NIST SP 800-38D
// §8.3), far beyond what a registry holds per key.
//
// Thread-safety: a Kek is shared between threads; seal and open may be
// called concurrently (a PKCS#11 KEK serialises its calls on its session).
#ifndef LAYERCRYPT_ENGINE_KEYRELEASE_KEK_H_
#define LAYERCRYPT_ENGINE_KEYRELEASE_KEK_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/keyrelease/wrapped_key.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

inline constexpr size_t kKekLen = 32;

// KekSpec says where a KEK is (policy.h reads it from the policy file).
struct KekSpec {
  KekKind kind = KekKind::kFile;
  std::string file;         // file: the KEK file's path
  std::string module;       // pkcs11: the module's path
  std::string token;        // pkcs11: the token's label
  std::string label;        // pkcs11: the key's CKA_LABEL ("" = match by id only)
  std::vector<uint8_t> id;  // pkcs11: the key's CKA_ID (empty = match by label only)
  std::string pin_file;     // pkcs11: file whose first line is the user PIN, or
  std::string pin_env;      // pkcs11: environment variable holding it

  // describe names the KEK for messages and logs: "file /etc/k.kek",
  // "pkcs11 token \"t\" key \"l\"" (no PIN, no key bytes).
  std::string describe() const;
  bool operator==(const KekSpec&) const = default;
};

// Kek is an opened key-encryption key.
class Kek {
 public:
  virtual ~Kek() = default;
  virtual KekKind kind() const = 0;
  // seal encrypts `plaintext` with AES-256-GCM under `nonce` (12 bytes) and
  // `aad`, returning ciphertext || 16-byte tag. kIoError / kInternal when
  // the token or the cipher fails.
  virtual StatusOr<std::vector<uint8_t>> seal(std::span<const uint8_t> nonce,
                                              std::span<const uint8_t> aad,
                                              std::span<const uint8_t> plaintext) const = 0;
  // open decrypts `sealed` (ciphertext || tag) and returns the plaintext
  // only if the tag verifies: kIntegrityError otherwise (tampered, or
  // sealed under another KEK, key id or kind), kIoError when the token fails.
  virtual StatusOr<kernels::SecretBytes> open(std::span<const uint8_t> nonce,
                                              std::span<const uint8_t> aad,
                                              std::span<const uint8_t> sealed) const = 0;
};

// open_kek opens the KEK `spec` names: reads and checks a KEK file, or loads
// the PKCS#11 module, logs in to the token and finds the key (which must be
// a sensitive, non-extractable AES-256 key allowed to encrypt and decrypt).
// Errors name the file, token or key and the cause: kIoError (cannot read,
// no token, module error), kKeyError (wrong PIN, no such key, a key that is
// extractable or not AES-256), kDataError (a KEK file of the wrong form).
StatusOr<std::shared_ptr<const Kek>> open_kek(const KekSpec& spec);

// kek_from_bytes makes a file-kind KEK from 32 key bytes (tests; the
// bytes are copied into the cipher's own wiping memory).
StatusOr<std::shared_ptr<const Kek>> kek_from_bytes(std::span<const uint8_t> key);

// write_new_kek_file writes a new random KEK to `path` as 64 hex digits and
// a newline, mode 0600, atomically (a temporary file beside it, fsync'ed,
// then linked into place), refusing to replace an existing file. kIoError
// naming the path ("... exists: refusing to overwrite a KEK").
Status write_new_kek_file(const std::string& path);

// create_pkcs11_kek creates the AES-256 key `spec` names inside its token
// (sensitive, not extractable, encrypt/decrypt only; label and id from the
// spec), after checking that no key with that label or id exists there.
// kKeyError when one does, or the PIN is wrong.
Status create_pkcs11_kek(const KekSpec& spec);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYRELEASE_KEK_H_
