// engine/core/hex.h: lower-case hexadecimal, and the sha256 digest strings
// of OCI descriptors ("sha256:" + 64 lower-case hex digits).
//
// All functions are pure and thread-safe.
#ifndef LAYERCRYPT_ENGINE_CORE_HEX_H_
#define LAYERCRYPT_ENGINE_CORE_HEX_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace layercrypt {

// to_hex returns the `n` bytes at `p` as 2n lower-case hex digits.
std::string to_hex(const uint8_t* p, size_t n);
inline std::string to_hex(std::span<const uint8_t> bytes) {
  return to_hex(bytes.data(), bytes.size());
}

// is_lower_hex returns true if `s` is exactly `len` digits of [0-9a-f].
bool is_lower_hex(std::string_view s, size_t len);

// kSha256DigestPrefix is the algorithm part of an OCI sha256 digest.
inline constexpr std::string_view kSha256DigestPrefix = "sha256:";

// is_sha256_digest returns true for "sha256:" followed by 64 lower-case hex
// digits, the only digest form layercrypt reads or writes (image-spec
// requires lower case for sha256).
bool is_sha256_digest(std::string_view digest);

// sha256_digest_string returns "sha256:<hex>" for a 32-byte digest.
std::string sha256_digest_string(std::span<const uint8_t, 32> digest);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_HEX_H_
