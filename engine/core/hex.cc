// engine/core/hex.cc
#include "engine/core/hex.h"

namespace layercrypt {

std::string to_hex(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = kDigits[p[i] >> 4];
    s[2 * i + 1] = kDigits[p[i] & 15];
  }
  return s;
}

bool is_lower_hex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_sha256_digest(std::string_view digest) {
  return digest.size() == kSha256DigestPrefix.size() + 64 &&
         digest.substr(0, kSha256DigestPrefix.size()) == kSha256DigestPrefix &&
         is_lower_hex(digest.substr(kSha256DigestPrefix.size()), 64);
}

std::string sha256_digest_string(std::span<const uint8_t, 32> digest) {
  return std::string(kSha256DigestPrefix) + to_hex(digest.data(), digest.size());
}

}  // namespace layercrypt
