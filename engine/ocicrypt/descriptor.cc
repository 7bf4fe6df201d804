// engine/ocicrypt/descriptor.cc: image-spec's Descriptor in Go's JSON.
#include "engine/ocicrypt/descriptor.h"

#include <climits>

#include "engine/core/base64.h"

namespace layercrypt {
namespace {

using gojson::Value;

std::string_view view(const gojson::String& s) { return std::string_view(s.data(), s.size()); }

// decode_int64 mirrors Go decoding a number into int64:
// strconv.ParseInt(literal, 10, 64); null leaves the field unchanged.
Status decode_int64(const Value& v, std::string_view what, int64_t* out) {
  if (v.kind == Value::Kind::kNull) return Status::Ok();
  if (v.kind != Value::Kind::kNumber)
    return DataError(std::string(what) + ": expected a number, got " + gojson::kind_name(v.kind));
  const std::string_view t = view(v.text);
  const bool neg = !t.empty() && t[0] == '-';
  const std::string_view digits = t.substr(neg ? 1 : 0);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return DataError(std::string(what) + ": " + std::string(t.substr(0, 32)) +
                     " is not an integer");
  // Accumulate as a negative number so INT64_MIN fits.
  int64_t acc = 0;
  for (char c : digits) {
    const int d = c - '0';
    if (acc < (INT64_MIN + d) / 10)
      return DataError(std::string(what) + ": " + std::string(t.substr(0, 32)) +
                       " overflows int64");
    acc = acc * 10 - d;
  }
  if (!neg) {
    if (acc == INT64_MIN)
      return DataError(std::string(what) + ": " + std::string(t) + " overflows int64");
    acc = -acc;
  }
  *out = acc;
  return Status::Ok();
}

Status decode_string_list(const Value& v, std::string_view what, std::vector<std::string>* out) {
  if (v.kind == Value::Kind::kNull) {
    out->clear();
    return Status::Ok();
  }
  if (v.kind != Value::Kind::kArray)
    return DataError(std::string(what) + ": expected an array of strings, got " +
                     gojson::kind_name(v.kind));
  std::vector<std::string> list(v.items.size());
  for (size_t i = 0; i < v.items.size(); ++i)
    LC_RETURN_IF_ERROR(gojson::decode_string(
        v.items[i], std::string(what) + "[" + std::to_string(i) + "]", &list[i]));
  *out = std::move(list);
  return Status::Ok();
}

Status decode_platform(const Value& v, Platform* p) {
  if (v.kind != Value::Kind::kObject)
    return DataError(std::string("descriptor.platform: expected an object, got ") +
                     gojson::kind_name(v.kind));
  for (const gojson::Member& m : v.members) {
    const std::string_view n = view(m.name);
    if (gojson::name_matches(n, "architecture")) {
      LC_RETURN_IF_ERROR(
          gojson::decode_string(m.value, "descriptor.platform.architecture", &p->architecture));
    } else if (gojson::name_matches(n, "os")) {
      LC_RETURN_IF_ERROR(gojson::decode_string(m.value, "descriptor.platform.os", &p->os));
    } else if (gojson::name_matches(n, "os.version")) {
      LC_RETURN_IF_ERROR(
          gojson::decode_string(m.value, "descriptor.platform.os.version", &p->os_version));
    } else if (gojson::name_matches(n, "os.features")) {
      LC_RETURN_IF_ERROR(
          decode_string_list(m.value, "descriptor.platform.os.features", &p->os_features));
    } else if (gojson::name_matches(n, "variant")) {
      LC_RETURN_IF_ERROR(
          gojson::decode_string(m.value, "descriptor.platform.variant", &p->variant));
    }
  }
  return Status::Ok();
}

void put(std::string& out, std::string_view s) { out.append(s); }

void put_string_list(std::string& out, const std::vector<std::string>& list) {
  out.push_back('[');
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) out.push_back(',');
    gojson::append_string(out, list[i]);
  }
  out.push_back(']');
}

void put_descriptor(std::string& out, const Descriptor& d) {
  put(out, "{\"mediaType\":");
  gojson::append_string(out, d.media_type);
  put(out, ",\"digest\":");
  gojson::append_string(out, d.digest);
  put(out, ",\"size\":");
  put(out, std::to_string(d.size));
  if (!d.urls.empty()) {
    put(out, ",\"urls\":");
    put_string_list(out, d.urls);
  }
  if (!d.annotations.empty()) {
    put(out, ",\"annotations\":{");
    bool first = true;
    for (const auto& [k, v] : d.annotations) {  // sorted bytewise, like Go
      if (!first) out.push_back(',');
      first = false;
      gojson::append_string(out, k);
      out.push_back(':');
      gojson::append_string(out, v);
    }
    out.push_back('}');
  }
  if (!d.data.empty()) {
    put(out, ",\"data\":\"");
    put(out, base64_encode(d.data));
    out.push_back('"');
  }
  if (d.platform) {
    const Platform& p = *d.platform;
    put(out, ",\"platform\":{\"architecture\":");
    gojson::append_string(out, p.architecture);
    put(out, ",\"os\":");
    gojson::append_string(out, p.os);
    if (!p.os_version.empty()) {
      put(out, ",\"os.version\":");
      gojson::append_string(out, p.os_version);
    }
    if (!p.os_features.empty()) {
      put(out, ",\"os.features\":");
      put_string_list(out, p.os_features);
    }
    if (!p.variant.empty()) {
      put(out, ",\"variant\":");
      gojson::append_string(out, p.variant);
    }
    out.push_back('}');
  }
  if (!d.artifact_type.empty()) {
    put(out, ",\"artifactType\":");
    gojson::append_string(out, d.artifact_type);
  }
  out.push_back('}');
}

}  // namespace

Status decode_descriptor(const Value& v, Descriptor* d) {
  if (v.kind == Value::Kind::kNull) return Status::Ok();  // Go: null leaves a struct alone
  if (v.kind != Value::Kind::kObject)
    return DataError("descriptor: expected a JSON object, got " +
                     std::string(gojson::kind_name(v.kind)));
  for (const gojson::Member& m : v.members) {
    const std::string_view n = view(m.name);
    if (gojson::name_matches(n, "mediaType")) {
      LC_RETURN_IF_ERROR(gojson::decode_string(m.value, "descriptor.mediaType", &d->media_type));
    } else if (gojson::name_matches(n, "digest")) {
      LC_RETURN_IF_ERROR(gojson::decode_string(m.value, "descriptor.digest", &d->digest));
    } else if (gojson::name_matches(n, "size")) {
      LC_RETURN_IF_ERROR(decode_int64(m.value, "descriptor.size", &d->size));
    } else if (gojson::name_matches(n, "urls")) {
      LC_RETURN_IF_ERROR(decode_string_list(m.value, "descriptor.urls", &d->urls));
    } else if (gojson::name_matches(n, "annotations")) {
      // map[string]string: null resets it, a (second) object merges into it.
      if (m.value.kind == Value::Kind::kNull) {
        d->annotations.clear();
        continue;
      }
      if (m.value.kind != Value::Kind::kObject)
        return DataError("descriptor.annotations: expected an object, got " +
                         std::string(gojson::kind_name(m.value.kind)));
      for (const gojson::Member& a : m.value.members) {
        std::string val;
        LC_RETURN_IF_ERROR(gojson::decode_string(
            a.value, "descriptor.annotations[" + quoted_for_message(view(a.name)) + "]", &val));
        d->annotations[std::string(view(a.name))] = std::move(val);
      }
    } else if (gojson::name_matches(n, "data")) {
      auto b = gojson::decode_bytes(m.value, "descriptor.data");
      if (!b.ok()) return b.status();
      d->data.assign(b->begin(), b->end());
    } else if (gojson::name_matches(n, "platform")) {
      // *Platform: null → nil; an object decodes into the existing one.
      if (m.value.kind == Value::Kind::kNull) {
        d->platform.reset();
        continue;
      }
      if (!d->platform) d->platform.emplace();
      LC_RETURN_IF_ERROR(decode_platform(m.value, &*d->platform));
    } else if (gojson::name_matches(n, "artifactType")) {
      LC_RETURN_IF_ERROR(
          gojson::decode_string(m.value, "descriptor.artifactType", &d->artifact_type));
    }
  }
  return Status::Ok();
}

StatusOr<Descriptor> parse_descriptor(std::string_view json) {
  auto doc = gojson::parse(json);
  if (!doc.ok()) return doc.status().with_context("descriptor JSON");
  if (doc->kind != Value::Kind::kObject)
    return DataError("descriptor JSON: expected an object, got " +
                     std::string(gojson::kind_name(doc->kind)));
  Descriptor d;
  LC_RETURN_IF_ERROR(decode_descriptor(*doc, &d));
  return d;
}

std::string encode_descriptor(const Descriptor& desc) {
  std::string out;
  put_descriptor(out, desc);
  return out;
}

}  // namespace layercrypt
