// engine/core/base64.cc: Go-compatible validation around OpenSSL's base64 codec.
#include "engine/core/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace layercrypt {
namespace {

using kernels::SecretBytes;

// EVP_EncodeBlock/EVP_DecodeBlock take an int length; work in chunks that
// are a multiple of 3 input bytes (4 output chars) so no padding appears
// mid-stream.
constexpr size_t kEncodeChunk = size_t{3} << 20;

bool is_std_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool is_url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Go's decoders skip '\r' and '\n' wherever they appear.
bool is_newline(char c) { return c == '\r' || c == '\n'; }

template <typename Out>
void encode_into(std::span<const uint8_t> data, Out* out) {
  const size_t total = 4 * ((data.size() + 2) / 3);
  out->assign(total + 1, 0);  // EVP_EncodeBlock writes a terminating NUL
  size_t in_off = 0, out_off = 0;
  while (in_off < data.size()) {
    const size_t n = std::min(kEncodeChunk, data.size() - in_off);
    const int w = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out->data()) + out_off,
                                  data.data() + in_off, static_cast<int>(n));
    in_off += n;
    out_off += static_cast<size_t>(w);
  }
  out->resize(total);
}

// decode_validated runs OpenSSL over `buf` (std alphabet, length a multiple
// of 4, already validated) and keeps `out_len` bytes: EVP_DecodeBlock
// returns the '=' padding as zero bytes, which Go does not.
template <typename Out>
Status decode_validated(const SecretBytes& buf, size_t out_len, Out* out) {
  out->assign(3 * (buf.size() / 4), 0);
  size_t in_off = 0, out_off = 0;
  const size_t chunk = 4 * (kEncodeChunk / 3);
  while (in_off < buf.size()) {
    const size_t n = std::min(chunk, buf.size() - in_off);
    const int w = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()) + out_off,
                                  buf.data() + in_off, static_cast<int>(n));
    if (w < 0 || static_cast<size_t>(w) != 3 * (n / 4)) {
      kernels::secure_wipe(out->data(), out->size());
      return Internal("OpenSSL EVP_DecodeBlock rejected base64 that passed validation");
    }
    in_off += n;
    out_off += static_cast<size_t>(w);
  }
  // Trailing pad bytes hold decoded bits of the last quantum: wipe them
  // before shrinking so they do not linger in the vector's capacity.
  kernels::secure_wipe(out->data() + out_len, out->size() - out_len);
  out->resize(out_len);
  return Status::Ok();
}

template <typename Out>
Status decode_std(std::string_view text, Out* out) {
  if (text.size() > static_cast<size_t>(INT_MAX) / 2)
    return DataError("base64 input too large (" + std::to_string(text.size()) + " bytes)");
  size_t n = 0;
  for (char c : text) n += is_newline(c) ? 0 : 1;
  SecretBytes buf;
  buf.reserve(n);
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_newline(c)) continue;
    const size_t p = buf.size();
    if (c == '=') {
      // Padding is only valid in the last two positions of the last quantum.
      if (n % 4 != 0) break;  // reported below as a length error
      if (p + 2 < n)
        return DataError("illegal base64 data at input byte " + std::to_string(i) +
                         ": misplaced '=' padding");
      ++pad;
    } else if (!is_std_char(c)) {
      return DataError("illegal base64 data at input byte " + std::to_string(i) +
                       (is_url_char(c) ? ": '-' or '_' is base64url, not standard base64"
                                       : ": not a base64 character"));
    } else if (pad != 0) {
      return DataError("illegal base64 data at input byte " + std::to_string(i) +
                       ": data after '=' padding");
    }
    buf.push_back(static_cast<uint8_t>(c));
  }
  if (n % 4 != 0)
    return DataError("illegal base64 data: length " + std::to_string(n) +
                     " is not a multiple of 4 (unpadded base64 is not accepted; add '=' padding)");
  return decode_validated(buf, 3 * (n / 4) - pad, out);
}

template <typename Out>
Status decode_url(std::string_view text, Out* out) {
  if (text.size() > static_cast<size_t>(INT_MAX) / 2)
    return DataError("base64url input too large (" + std::to_string(text.size()) + " bytes)");
  // go-jose trims trailing '=' before decoding without padding.
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  SecretBytes buf;
  buf.reserve(text.size() + 3);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_newline(c)) continue;
    if (!is_url_char(c))
      return DataError("illegal base64url data at input byte " + std::to_string(i) +
                       (is_std_char(c) || c == '=' ? ": '+', '/' or '=' is not base64url"
                                                   : ": not a base64url character"));
    buf.push_back(static_cast<uint8_t>(c == '-' ? '+' : c == '_' ? '/' : c));
  }
  const size_t n = buf.size();
  if (n % 4 == 1)
    return DataError("illegal base64url data: length " + std::to_string(n) +
                     " leaves a single trailing character");
  const size_t rem = n % 4;
  const size_t out_len = 3 * (n / 4) + (rem == 0 ? 0 : rem - 1);
  while (buf.size() % 4 != 0) buf.push_back('=');
  return decode_validated(buf, out_len, out);
}

template <typename Out, typename Fn>
StatusOr<Out> run_decode(std::string_view text, Fn fn) {
  Out out;
  Status st = fn(text, &out);
  if (!st.ok()) return st;
  return out;
}

}  // namespace

std::string base64_encode(std::span<const uint8_t> data) {
  std::string out;
  encode_into(data, &out);
  return out;
}

kernels::SecretBytes base64_encode_secret(std::span<const uint8_t> data) {
  SecretBytes out;
  encode_into(data, &out);
  return out;
}

StatusOr<std::vector<uint8_t>> base64_decode(std::string_view text) {
  return run_decode<std::vector<uint8_t>>(text, decode_std<std::vector<uint8_t>>);
}

StatusOr<kernels::SecretBytes> base64_decode_secret(std::string_view text) {
  return run_decode<SecretBytes>(text, decode_std<SecretBytes>);
}

std::string base64url_encode(std::span<const uint8_t> data) {
  std::string out = base64_encode(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

StatusOr<std::vector<uint8_t>> base64url_decode(std::string_view text) {
  return run_decode<std::vector<uint8_t>>(text, decode_url<std::vector<uint8_t>>);
}

StatusOr<kernels::SecretBytes> base64url_decode_secret(std::string_view text) {
  return run_decode<SecretBytes>(text, decode_url<SecretBytes>);
}

}  // namespace layercrypt
