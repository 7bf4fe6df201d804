// engine/keywrap/key_unwrap.h: the decrypt-side key search for one encrypted layer
// (spec §2.3, Go ocicrypt's decryptLayerKeyOptsData): find a wrapped-keys
// annotation some of our keys can open and return the private-options JSON.
//
// Mirrors Go: every comma-separated blob of a scheme is tried in order, and
// inside a blob the private keys in their given order (JWE: every recipient;
// PKCS7: every key x certificate pair; pkcs11: every key YAML x recipient);
// the first success wins. Where we
// differ, on purpose:
//   * the scheme order is FIXED (jwe, pkcs7, pkcs11, pgp) instead of Go's random map
//     order, so results and errors are reproducible;
//   * a blob that does not base64-decode or parse is recorded and skipped;
//     it never stops a later valid blob (Go aborts the scheme);
//   * keys are parsed once up front (prepare_decrypt_keys); a key that does not
//     parse (e.g. an encrypted PEM without its password) is skipped and
//     reported in the final error instead of aborting the whole JWE attempt
//     as Go does; a later good key still works;
//   * provider.<name> blobs go only to the configured provider <name>, after
//     jwe and pkcs7, in name order; a provider that fails (refusal, timeout,
//     garbage) fails its blob only, and the final error names the cause;
//   * pkcs11 keys are key YAMLs with their module policy (pkcs11/); a
//     pkcs11 failure (module not allowed, no token, wrong PIN, no key)
//     is named in the error;
//   * pgp keyrings (pgp/) are tried in their given order on every pgp
//     blob; the error names the cause (no key held, wrong passphrase);
//     in builds without LAYERCRYPT_WITH_PGP, a layer with only pgp
//     annotations is kUnsupported.
// Error messages are one line: the schemes and recipients the layer has, how
// many keys/certificates were tried, and what to supply; never key bytes.
//
// Thread-safety: reentrant; PreparedKeys is immutable after preparation and
// may be shared between threads (one image's layers in parallel).
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_KEY_UNWRAP_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_KEY_UNWRAP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/layer_key.h"
#include "engine/core/status.h"
#include "engine/keywrap/keys/private_key.h"
#include "engine/keywrap/pkcs11/pkcs11_key.h"
#include "engine/keywrap/provider/keyprovider_protocol.h"
#include "engine/ocicrypt/annotations.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

class KeyProviders;

// DecryptKeys is the raw decryption key material of a DecryptConfig: key
// file contents in order (`privkeys`), optional passwords aligned with them
// (`privkeys-passwords`; empty vector = no passwords at all), and X.509
// certificates (`x509s`, PEM or DER) for pkcs7.
struct DecryptKeys {
  std::vector<kernels::SecretBytes> private_keys;
  std::vector<std::optional<kernels::SecretBytes>> passwords;
  std::vector<std::vector<uint8_t>> certificates;
  // Optional names for messages, aligned with private_keys (e.g. the file
  // a key came from); a key without one is called "private key N".
  std::vector<std::string> key_names;
  // Parameters for key providers (provider:NAME[:PARAMS] keys, or the
  // payload's NAME entries), and the configured providers: a layer's
  // provider.NAME blobs go to provider NAME with only its own parameters.
  ProviderParams provider_params;
  std::shared_ptr<const KeyProviders> key_providers;
  // pkcs11 key YAMLs (`pkcs11-yamls`) with optional names for messages,
  // and the module policy they are used under (`pkcs11-config`); null
  // means OCICRYPT_CONFIG's (load_pkcs11_policy), read when there are
  // key YAMLs.
  std::vector<kernels::SecretBytes> pkcs11_yamls;
  std::vector<std::string> pkcs11_yaml_names;
  std::shared_ptr<const Pkcs11ModulePolicy> pkcs11_policy;
  // OpenPGP secret keyrings (`gpg-privatekeys`, binary or armored), their
  // passphrases at the same index (`gpg-privatekeys-passwords`; empty
  // vector = none) and optional names for messages.
  std::vector<kernels::SecretBytes> pgp_keyrings;
  std::vector<std::optional<kernels::SecretBytes>> pgp_passwords;
  std::vector<std::string> pgp_keyring_names;
};

// PgpSecretKeyring is one OpenPGP secret keyring with its passphrase.
struct PgpSecretKeyring {
  kernels::SecretBytes data;
  std::optional<kernels::SecretBytes> password;
  std::string name;  // for messages, e.g. the file; never the passphrase
};

// PreparedKeys holds parsed keys plus one line per unusable input.
struct PreparedKeys {
  std::vector<PrivateKey> private_keys;
  std::vector<Certificate> certificates;
  std::vector<std::string>
      problems;  // e.g. "private key 2: encrypted private key needs a password..."
  ProviderParams provider_params;                     // from DecryptKeys
  std::shared_ptr<const KeyProviders> key_providers;  // from DecryptKeys; may be null
  std::vector<Pkcs11KeyFile> pkcs11_keys;             // the key YAMLs that parse
  // The module policy for pkcs11_keys; null when none could be found, and
  // then pkcs11_policy_error says why.
  std::shared_ptr<const Pkcs11ModulePolicy> pkcs11_policy;
  std::string pkcs11_policy_error;
  std::vector<PgpSecretKeyring> pgp_keyrings;  // those that parse and hold a secret key

  // can_unwrap says whether anything could open a layer: a private key, a
  // pkcs11 key YAML, an OpenPGP secret keyring, a configured key provider (which needs no key of
  // ours), or parameters for one (whose absence the unwrap error then explains).
  bool can_unwrap() const;
};

// prepare_decrypt_keys parses every key (with its password) and certificate.
// Returns the usable ones plus a problem line for each that failed; fails
// (kInvalidArgument) only when `passwords` is non-empty and its size differs
// from `private_keys` (Go rejects that too).
StatusOr<PreparedKeys> prepare_decrypt_keys(const DecryptKeys& keys);

// unwrap_layer_key searches `annotations` (one layer descriptor's) with
// `keys`. Returns the private-options JSON bytes on success. Failures:
//   kInvalidArgument  no keys annotation at all (the layer is not encrypted);
//   kKeyError         no usable key: "missing private key ..." when there are
//                     no private keys, otherwise "no key could unwrap ..."
//                     naming the schemes, blobs, recipients and counts;
//   kUnsupported      only pgp annotations are present.
StatusOr<kernels::SecretBytes> unwrap_layer_key(const Annotations& annotations,
                                                const PreparedKeys& keys);

// unwrap_layer_key (raw keys) is prepare_decrypt_keys + unwrap_layer_key; the
// error also lists the keys that could not be used.
StatusOr<kernels::SecretBytes> unwrap_layer_key(const Annotations& annotations,
                                                const DecryptKeys& keys);

// OpenedLayerKey is what decrypting one layer needs from its descriptor.
struct OpenedLayerKey {
  LayerKey key;
  std::array<uint8_t, kLayerHmacLen> hmac{};  // from pubopts
  std::string plain_digest;                   // privopts "digest" ("" if Go wrote none)
};

// open_layer_key unwraps the private options with `keys`, reads the public
// options and checks the pair (validate_for_decryption: cipher, key and
// nonce sizes, no nonce in the public options). Errors from
// unwrap_layer_key are returned unchanged; the others say which options
// were bad. The caller adds the layer's name.
StatusOr<OpenedLayerKey> open_layer_key(const Annotations& annotations, const PreparedKeys& keys);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_KEY_UNWRAP_H_
