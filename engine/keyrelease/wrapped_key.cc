// engine/keyrelease/wrapped_key.cc: see wrapped_key.h.
#include "engine/keyrelease/wrapped_key.h"

#include <cassert>

#include "engine/core/base64.h"
#include "engine/core/go_json.h"

namespace layercrypt {

namespace {

Status invalid(const std::string& why) { return DataError("invalid wrapped key: " + why); }

bool key_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '@' || c == '/' || c == '+' || c == '-';
}

std::string_view view(const gojson::String& s) { return {s.data(), s.size()}; }

// decode_b64 decodes a canonical padded std base64 member: Go's decoder
// would also skip CR/LF, which no writer of this format emits.
StatusOr<std::vector<uint8_t>> decode_b64(const gojson::Value& v, const char* member,
                                          size_t max_len) {
  if (v.kind != gojson::Value::Kind::kString)
    return invalid(std::string("\"") + member + "\" is a " + gojson::kind_name(v.kind) +
                   ", not a base64 string");
  const std::string_view text = view(v.text);
  if (text.size() > (max_len + 2) / 3 * 4)
    return invalid(std::string("\"") + member + "\" is too long");
  auto bytes = base64_decode(text);
  if (!bytes.ok() || base64_encode(*bytes) != text)
    return invalid(std::string("\"") + member + "\" is not canonical padded base64");
  return bytes;
}

}  // namespace

const char* kek_kind_name(KekKind kind) { return kind == KekKind::kFile ? "file" : "pkcs11"; }

bool is_valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdLen) return false;
  const char c0 = id[0];
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || (c0 >= '0' && c0 <= '9')))
    return false;
  for (char c : id)
    if (!key_id_char(c)) return false;
  return true;
}

std::vector<uint8_t> wrapped_key_aad(std::string_view key_id, KekKind kek) {
  std::string aad = "layercrypt-keyprovider/v1";
  aad.push_back('\0');
  aad += kek_kind_name(kek);
  aad.push_back('\0');
  aad += key_id;
  return {aad.begin(), aad.end()};
}

std::vector<uint8_t> serialize_wrapped_key(const WrappedKey& key) {
  assert(is_valid_key_id(key.key_id) && key.sealed.size() >= kWrappedKeyTagLen);
  // The key id grammar needs no JSON escaping.
  const std::string json = "{\"v\":" + std::to_string(kWrappedKeyVersion) + ",\"key\":\"" +
                           key.key_id + "\",\"kek\":\"" + kek_kind_name(key.kek) +
                           "\",\"nonce\":\"" + base64_encode(key.nonce) + "\",\"ct\":\"" +
                           base64_encode(key.sealed) + "\"}";
  return {json.begin(), json.end()};
}

StatusOr<WrappedKey> parse_wrapped_key(std::span<const uint8_t> annotation) {
  if (annotation.empty()) return invalid("empty");
  if (annotation.size() > kMaxWrappedKeySize)
    return invalid(std::to_string(annotation.size()) + " bytes, more than the " +
                   std::to_string(kMaxWrappedKeySize) + " allowed");
  auto parsed =
      gojson::parse({reinterpret_cast<const char*>(annotation.data()), annotation.size()});
  if (!parsed.ok()) return invalid(parsed.status().message());
  const gojson::Value& root = *parsed;
  if (root.kind != gojson::Value::Kind::kObject)
    return invalid(std::string("a JSON ") + gojson::kind_name(root.kind) + ", not an object");
  static constexpr const char* kNames[] = {"v", "key", "kek", "nonce", "ct"};
  const gojson::Value* found[5] = {};
  for (const gojson::Member& m : root.members) {
    size_t i = 0;
    while (i < 5 && view(m.name) != kNames[i]) ++i;
    if (i == 5) return invalid("unknown member " + quoted_for_message(view(m.name)));
    if (found[i] != nullptr) return invalid(std::string("\"") + kNames[i] + "\" appears twice");
    found[i] = &m.value;
  }
  for (size_t i = 0; i < 5; ++i)
    if (found[i] == nullptr) return invalid(std::string("no \"") + kNames[i] + "\"");

  const gojson::Value& v = *found[0];
  if (v.kind != gojson::Value::Kind::kNumber) return invalid("\"v\" is not a number");
  if (view(v.text) != "1") {
    const std::string_view t = view(v.text);
    const bool integer =
        !t.empty() && t.size() <= 9 && t.find_first_not_of("0123456789") == std::string_view::npos;
    if (integer && t[0] != '0')
      return Unsupported("wrapped key version " + std::string(t) +
                         " is not supported (this provider reads version 1)");
    return invalid("\"v\" is not a version number");
  }
  WrappedKey out;
  const gojson::Value& key = *found[1];
  if (key.kind != gojson::Value::Kind::kString || !is_valid_key_id(view(key.text)))
    return invalid("\"key\" is not a key id (1-128 of A-Z a-z 0-9 . _ : @ / + -)");
  out.key_id = std::string(view(key.text));
  const gojson::Value& kek = *found[2];
  if (kek.kind == gojson::Value::Kind::kString && view(kek.text) == "file") {
    out.kek = KekKind::kFile;
  } else if (kek.kind == gojson::Value::Kind::kString && view(kek.text) == "pkcs11") {
    out.kek = KekKind::kPkcs11;
  } else {
    return invalid("\"kek\" is not \"file\" or \"pkcs11\"");
  }
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> nonce,
                      decode_b64(*found[3], "nonce", kWrappedKeyNonceLen));
  if (nonce.size() != kWrappedKeyNonceLen)
    return invalid("\"nonce\" is " + std::to_string(nonce.size()) + " bytes, not 12");
  std::copy(nonce.begin(), nonce.end(), out.nonce.begin());
  LC_ASSIGN_OR_RETURN(out.sealed,
                      decode_b64(*found[4], "ct", kMaxWrappedPlaintext + kWrappedKeyTagLen));
  if (out.sealed.size() < kWrappedKeyTagLen)
    return invalid("\"ct\" is shorter than an AES-GCM tag");
  if (out.sealed.size() > kMaxWrappedPlaintext + kWrappedKeyTagLen)
    return invalid("\"ct\" is too long");
  return out;
}

}  // namespace layercrypt
