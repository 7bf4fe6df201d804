// engine/keywrap/recipient_list.cc: see recipient_list.h.
#include "engine/keywrap/recipient_list.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/core/base64.h"
#include "engine/keywrap/jwe/jwe.h"
#include "engine/keywrap/pkcs7/pkcs7.h"

namespace layercrypt {
namespace {

using IdMap = std::map<std::string, std::string>;  // encrypted_key digest -> id

IdMap read_ids(const Annotations& a) {
  IdMap m;
  const auto it = a.find(kRecipientIdsAnnotation);
  if (it == a.end()) return m;
  const auto j = nlohmann::json::parse(it->second, nullptr, false);
  if (!j.is_object()) return m;
  for (const auto& [k, v] : j.items())
    if (v.is_string()) m[k] = v.get<std::string>();
  return m;
}

void write_ids(const IdMap& m, Annotations* a) {
  if (m.empty()) {
    a->erase(kRecipientIdsAnnotation);
    return;
  }
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) j[k] = v;
  (*a)[kRecipientIdsAnnotation] = j.dump();
}

std::string_view text_of(const std::vector<uint8_t>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// current_jwe_digests lists the encrypted_key digests of every JWE blob.
std::vector<std::string> current_jwe_digests(const Annotations& a) {
  std::vector<std::string> out;
  const auto it = a.find(keys_annotation("jwe"));
  if (it == a.end()) return out;
  for (const auto& blob : split_wrapped_keys(it->second)) {
    if (!blob.status.ok()) continue;
    auto s = jwe_describe(text_of(blob.data));
    if (s.ok()) out.insert(out.end(), s->recipient_key_digests.begin(), s->recipient_key_digests.end());
  }
  return out;
}

void prune_ids(Annotations* a) {
  IdMap m = read_ids(*a);
  const auto live = current_jwe_digests(*a);
  for (auto it = m.begin(); it != m.end();)
    it = std::find(live.begin(), live.end(), it->first) == live.end() ? m.erase(it) : std::next(it);
  write_ids(m, a);
}

}  // namespace

std::vector<LayerRecipient> layer_recipients(const Annotations& annotations) {
  std::vector<LayerRecipient> out;
  const IdMap ids = read_ids(annotations);
  for (const auto& scheme : encryption_schemes(annotations)) {
    const auto it = annotations.find(keys_annotation(scheme));
    if (it == annotations.end()) continue;
    const auto blobs = split_wrapped_keys(it->second);
    for (size_t b = 0; b < blobs.size(); ++b) {
      LayerRecipient r{scheme, b, 0, "", ""};
      if (!blobs[b].status.ok()) {
        r.alg = "unreadable";
        out.push_back(r);
        continue;
      }
      if (scheme == "jwe") {
        auto s = jwe_describe(text_of(blobs[b].data));
        if (!s.ok()) {
          r.alg = "unreadable";
          out.push_back(r);
          continue;
        }
        for (size_t i = 0; i < s->recipient_algs.size(); ++i) {
          r.index = i;
          r.alg = s->recipient_algs[i];
          const auto id = ids.find(s->recipient_key_digests[i]);
          r.id = id != ids.end()                  ? id->second
                 : !s->recipient_kids[i].empty() ? "jwe:kid=" + s->recipient_kids[i]
                                                  : "";
          out.push_back(r);
        }
      } else if (scheme == "pkcs7") {
        auto s = pkcs7_describe(blobs[b].data);
        if (!s.ok()) {
          r.alg = "unreadable";
          out.push_back(r);
          continue;
        }
        for (size_t i = 0; i < s->recipient_kinds.size(); ++i) {
          r.index = i;
          r.alg = s->recipient_kinds[i];
          r.id = s->recipient_ids[i].empty() ? "" : "pkcs7:" + s->recipient_ids[i];
          out.push_back(r);
        }
      } else {
        out.push_back(r);
      }
    }
  }
  return out;
}

StatusOr<std::vector<std::string>> recipient_ids(const Recipients& recipients) {
  std::vector<std::string> out;
  for (const auto& pub : recipients.jwe) {
    if (!pub.jwk_kid().empty()) out.push_back("jwe:kid=" + pub.jwk_kid());
    LC_ASSIGN_OR_RETURN(std::string t, jwk_thumbprint(pub));
    out.push_back("jwe:" + t);
  }
  for (const auto& cert : recipients.pkcs7) out.push_back("pkcs7:" + pkcs7_recipient_id(cert));
  return out;
}

Status note_jwe_recipients(std::string_view jwe_text, const Recipients& recipients,
                           Annotations* annotations) {
  LC_ASSIGN_OR_RETURN(JweSummary s, jwe_describe(jwe_text));
  if (s.recipient_key_digests.size() != recipients.jwe.size())
    return Internal("the JWE has " + std::to_string(s.recipient_key_digests.size()) +
                    " recipients, not the " + std::to_string(recipients.jwe.size()) + " it was made for");
  IdMap m = read_ids(*annotations);
  for (size_t i = 0; i < recipients.jwe.size(); ++i) {
    LC_ASSIGN_OR_RETURN(std::string t, jwk_thumbprint(recipients.jwe[i]));
    m[s.recipient_key_digests[i]] = "jwe:" + t;
  }
  write_ids(m, annotations);
  prune_ids(annotations);
  return Status::Ok();
}

StatusOr<size_t> remove_layer_recipients(Annotations* annotations, const std::vector<std::string>& ids) {
  Annotations out = *annotations;
  size_t removed = 0, left = 0;
  const auto all = layer_recipients(*annotations);
  for (const auto& scheme : encryption_schemes(*annotations)) {
    const std::string key = keys_annotation(scheme);
    const std::string& raw = annotations->at(key);
    const auto blobs = split_wrapped_keys(raw);
    std::vector<std::string_view> parts;  // the blobs as written, kept byte for byte
    for (size_t start = 0;;) {
      const size_t comma = raw.find(',', start);
      parts.push_back(std::string_view(raw).substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    std::string value;
    for (size_t b = 0; b < blobs.size(); ++b) {
      std::vector<size_t> drop;
      size_t count = 0;
      for (const auto& r : all) {
        if (r.scheme != scheme || r.blob != b) continue;
        ++count;
        if (!r.id.empty() && std::find(ids.begin(), ids.end(), r.id) != ids.end()) drop.push_back(r.index);
      }
      removed += drop.size();
      left += count - drop.size();
      if (drop.empty()) {
        value += (value.empty() ? "" : ",") + std::string(b < parts.size() ? parts[b] : "");
        continue;
      }
      if (scheme == "jwe") {
        LC_ASSIGN_OR_RETURN(auto kept, jwe_remove_recipients(text_of(blobs[b].data), drop));
        if (kept)
          value = append_wrapped_key(
              value, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kept->data()), kept->size()));
      } else {
        LC_ASSIGN_OR_RETURN(auto kept, pkcs7_remove_recipients(blobs[b].data, drop));
        if (kept) value = append_wrapped_key(value, *kept);
      }
    }
    if (value.empty()) out.erase(key);
    else out[key] = value;
  }
  if (removed == 0) return size_t{0};
  if (left == 0)
    return InvalidArgument("that would leave the layer with no recipient");
  prune_ids(&out);
  *annotations = std::move(out);
  return removed;
}

}  // namespace layercrypt
