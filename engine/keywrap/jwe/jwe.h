// engine/keywrap/jwe/jwe.h: JWE (RFC 7516) decryption and encryption of the ocicrypt
// private-options JSON, byte-compatible with go-jose as used by
// containers/ocicrypt's keywrap/jwe (spec §3).
//
// Decryption mirrors go-jose's ParseEncrypted + DecryptMulti:
//   * input whose first non-whitespace character is '{' is JSON (flattened or
//     general); anything else is compact (five '.'-separated parts, all
//     whitespace stripped first, like go-jose's stripWhitespace);
//   * key algorithms RSA-OAEP (SHA-1), RSA-OAEP-256, ECDH-ES+A128KW/A192KW/
//     A256KW on P-256/P-384/P-521 (epk, apu, apv from the merged header:
//     protected first, then unprotected, then the recipient's header);
//   * content A128GCM/A192GCM/A256GCM and A128CBC-HS256/A192CBC-HS384/
//     A256CBC-HS512; the AAD is go-jose's: base64url(protected bytes), plus
//     "." + base64url(aad) when the JSON has `aad`;
//   * general JSON with `recipients` ignores the stray top-level
//     `encrypted_key` go-jose writes;
//   * for each private key in order, each recipient in order; first success
//     wins.
// Differences from go-jose, deliberate: `zip` (DEFLATE) and `crit` headers
// are rejected as unsupported (ocicrypt never writes them); the unwrapped CEK
// must have exactly the content algorithm's key length; failure messages
// describe the JWE (shape, algorithms, recipient count) and how many keys
// were tried, never why an RSA decryption failed (no padding oracle).
//
// Encryption produces exactly go-jose's FullSerialize output as ocicrypt
// calls it: A256GCM content, RSA-OAEP for RSA keys, ECDH-ES+A256KW for EC
// keys (or the JWK's `alg` if it is one of the five supported), `kid` from
// a JWK; one recipient → flattened JSON with the recipient header merged
// into the protected header, several → general JSON with protected
// {"enc":"A256GCM"}, per-recipient headers and go-jose's stray top-level
// `encrypted_key`. Header keys are sorted (Go map order), members are in
// go-jose's struct order. We differ from newer ocicrypt for an EC JWK
// without `alg` (Go then picks RSA-OAEP and fails; we use ECDH-ES+A256KW,
// as ocicrypt 1.0.3 does).
//
// The CEK and all derived keys live in kernels::SecretBytes. AES-GCM goes
// through kernels/aes_gcm.h; RSA, ECDH, the Concat KDF (SSKDF), AES key wrap,
// AES-CBC and HMAC are OpenSSL's.
//
// Thread-safety: all functions are reentrant; keys may be shared between
// threads.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_JWE_JWE_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_JWE_JWE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/keys/private_key.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// JweSummary describes a JWE for messages (no key material).
struct JweSummary {
  std::string serialization;                // "compact", "flattened JSON", "general JSON"
  std::string enc;                          // content algorithm of the first recipient
  std::vector<std::string> recipient_algs;  // key algorithm per recipient
  std::vector<std::string> recipient_kids;  // "kid" per recipient ("" if none)
  // recipient_key_digests: base64url SHA-256 of each recipient's
  // encrypted_key, which names that recipient's entry in this blob.
  std::vector<std::string> recipient_key_digests;

  // to_string returns e.g. "general JSON JWE, enc A256GCM, 3 recipients
  // (RSA-OAEP, ECDH-ES+A256KW, ECDH-ES+A256KW)".
  std::string to_string() const;
};

// jwe_describe parses `jwe_text` and returns its summary; kDataError if it
// does not parse like go-jose would, kUnsupported for an algorithm outside
// the lists above.
StatusOr<JweSummary> jwe_describe(std::string_view jwe_text);

// jwe_decrypt decrypts `jwe_text` with the first of `keys` (tried in order,
// each against every recipient) that can unwrap the CEK and authenticate the
// content. Returns the plaintext on success. Failures: kDataError (malformed
// JWE), kUnsupported (algorithm, zip, crit), kKeyError ("no key could
// unwrap": names the JWE summary and the number of keys tried; also used
// when `keys` is empty). A tag mismatch after a successful unwrap is also
// reported as kKeyError, since go-jose cannot tell the two apart either.
StatusOr<kernels::SecretBytes> jwe_decrypt(std::string_view jwe_text,
                                           std::span<const PrivateKey> keys);

// jwe_encrypt encrypts `plaintext` (the private-options JSON) for
// `recipients` and returns go-jose's FullSerialize JSON text (see the file
// comment). Fails with kInvalidArgument if `recipients` is empty or a JWK
// `alg` is not one of the five supported key algorithms, kInternal if
// OpenSSL fails.
StatusOr<std::string> jwe_encrypt(std::span<const uint8_t> plaintext,
                                  std::span<const PublicKey> recipients);

// jwk_thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of `key`
// (base64url, unpadded): the hash of {"e","kty","n"} for RSA or
// {"crv","kty","x","y"} for EC, members in that order, no whitespace.
// kInternal if OpenSSL cannot export the key.
StatusOr<std::string> jwk_thumbprint(const PublicKey& key);

// jwe_remove_recipients returns `jwe_text` without the recipients at the
// positions in `drop` (as jwe_describe lists them); std::nullopt when none
// would remain (the caller drops the blob). A general-JSON JWE keeps its
// form: the CEK and ciphertext are shared, so nothing is re-encrypted, and
// go-jose's stray top-level encrypted_key becomes the first remaining
// recipient's. A flattened or compact JWE has one recipient, which goes or
// stays whole. kDataError if it does not parse.
StatusOr<std::optional<std::string>> jwe_remove_recipients(std::string_view jwe_text,
                                                           const std::vector<size_t>& drop);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_JWE_JWE_H_
