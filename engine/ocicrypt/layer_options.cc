// engine/ocicrypt/layer_options.cc: Go encoding/json-compatible options parsing and
// serialisation, on the gojson primitives (go_json.h).
#include "engine/ocicrypt/layer_options.h"

#include "engine/core/base64.h"
#include "engine/core/go_json.h"

namespace layercrypt {
namespace {

using gojson::Value;

std::string_view view(const gojson::String& s) { return std::string_view(s.data(), s.size()); }

// decode_options_object walks a top-level options document the way Go's
// decoder does: null → zero value; otherwise an object whose members are
// dispatched to `on_member` (which sees every member, in order).
template <typename Fn>
Status walk_object(const Value& doc, std::string_view what, Fn on_member) {
  if (doc.kind == Value::Kind::kNull) return Status::Ok();
  if (doc.kind != Value::Kind::kObject)
    return DataError(std::string(what) + ": expected a JSON object, got " +
                     gojson::kind_name(doc.kind));
  for (const gojson::Member& m : doc.members) LC_RETURN_IF_ERROR(on_member(m));
  return Status::Ok();
}

// decode_cipher_options decodes map[string][]byte into `out`. Like Go, a
// second object for the same field is merged into the existing map, and
// null resets it.
template <typename Map, typename Conv>
Status decode_cipher_options(const Value& v, std::string_view what, Map* out, Conv conv) {
  if (v.kind == Value::Kind::kNull) {
    out->clear();
    return Status::Ok();
  }
  if (v.kind != Value::Kind::kObject)
    return DataError(std::string(what) + ".cipheroptions: expected an object, got " +
                     gojson::kind_name(v.kind));
  for (const gojson::Member& m : v.members) {
    auto bytes = gojson::decode_bytes(
        m.value, std::string(what) + ".cipheroptions[" + quoted_for_message(view(m.name)) + "]");
    if (!bytes.ok()) return bytes.status();
    (*out)[std::string(view(m.name))] = conv(std::move(bytes).value());
  }
  return Status::Ok();
}

template <typename Out>
void append_b64(Out& out, std::span<const uint8_t> bytes) {
  out.push_back('"');
  kernels::SecretBytes b64 = base64_encode_secret(bytes);
  out.insert(out.end(), b64.begin(), b64.end());
  out.push_back('"');
}

template <typename Out>
void append_raw(Out& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

StatusOr<PrivateLayerOptions> parse_private_impl(std::string_view json) {
  auto doc = gojson::parse(json);
  if (!doc.ok()) return doc.status().with_context("private layer options");
  PrivateLayerOptions opts;
  Status st = walk_object(*doc, "private layer options", [&](const gojson::Member& m) -> Status {
    const std::string_view name = view(m.name);
    if (gojson::name_matches(name, "symkey")) {
      auto b = gojson::decode_bytes(m.value, "private layer options.symkey");
      if (!b.ok()) return b.status();
      opts.symkey = std::move(b).value();
    } else if (gojson::name_matches(name, "digest")) {
      return gojson::decode_string(m.value, "private layer options.digest", &opts.digest);
    } else if (gojson::name_matches(name, "cipheroptions")) {
      return decode_cipher_options(m.value, "private layer options", &opts.cipher_options,
                                   [](kernels::SecretBytes b) { return b; });
    }
    return Status::Ok();  // unknown members are ignored, as in Go
  });
  if (!st.ok()) return st;
  return opts;
}

}  // namespace

StatusOr<PublicLayerOptions> parse_public_options(std::string_view json) {
  auto doc = gojson::parse(json);
  if (!doc.ok()) return doc.status().with_context("public layer options");
  PublicLayerOptions opts;
  Status st = walk_object(*doc, "public layer options", [&](const gojson::Member& m) -> Status {
    const std::string_view name = view(m.name);
    if (gojson::name_matches(name, "cipher")) {
      return gojson::decode_string(m.value, "public layer options.cipher", &opts.cipher);
    } else if (gojson::name_matches(name, "hmac")) {
      auto b = gojson::decode_bytes(m.value, "public layer options.hmac");
      if (!b.ok()) return b.status();
      opts.hmac.assign(b->begin(), b->end());
    } else if (gojson::name_matches(name, "cipheroptions")) {
      return decode_cipher_options(
          m.value, "public layer options", &opts.cipher_options,
          [](const kernels::SecretBytes& b) { return std::vector<uint8_t>(b.begin(), b.end()); });
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return opts;
}

StatusOr<PrivateLayerOptions> parse_private_options(std::span<const uint8_t> json) {
  return parse_private_impl(
      std::string_view(reinterpret_cast<const char*>(json.data()), json.size()));
}

StatusOr<PrivateLayerOptions> parse_private_options(std::string_view json) {
  return parse_private_impl(json);
}

// append_cipher_options writes a Go map[string][]byte: keys sorted bytewise
// (std::map's order, as Go's encoder sorts them), values padded base64.
template <typename Out, typename Map>
void append_cipher_options(Out& out, const Map& options) {
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : options) {
    if (!first) out.push_back(',');
    first = false;
    gojson::append_string(out, k);
    out.push_back(':');
    append_b64(out, v);
  }
  out.push_back('}');
}

std::string serialize_public_options(const PublicLayerOptions& opts) {
  std::string out = "{\"cipher\":";
  gojson::append_string(out, opts.cipher);
  append_raw(out, ",\"hmac\":");
  append_b64(out, opts.hmac);
  append_raw(out, ",\"cipheroptions\":");
  append_cipher_options(out, opts.cipher_options);
  out.push_back('}');
  return out;
}

kernels::SecretBytes serialize_private_options(const PrivateLayerOptions& opts) {
  kernels::SecretBytes out;
  out.reserve(256);  // avoid reallocations: each would leave a key copy behind
  append_raw(out, "{\"symkey\":");
  append_b64(out, opts.symkey);
  append_raw(out, ",\"digest\":");
  gojson::append_string(out, opts.digest);
  append_raw(out, ",\"cipheroptions\":");
  append_cipher_options(out, opts.cipher_options);
  out.push_back('}');
  return out;
}

Status validate_for_decryption(const PublicLayerOptions& pub, const PrivateLayerOptions& priv) {
  if (pub.cipher.empty())
    return DataError(
        "no cipher type provided (the layer has no or an empty "
        "org.opencontainers.image.enc.pubopts annotation)");
  if (pub.cipher != kLayerCipherName) {
    return Unsupported("unsupported cipher type " + quoted_for_message(pub.cipher) + " (only " +
                       std::string(kLayerCipherName) + " exists)");
  }
  if (pub.hmac.empty()) return DataError("HMAC is not provided for decryption process");
  if (pub.hmac.size() != kLayerHmacLen)
    return DataError("invalid HMAC length of " + std::to_string(pub.hmac.size()) +
                     " bytes in the public layer options; need 32 bytes");
  if (pub.cipher_options.count(std::string(kNonceOption)) != 0)
    return IntegrityError(
        "the public layer options carry a nonce; refusing it: the nonce must come from the "
        "wrapped private options (a public nonce would decrypt to garbage that passes the HMAC)");
  if (priv.symkey.size() != kLayerKeyLen)
    return DataError("invalid key length of " + std::to_string(priv.symkey.size()) +
                     " bytes; need 32 bytes");
  auto it = priv.cipher_options.find(std::string(kNonceOption));
  if (it == priv.cipher_options.end())
    return DataError("the private layer options have no nonce in cipheroptions");
  if (it->second.size() != kLayerNonceLen)
    return DataError("invalid nonce length of " + std::to_string(it->second.size()) +
                     " bytes; need 16 bytes");
  return Status::Ok();
}

}  // namespace layercrypt
