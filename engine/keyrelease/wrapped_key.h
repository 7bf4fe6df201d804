// engine/keyrelease/wrapped_key.h: the annotation the reference key provider
// (tools/layercrypt-keyprovider) returns on wrap, and reads back on unwrap.
//
// Go ocicrypt stores the bytes a provider returns, base64-encoded, in the
// layer annotation org.opencontainers.image.enc.keys.provider.NAME, and
// hands them back on unwrap. Ours is one line of JSON, members in this
// order, nothing else:
//
//   {"v":1,"key":"KEY-ID","kek":"file"|"pkcs11","nonce":"B64","ct":"B64"}
//
//   v      the format version, 1
//   key    the key id of the policy (policy.h) whose KEK sealed it:
//          1..128 bytes of [A-Za-z0-9._:@/+-], starting with a letter or digit
//   kek    the kind of that KEK (a blob sealed by a file KEK is never sent
//          to a token, and the other way round)
//   nonce  the 12-byte AES-GCM nonce, padded std base64
//   ct     AES-256-GCM(KEK, nonce, aad, private options) || 16-byte tag,
//          padded std base64; the private options are the layer's
//          {"symkey":...,"digest":...,"cipheroptions":...} JSON
//   aad    "layercrypt-keyprovider/v1" 0x00 KEK-KIND 0x00 KEY-ID
//          (wrapped_key_aad), so moving a blob to another key id or KEK
//          kind makes it fail to open rather than open under other rules.
//
// Nothing secret is in clear: the key id and the KEK kind are public, as is
// the nonce. parse_wrapped_key reads untrusted input (any image's
// annotation): strict (exactly these members, once each, in any order; the
// exact types; canonical padded base64; the bounds below), and every error
// is one line that never quotes the input beyond a short, sanitised key id.
//
// Thread-safety: pure functions.
#ifndef LAYERCRYPT_ENGINE_KEYRELEASE_WRAPPED_KEY_H_
#define LAYERCRYPT_ENGINE_KEYRELEASE_WRAPPED_KEY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace layercrypt {

inline constexpr int kWrappedKeyVersion = 1;
inline constexpr size_t kWrappedKeyNonceLen = 12;
inline constexpr size_t kWrappedKeyTagLen = 16;
inline constexpr size_t kMaxKeyIdLen = 128;
// kMaxWrappedPlaintext bounds the private options a provider seals (they
// are about 150 bytes); kMaxWrappedKeySize bounds an annotation.
inline constexpr size_t kMaxWrappedPlaintext = 16 << 10;
inline constexpr size_t kMaxWrappedKeySize = 32 << 10;

// KekKind is where a key-encryption key lives.
enum class KekKind { kFile, kPkcs11 };

// kek_kind_name returns "file" or "pkcs11" (the annotation's "kek").
const char* kek_kind_name(KekKind kind);

// is_valid_key_id says whether `id` follows the key id grammar above.
bool is_valid_key_id(std::string_view id);

struct WrappedKey {
  std::string key_id;
  KekKind kek = KekKind::kFile;
  std::array<uint8_t, kWrappedKeyNonceLen> nonce{};
  std::vector<uint8_t> sealed;  // ciphertext || tag
};

// wrapped_key_aad returns the AAD that binds a blob to `key_id` and `kek`.
std::vector<uint8_t> wrapped_key_aad(std::string_view key_id, KekKind kek);

// serialize_wrapped_key writes `key` as the JSON line above (no newline).
// The key id must be valid and `sealed` at least a tag long (callers build
// it that way; checked in debug builds).
std::vector<uint8_t> serialize_wrapped_key(const WrappedKey& key);

// parse_wrapped_key parses an annotation. kDataError "invalid wrapped key:
// why" for anything but the format above; kUnsupported for a well-formed
// object of another version ("wrapped key version 2 is not supported").
StatusOr<WrappedKey> parse_wrapped_key(std::span<const uint8_t> annotation);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYRELEASE_WRAPPED_KEY_H_
