// engine/keywrap/pkcs11/pkcs11_blob.cc: see pkcs11_blob.h.
#include "engine/keywrap/pkcs11/pkcs11_blob.h"

#include <stdlib.h>

#include <string_view>

#include "engine/core/base64.h"
#include "engine/core/go_json.h"

namespace layercrypt {
namespace {

constexpr size_t kMaxBlob = size_t{1} << 20;

// version_zero checks a Go uint member: a number; only 0 is supported.
Status version_zero(const gojson::Value& v, std::string_view what) {
  if (v.kind == gojson::Value::Kind::kNull) return Status::Ok();
  if (v.kind != gojson::Value::Kind::kNumber)
    return DataError("pkcs11 blob: " + std::string(what) + " version is not a number");
  const std::string_view t(v.text.data(), v.text.size());
  if (t != "0") {
    for (char c : t)
      if (c < '0' || c > '9')
        return DataError("pkcs11 blob: " + std::string(what) +
                         " version is not an unsigned integer");
    return Unsupported("pkcs11 blob: " + std::string(what) + " version " + quoted_for_message(t) +
                       " (only version 0 is supported)");
  }
  return Status::Ok();
}

StatusOr<Pkcs11BlobRecipient> parse_recipient(const gojson::Value& v) {
  if (v.kind != gojson::Value::Kind::kObject)
    return DataError("pkcs11 blob: a recipient is not a JSON object");
  std::string blob, hash;
  bool have_blob = false;
  for (const auto& m : v.members) {
    const std::string_view name(m.name.data(), m.name.size());
    if (gojson::name_matches(name, "version")) {
      LC_RETURN_IF_ERROR(version_zero(m.value, "recipient"));
    } else if (gojson::name_matches(name, "blob")) {
      LC_RETURN_IF_ERROR(gojson::decode_string(m.value, "pkcs11 blob: recipient blob", &blob));
      have_blob = have_blob || m.value.kind == gojson::Value::Kind::kString;
    } else if (gojson::name_matches(name, "hash")) {
      LC_RETURN_IF_ERROR(gojson::decode_string(m.value, "pkcs11 blob: recipient hash", &hash));
    }
  }
  if (!have_blob || blob.empty()) return DataError("pkcs11 blob: a recipient has no blob");
  auto ct = base64_decode(blob);
  if (!ct.ok()) return DataError("pkcs11 blob: a recipient's blob is not base64");
  Pkcs11BlobRecipient r;
  r.ciphertext = std::move(*ct);
  if (hash.empty()) {
    r.hash = OaepHash::kSha1;
    r.hash_written = false;
  } else if (hash == "sha1") {
    r.hash = OaepHash::kSha1;
  } else if (hash == "sha256") {
    r.hash = OaepHash::kSha256;
  } else {
    return Unsupported("pkcs11 blob: unsupported OAEP hash " + quoted_for_message(hash) +
                       " (sha1, sha256)");
  }
  return r;
}

}  // namespace

const char* oaep_hash_name(OaepHash hash) { return hash == OaepHash::kSha1 ? "sha1" : "sha256"; }

StatusOr<OaepHash> oaep_hash_from_env() {
  const char* v = ::getenv("OCICRYPT_OAEP_HASHALG");
  if (v == nullptr || *v == '\0' || std::string_view(v) == "sha256") return OaepHash::kSha256;
  if (std::string_view(v) == "sha1") return OaepHash::kSha1;
  return InvalidArgument("unsupported OAEP hash " + quoted_for_message(v) +
                         " in OCICRYPT_OAEP_HASHALG (sha256, the default, or sha1)");
}

StatusOr<std::vector<Pkcs11BlobRecipient>> parse_pkcs11_blob(std::span<const uint8_t> json) {
  if (json.size() > kMaxBlob) return DataError("pkcs11 blob is larger than 1 MiB");
  auto doc =
      gojson::parse(std::string_view(reinterpret_cast<const char*>(json.data()), json.size()));
  if (!doc.ok()) return DataError("pkcs11 blob: " + doc.status().message());
  if (doc->kind != gojson::Value::Kind::kObject) return DataError("pkcs11 blob: not a JSON object");
  std::vector<Pkcs11BlobRecipient> out;
  bool have_recipients = false;
  for (const auto& m : doc->members) {
    const std::string_view name(m.name.data(), m.name.size());
    if (gojson::name_matches(name, "version")) {
      LC_RETURN_IF_ERROR(version_zero(m.value, "blob"));
    } else if (gojson::name_matches(name, "recipients")) {
      if (m.value.kind == gojson::Value::Kind::kNull) continue;
      if (m.value.kind != gojson::Value::Kind::kArray)
        return DataError("pkcs11 blob: recipients is not a JSON array");
      out.clear();  // a later duplicate replaces the list, as in Go
      have_recipients = true;
      for (const auto& item : m.value.items) {
        LC_ASSIGN_OR_RETURN(Pkcs11BlobRecipient r, parse_recipient(item));
        out.push_back(std::move(r));
      }
    }
  }
  if (!have_recipients || out.empty()) return DataError("pkcs11 blob: no recipients");
  return out;
}

std::vector<uint8_t> write_pkcs11_blob(const std::vector<Pkcs11BlobRecipient>& recipients) {
  std::string s = "{\"version\":0,\"recipients\":[";
  for (size_t i = 0; i < recipients.size(); ++i) {
    if (i > 0) s += ',';
    s += "{\"version\":0,\"blob\":";
    gojson::append_string(s, base64_encode(recipients[i].ciphertext));
    s += ",\"hash\":";
    gojson::append_string(s, oaep_hash_name(recipients[i].hash));
    s += '}';
  }
  s += "]}";
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace layercrypt
