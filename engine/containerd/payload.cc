// engine/containerd/payload.cc: fd-3 payload (protobuf Any + Go JSON) decoding and
// encoding.
#include "engine/containerd/payload.h"

#include "engine/core/base64.h"
#include "engine/core/go_json.h"

namespace layercrypt {
namespace {

using gojson::Value;
using kernels::SecretBytes;

std::string_view view(const gojson::String& s) { return std::string_view(s.data(), s.size()); }

// ---- protobuf wire format --------------------------------------------------

// read_varint mirrors protobuf-go's ConsumeVarint: at most 10 bytes, and the
// 10th may only carry the top bit of a uint64.
bool read_varint(std::span<const uint8_t> in, size_t* pos, uint64_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (*pos >= in.size()) return false;
    const uint8_t b = in[(*pos)++];
    if (i == 9 && b > 1) return false;
    v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

void append_varint(SecretBytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

struct AnyFields {
  std::span<const uint8_t> type_url;
  std::span<const uint8_t> value;
  bool has_value = false;
};

Status parse_any(std::span<const uint8_t> in, AnyFields* any) {
  size_t pos = 0;
  while (pos < in.size()) {
    const size_t field_start = pos;
    uint64_t tag = 0;
    if (!read_varint(in, &pos, &tag))
      return DataError("payload protobuf: truncated or overlong field tag at byte " +
                       std::to_string(field_start));
    const uint64_t field = tag >> 3;
    const unsigned wire = static_cast<unsigned>(tag & 7);
    if (field == 0 || field > 0x1FFFFFFF)
      return DataError("payload protobuf: invalid field number " + std::to_string(field) +
                       " at byte " + std::to_string(field_start));
    std::span<const uint8_t> data;
    switch (wire) {
      case 0: {
        uint64_t ignored = 0;
        if (!read_varint(in, &pos, &ignored))
          return DataError("payload protobuf: truncated varint in field " + std::to_string(field));
        break;
      }
      case 1:
      case 5: {
        const size_t n = wire == 1 ? 8 : 4;
        if (in.size() - pos < n)
          return DataError("payload protobuf: truncated fixed-size field " + std::to_string(field));
        pos += n;
        break;
      }
      case 2: {
        uint64_t len = 0;
        if (!read_varint(in, &pos, &len))
          return DataError("payload protobuf: truncated length of field " + std::to_string(field));
        if (len > in.size() - pos)
          return DataError("payload protobuf: field " + std::to_string(field) + " claims " +
                           std::to_string(len) + " bytes but only " +
                           std::to_string(in.size() - pos) + " remain (truncated payload?)");
        data = in.subspan(pos, static_cast<size_t>(len));
        pos += static_cast<size_t>(len);
        break;
      }
      case 3:
      case 4:
        return DataError("payload protobuf: unsupported group wire type in field " +
                         std::to_string(field));
      default:
        return DataError("payload protobuf: invalid wire type " + std::to_string(wire) +
                         " in field " + std::to_string(field));
    }
    if (field == 1 || field == 2) {
      if (wire != 2)
        return DataError("payload protobuf: google.protobuf.Any field " + std::to_string(field) +
                         " has wire type " + std::to_string(wire) + ", expected length-delimited");
      // proto3: the last occurrence of a singular field wins.
      if (field == 1) {
        any->type_url = data;
      } else {
        any->value = data;
        any->has_value = true;
      }
    }
  }
  return Status::Ok();
}

// ---- Go JSON decoding of the payload ----------------------------------------

Status decode_parameters(const Value& v, DecryptParameters* params) {
  if (v.kind == Value::Kind::kNull) {
    *params = DecryptParameters();  // nil map
    return Status::Ok();
  }
  if (v.kind != Value::Kind::kObject)
    return DataError("DecryptConfig.Parameters: expected an object or null, got " +
                     std::string(gojson::kind_name(v.kind)));
  params->make_empty();
  for (const gojson::Member& m : v.members) {
    // Parameter names are map keys: matched exactly, never folded.
    const std::string name(view(m.name));
    const std::string what = "DecryptConfig.Parameters[" + quoted_for_message(name) + "]";
    DecryptParameters::List list;
    if (m.value.kind == Value::Kind::kArray) {
      list.reserve(m.value.items.size());
      for (size_t i = 0; i < m.value.items.size(); ++i) {
        const Value& e = m.value.items[i];
        if (e.kind == Value::Kind::kNull) {
          list.emplace_back(std::nullopt);
          continue;
        }
        auto b = gojson::decode_bytes(e, what + "[" + std::to_string(i) + "]");
        if (!b.ok()) return b.status();
        list.emplace_back(std::move(b).value());
      }
    } else if (m.value.kind != Value::Kind::kNull) {
      return DataError(what + ": expected an array or null, got " +
                       gojson::kind_name(m.value.kind));
    }
    params->set(name, std::move(list));
  }
  return Status::Ok();
}

Status decode_decrypt_config(const Value& v, DecryptParameters* params) {
  if (v.kind == Value::Kind::kNull) return Status::Ok();  // a struct: null is a no-op
  if (v.kind != Value::Kind::kObject)
    return DataError("DecryptConfig: expected a JSON object, got " +
                     std::string(gojson::kind_name(v.kind)));
  for (const gojson::Member& m : v.members)
    if (gojson::name_matches(view(m.name), "Parameters"))
      LC_RETURN_IF_ERROR(decode_parameters(m.value, params));
  return Status::Ok();
}

// ---- Go JSON encoding --------------------------------------------------------

template <typename Out>
void put(Out& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

template <typename Out>
void put_b64(Out& out, std::span<const uint8_t> bytes) {
  out.push_back('"');
  const SecretBytes b64 = base64_encode_secret(bytes);
  out.insert(out.end(), b64.begin(), b64.end());
  out.push_back('"');
}

}  // namespace

// ---- DecryptParameters -------------------------------------------------------

const DecryptParameters::Map& DecryptParameters::entries() const {
  static const Map kEmpty;
  return map_ ? *map_ : kEmpty;
}

const DecryptParameters::List* DecryptParameters::find(std::string_view name) const {
  if (!map_) return nullptr;
  auto it = map_->find(std::string(name));
  return it == map_->end() ? nullptr : &it->second;
}

const DecryptParameters::List& DecryptParameters::get(std::string_view name) const {
  static const List kEmpty;
  const List* l = find(name);
  return l ? *l : kEmpty;
}

void DecryptParameters::set(std::string name, List values) {
  make_empty();
  (*map_)[std::move(name)] = std::move(values);
}

void DecryptParameters::append(std::string_view name, std::optional<kernels::SecretBytes> value) {
  make_empty();
  (*map_)[std::string(name)].push_back(std::move(value));
}

// ---- public API ----------------------------------------------------------------

StatusOr<Payload> parse_payload_json(std::span<const uint8_t> json) {
  auto doc =
      gojson::parse(std::string_view(reinterpret_cast<const char*>(json.data()), json.size()));
  if (!doc.ok()) return doc.status().with_context("payload JSON");
  if (doc->kind != Value::Kind::kObject)
    return DataError(
        "payload JSON: expected an object {\"DecryptConfig\":...,\"Descriptor\":...}, got " +
        std::string(gojson::kind_name(doc->kind)));
  Payload p;
  for (const gojson::Member& m : doc->members) {
    const std::string_view n = view(m.name);
    if (gojson::name_matches(n, "DecryptConfig")) {
      Status st = decode_decrypt_config(m.value, &p.parameters);
      if (!st.ok()) return st.with_context("payload JSON");
    } else if (gojson::name_matches(n, "Descriptor")) {
      Status st = decode_descriptor(m.value, &p.descriptor);
      if (!st.ok()) return st.with_context("payload JSON");
    }
  }
  return p;
}

StatusOr<std::vector<Descriptor>> parse_manifest_layers(std::string_view json) {
  auto doc = gojson::parse(json);
  if (!doc.ok()) return doc.status().with_context("manifest");
  if (doc->kind != Value::Kind::kObject)
    return DataError("manifest: expected a JSON object, got " +
                     std::string(gojson::kind_name(doc->kind)));
  std::vector<Descriptor> layers;
  for (const gojson::Member& m : doc->members) {
    if (!gojson::name_matches(view(m.name), "layers")) continue;
    // []Descriptor: null → nil; an array replaces what an earlier "layers"
    // decoded (Go reuses the slice from length 0).
    layers.clear();
    if (m.value.kind == Value::Kind::kNull) continue;
    if (m.value.kind != Value::Kind::kArray)
      return DataError("manifest.layers: expected an array, got " +
                       std::string(gojson::kind_name(m.value.kind)));
    for (const Value& item : m.value.items) {
      Descriptor d;
      Status st = decode_descriptor(item, &d);
      if (!st.ok())
        return st.with_context("manifest.layers[" + std::to_string(layers.size()) + "]");
      layers.push_back(std::move(d));
    }
  }
  return layers;
}

StatusOr<Payload> parse_payload(std::span<const uint8_t> bytes) {
  if (bytes.empty())
    return DataError("payload is empty (containerd sent no fd-3 data for this processor)");
  AnyFields any;
  LC_RETURN_IF_ERROR(parse_any(bytes, &any));
  const std::string_view type_url(reinterpret_cast<const char*>(any.type_url.data()),
                                  any.type_url.size());
  if (type_url != kPayloadTypeUrl)
    return Unsupported("payload type_url is " + quoted_for_message(type_url) + "; expected " +
                       std::string(kPayloadTypeUrl));
  if (!any.has_value || any.value.empty())
    return DataError("payload has no value (the google.protobuf.Any carries no JSON)");
  return parse_payload_json(any.value);
}

kernels::SecretBytes encode_payload_json(const Payload& payload) {
  SecretBytes out;
  size_t estimate = 512;
  for (const auto& [name, list] : payload.parameters.entries())
    for (const auto& v : list) estimate += name.size() + (v ? v->size() * 4 / 3 + 8 : 8);
  for (const auto& [k, v] : payload.descriptor.annotations) estimate += k.size() + v.size() + 16;
  out.reserve(estimate * 2);  // growth would leave unwiped copies of keys behind
  put(out, "{\"DecryptConfig\":{\"Parameters\":");
  if (payload.parameters.is_null()) {
    put(out, "null");
  } else {
    out.push_back('{');
    bool first = true;
    for (const auto& [name, list] : payload.parameters.entries()) {
      if (!first) out.push_back(',');
      first = false;
      gojson::append_string(out, name);
      put(out, ":[");
      for (size_t i = 0; i < list.size(); ++i) {
        if (i) out.push_back(',');
        if (list[i]) {
          put_b64(out, *list[i]);
        } else {
          put(out, "null");
        }
      }
      out.push_back(']');
    }
    out.push_back('}');
  }
  put(out, "},\"Descriptor\":");
  put(out, encode_descriptor(payload.descriptor));
  out.push_back('}');
  return out;
}

kernels::SecretBytes encode_payload(const Payload& payload) {
  const SecretBytes json = encode_payload_json(payload);
  SecretBytes out;
  out.reserve(json.size() + kPayloadTypeUrl.size() + 24);
  out.push_back(0x0a);  // field 1, length-delimited
  append_varint(out, kPayloadTypeUrl.size());
  put(out, kPayloadTypeUrl);
  out.push_back(0x12);  // field 2, length-delimited
  append_varint(out, json.size());
  out.insert(out.end(), json.begin(), json.end());
  return out;
}

}  // namespace layercrypt
