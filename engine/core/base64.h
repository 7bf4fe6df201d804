// engine/core/base64.h: the two base64 dialects ocicrypt data uses.
//
// 1. Standard base64 with padding (RFC 4648 §4, `+/=`), exactly as Go's
//    encoding/base64.StdEncoding: every []byte in the options JSON, every
//    annotation value, every fd-3 payload parameter. Decoding mirrors Go's
//    DecodeString: '\r' and '\n' anywhere are ignored; after removing them
//    the length must be a multiple of 4; '=' may only appear as the last one
//    or two characters of the final quantum ("xx==", "xxx="); any other
//    character is an error. Like Go (StdEncoding is not Strict) non-zero
//    trailing bits in the last quantum are accepted.
// 2. base64url without padding (RFC 4648 §5, `-_`), as go-jose writes the
//    binary members of a JWE. Decoding mirrors go-jose's base64URLDecode:
//    trailing '=' characters are trimmed first, then the rest is decoded as
//    Go's RawURLEncoding ('\r'/'\n' ignored; a length of 1 mod 4 is an
//    error; '=' anywhere else is an error).
//
// The codec itself is OpenSSL's (EVP_EncodeBlock/EVP_DecodeBlock). Those
// accept things Go rejects ('=' in the middle decodes as zero bits, leading
// and trailing whitespace is skipped) and return the padding as zero bytes,
// so every decode validates the input Go's way first and trims the output.
//
// Secrets (a symmetric key, a private key file, a password) should be decoded
// with the *_secret variants: the output and every temporary copy of the
// input live in wiping memory (kernels::SecretBytes).
//
// All functions are pure and thread-safe.
#ifndef LAYERCRYPT_ENGINE_CORE_BASE64_H_
#define LAYERCRYPT_ENGINE_CORE_BASE64_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// base64_encode returns `data` as standard base64 with padding, byte-identical
// to Go's base64.StdEncoding.EncodeToString. Never fails.
std::string base64_encode(std::span<const uint8_t> data);

// base64_encode_secret is base64_encode for secret input: the text is
// returned in wiping memory. Never fails.
kernels::SecretBytes base64_encode_secret(std::span<const uint8_t> data);

// base64_decode decodes standard padded base64 the way Go's
// base64.StdEncoding.DecodeString does. Returns the bytes, or a kDataError
// naming the offending position (never the input) for a bad character,
// misplaced padding, missing padding or a bad length.
StatusOr<std::vector<uint8_t>> base64_decode(std::string_view text);

// base64_decode_secret is base64_decode writing into wiping memory; use it
// for key material. Same errors as base64_decode.
StatusOr<kernels::SecretBytes> base64_decode_secret(std::string_view text);

// base64url_encode returns `data` as base64url without padding, as go-jose
// writes JWE members (base64.RawURLEncoding). Never fails.
std::string base64url_encode(std::span<const uint8_t> data);

// base64url_decode decodes unpadded base64url as go-jose does (trailing '='
// trimmed, then base64.RawURLEncoding.DecodeString). Returns the bytes, or
// a kDataError for a bad character or a length of 1 mod 4.
StatusOr<std::vector<uint8_t>> base64url_decode(std::string_view text);

// base64url_decode_secret is base64url_decode writing into wiping memory.
// Same errors as base64url_decode.
StatusOr<kernels::SecretBytes> base64url_decode_secret(std::string_view text);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_BASE64_H_
