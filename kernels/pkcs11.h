// kernels/pkcs11.h: a thin client of one PKCS#11 token (Cryptoki 2.40).
//
// What: load a PKCS#11 module (a shared library: SoftHSM2, a hardware
// token's driver, a cloud HSM's client), open a session on the token with a
// given label (or in a given slot), log in with a PIN, find or create a
// secret key object and run AES-GCM with it, or find an RSA key pair's
// objects, read the public key and run RSA-OAEP with the private key, all
// *inside* the token: a private or secret key's value never enters this
// process. No policy lives here (which key, who may use it, where the PIN
// comes from): the caller decides.
//
// Modules. Each module file is dlopen'ed and C_Initialize'd (with
// CKF_OS_LOCKING_OK) once per process while any session on it is open, and
// C_Finalize'd and closed when the last one goes: PKCS#11 allows a module
// to be initialised only once per process, and a module reads its own
// configuration (SoftHSM2: $SOFTHSM2_CONF) only then.
//
// Errors: every failing call returns false and sets *error to one line
// naming the PKCS#11 function and its result code ("C_Login:
// CKR_PIN_INCORRECT"), never a PIN or key bytes.
//
// The PKCS#11 header (p11-kit's <p11-kit/pkcs11.h>) is included by
// pkcs11.cc only; handles cross this interface as uint64_t.
//
// Thread-safety: one Pkcs11Session must not be used by two threads at the
// same time (PKCS#11 sessions are single-threaded); distinct sessions, also
// on the same module, may run in parallel. open() is thread-safe.
#ifndef LAYERCRYPT_KERNELS_PKCS11_H_
#define LAYERCRYPT_KERNELS_PKCS11_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/secure_memory.h"

namespace layercrypt::kernels {

// kPkcs11GcmTagLen is the tag length of aes_gcm_seal/aes_gcm_open.
inline constexpr size_t kPkcs11GcmTagLen = 16;

// Pkcs11KeyInfo describes a key object (the attributes policy cares about).
struct Pkcs11KeyInfo {
  bool is_aes = false;       // CKA_KEY_TYPE == CKK_AES
  size_t value_len = 0;      // CKA_VALUE_LEN: 16, 24 or 32
  bool sensitive = false;    // CKA_SENSITIVE: the value cannot be read
  bool extractable = false;  // CKA_EXTRACTABLE: the value can be wrapped out
  bool on_token = false;     // CKA_TOKEN: persistent
  bool can_encrypt = false;  // CKA_ENCRYPT
  bool can_decrypt = false;  // CKA_DECRYPT
};

// Pkcs11ObjectClass is the CKA_CLASS of the key objects find_key looks for.
enum class Pkcs11ObjectClass { kSecretKey, kPrivateKey, kPublicKey };

// Pkcs11OaepHash is the hash of CKM_RSA_PKCS_OAEP, used for MGF1 as well
// (the label is always empty).
enum class Pkcs11OaepHash { kSha1, kSha256 };

class Pkcs11Module;

// Pkcs11Session is one open session on one token.
class Pkcs11Session {
 public:
  // open loads `module_path` (a file path, as dlopen takes it), finds the
  // one slot whose token label is `token_label` (labels are compared with
  // their space padding removed) and opens a session (read-write when
  // `read_write`, needed to create objects). Returns nullptr and sets
  // *error when the module cannot be loaded, has no such token, or has it
  // twice. Thread-safe.
  static std::unique_ptr<Pkcs11Session> open(const std::string& module_path,
                                             std::string_view token_label, bool read_write,
                                             std::string* error);
  // open_slot is open for the token in slot `slot_id` (as C_GetSlotList
  // numbers them); fails when the module has no such slot with a token.
  static std::unique_ptr<Pkcs11Session> open_slot(const std::string& module_path, uint64_t slot_id,
                                                  bool read_write, std::string* error);
  ~Pkcs11Session();  // closes the session (which logs it out if it is the last)
  Pkcs11Session(const Pkcs11Session&) = delete;
  Pkcs11Session& operator=(const Pkcs11Session&) = delete;

  // login logs in as the normal user (CKU_USER) with `pin`. Already being
  // logged in (another session of this process did it) is success.
  bool login(std::span<const uint8_t> pin, std::string* error);

  // find_secret_key finds the one secret-key object with CKA_LABEL `label`
  // (if not empty) and CKA_ID `id` (if not empty); at least one must be
  // given. False with "no key ..." or "N keys match ..." otherwise.
  bool find_secret_key(std::string_view label, std::span<const uint8_t> id, uint64_t* out_handle,
                       std::string* error);

  // find_key is find_secret_key for objects of class `cls`.
  bool find_key(Pkcs11ObjectClass cls, std::string_view label, std::span<const uint8_t> id,
                uint64_t* out_handle, std::string* error);

  // generate_aes_key creates a persistent AES key of `key_len` bytes (16,
  // 24, 32) inside the token: sensitive, not extractable, private, usable
  // for encrypt/decrypt only, with CKA_LABEL `label` and CKA_ID `id`.
  // Needs a read-write, logged-in session.
  bool generate_aes_key(std::string_view label, std::span<const uint8_t> id, size_t key_len,
                        uint64_t* out_handle, std::string* error);

  // generate_rsa_key_pair creates a persistent RSA key pair of `bits`
  // (2048..4096) with public exponent 65537 inside the token, both objects
  // with CKA_LABEL `label` and CKA_ID `id`: the private key sensitive, not
  // extractable, private, for decryption only; the public key for
  // encryption only. Needs a read-write, logged-in session.
  bool generate_rsa_key_pair(std::string_view label, std::span<const uint8_t> id, size_t bits,
                             uint64_t* out_public, uint64_t* out_private, std::string* error);

  // rsa_public_key reads CKA_MODULUS and CKA_PUBLIC_EXPONENT (big-endian
  // unsigned) of the RSA public (or private) key object `handle`.
  bool rsa_public_key(uint64_t handle, std::vector<uint8_t>* out_modulus,
                      std::vector<uint8_t>* out_exponent, std::string* error);

  // rsa_oaep_encrypt encrypts `in` with CKM_RSA_PKCS_OAEP under the public
  // key `key` (hash and MGF1 hash `hash`, empty label) and sets *out.
  bool rsa_oaep_encrypt(uint64_t key, Pkcs11OaepHash hash, std::span<const uint8_t> in,
                        std::vector<uint8_t>* out, std::string* error);

  // rsa_oaep_decrypt decrypts `in` with CKM_RSA_PKCS_OAEP under the private
  // key `key` inside the token and sets *out to the plaintext; on failure
  // *out is empty (CKR_ENCRYPTED_DATA_INVALID for the wrong key or hash).
  bool rsa_oaep_decrypt(uint64_t key, Pkcs11OaepHash hash, std::span<const uint8_t> in,
                        SecretBytes* out, std::string* error);

  // key_info reads the attributes of Pkcs11KeyInfo from key `handle`.
  bool key_info(uint64_t handle, Pkcs11KeyInfo* out, std::string* error);

  // aes_gcm_seal encrypts `in` with CKM_AES_GCM under `key`, `iv` (12 bytes
  // recommended) and `aad`, and sets *out to ciphertext || 16-byte tag.
  bool aes_gcm_seal(uint64_t key, std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                    std::span<const uint8_t> in, std::vector<uint8_t>* out, std::string* error);

  // aes_gcm_open decrypts ciphertext || tag `in` and sets *out to the
  // plaintext only if the tag verifies (inside the token); otherwise false
  // and *out is empty.
  bool aes_gcm_open(uint64_t key, std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                    std::span<const uint8_t> in, SecretBytes* out, std::string* error);

 private:
  Pkcs11Session(std::shared_ptr<Pkcs11Module> module, unsigned long session);
  std::shared_ptr<Pkcs11Module> module_;
  unsigned long session_;
};

// pkcs11_rv_name returns the name of PKCS#11 result code `rv` ("CKR_PIN_INCORRECT"),
// or "CKR_0x..." for one it does not know.
std::string pkcs11_rv_name(unsigned long rv);

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_PKCS11_H_
