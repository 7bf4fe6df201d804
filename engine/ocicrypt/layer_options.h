// engine/ocicrypt/layer_options.h: the public and private layer-cipher options of
// ocicrypt's AES_256_CTR_HMAC_SHA256, as JSON.
//
// Go ocicrypt serialises `PublicLayerBlockCipherOptions` and
// `PrivateLayerBlockCipherOptions` (blockcipher/blockcipher.go) with
// encoding/json (spec §2.1):
//   public:  {"cipher":"AES_256_CTR_HMAC_SHA256","hmac":"<b64>","cipheroptions":{}}
//   private: {"symkey":"<b64>","digest":"sha256:…","cipheroptions":{"nonce":"<b64>"}}
// The public JSON travels base64'd in the `…enc.pubopts` annotation; the
// private JSON is what every key wrapper (JWE, PKCS7, PGP, PKCS11, key
// providers) encrypts.
//
// Parsing is as lenient as Go's encoding/json, because layers come from
// many producers (Go, ocicrypt-rs, CoCo key providers that emit integer
// arrays): member names match case-insensitively (with Go's folding, so
// U+017F 'ſ' matches 's' and U+212A KELVIN SIGN matches 'k'); unknown members
// are ignored; with duplicate members the later one wins (two
// `cipheroptions` objects are merged, as Go decodes into the existing map);
// a []byte member accepts a padded base64 string, null, or an array of
// integers 0..255 (a null element counts as 0, as in Go); `null` for the whole
// document or for cipheroptions is allowed. A type mismatch, bad base64 or
// malformed JSON is an error (Go reports those too); so is invalid UTF-8 or
// an unpaired surrogate escape in a string, where Go would substitute U+FFFD
// (see gojson::parse).
//
// Serialisation is byte-identical to Go's json.Marshal (field order, sorted
// map keys, padded base64, HTML-safe string escaping, `cipheroptions` never
// null). An empty byte vector is written as "" (Go's non-nil empty slice);
// the nil/empty distinction is not modelled.
//
// validate_for_decryption applies OUR rules, stricter than Go: the nonce is
// taken only from the private options and must be 16 bytes; a nonce in the
// public (unauthenticated) options is rejected, because Go would use it and
// decrypt to garbage that still passes the HMAC (spec §10.2).
//
// The JSON reading and writing primitives (namespace gojson) are in
// go_json.h; strings parsed there live in wiping memory, since the private
// options carry key material.
//
// Everything here is pure and thread-safe (no shared state).
#ifndef LAYERCRYPT_ENGINE_OCICRYPT_LAYER_OPTIONS_H_
#define LAYERCRYPT_ENGINE_OCICRYPT_LAYER_OPTIONS_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/layer_key.h"
#include "engine/core/status.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// kNonceOption is the cipheroptions key of the 16-byte CTR IV. The cipher's
// name and sizes are in engine/core/layer_key.h.
inline constexpr std::string_view kNonceOption = "nonce";

// PublicLayerOptions mirrors Go's PublicLayerBlockCipherOptions.
struct PublicLayerOptions {
  std::string cipher;                                          // "cipher"
  std::vector<uint8_t> hmac;                                   // "hmac"
  std::map<std::string, std::vector<uint8_t>> cipher_options;  // "cipheroptions"
};

// PrivateLayerOptions mirrors Go's PrivateLayerBlockCipherOptions. The key
// and the cipher options (the nonce) are secrets.
struct PrivateLayerOptions {
  kernels::SecretBytes symkey;                                 // "symkey"
  std::string digest;                                          // "digest"
  std::map<std::string, kernels::SecretBytes> cipher_options;  // "cipheroptions"
};

// parse_public_options parses the public-options JSON with Go's leniency.
// Returns the options (all empty for `null`), or a kDataError naming the
// member and the problem (bad JSON, wrong type, bad base64).
StatusOr<PublicLayerOptions> parse_public_options(std::string_view json);

// parse_private_options parses the private-options JSON (the unwrapped
// key-wrapper payload) with Go's leniency. Returns the options, or a
// kDataError naming the member and the problem; the message never contains
// the document or any value from it.
StatusOr<PrivateLayerOptions> parse_private_options(std::span<const uint8_t> json);
StatusOr<PrivateLayerOptions> parse_private_options(std::string_view json);

// serialize_public_options returns Go's json.Marshal output for `opts`,
// e.g. {"cipher":"AES_256_CTR_HMAC_SHA256","hmac":"…","cipheroptions":{}}.
// Never fails.
std::string serialize_public_options(const PublicLayerOptions& opts);

// serialize_private_options returns Go's json.Marshal output for `opts` in
// wiping memory, e.g. {"symkey":"…","digest":"sha256:…","cipheroptions":{"nonce":"…"}}.
// Never fails.
kernels::SecretBytes serialize_private_options(const PrivateLayerOptions& opts);

// validate_for_decryption checks that `pub` and `priv` describe a layer we
// can decrypt. Returns OK when cipher is AES_256_CTR_HMAC_SHA256, hmac is 32
// bytes, symkey is 32 bytes, the private cipheroptions hold a 16-byte
// "nonce" and the public cipheroptions hold no "nonce"; so after OK,
// priv.cipher_options.at("nonce") is safe. Otherwise: kDataError
// "no cipher type provided" for an empty cipher, kUnsupported for an unknown
// one, kDataError for a missing or wrong-length hmac/key/nonce, and
// kIntegrityError for a public nonce.
Status validate_for_decryption(const PublicLayerOptions& pub, const PrivateLayerOptions& priv);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_OCICRYPT_LAYER_OPTIONS_H_
