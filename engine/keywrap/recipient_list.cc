// engine/keywrap/recipient_list.cc: see recipient_list.h.
#include "engine/keywrap/recipient_list.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/keywrap/key_wrapper.h"
#include "engine/keywrap/provider/key_providers.h"

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

// entry_digests lists the entry digests of every blob of every scheme.
std::vector<std::string> entry_digests(const Annotations& a) {
  std::vector<std::string> out;
  for (const KeyWrapper* w : key_wrappers()) {
    const auto it = a.find(keys_annotation(w->scheme()));
    if (it == a.end()) continue;
    for (const auto& blob : split_wrapped_keys(it->second)) {
      if (!blob.status.ok()) continue;
      auto rs = w->recipients(blob.data);
      if (!rs.ok()) continue;
      for (const auto& r : *rs)
        if (!r.entry_digest.empty()) out.push_back(r.entry_digest);
    }
  }
  return out;
}

void prune_ids(Annotations* a) {
  IdMap m = read_ids(*a);
  const auto live = entry_digests(*a);
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
    const KeyWrapper* w = find_key_wrapper(scheme);
    const auto blobs = split_wrapped_keys(it->second);
    for (size_t b = 0; b < blobs.size(); ++b) {
      LayerRecipient r{scheme, b, 0, "", ""};
      if (w == nullptr) {                  // a scheme this build cannot read
        if (is_provider_scheme(scheme)) {  // a provider is its own recipient
          r.alg = "provider";
          r.id = "provider:" + scheme.substr(kProviderSchemePrefix.size());
        }
        out.push_back(r);
        continue;
      }
      auto rs = blobs[b].status.ok() ? w->recipients(blobs[b].data)
                                     : StatusOr<std::vector<BlobRecipient>>(blobs[b].status);
      if (!rs.ok()) {
        r.alg = "unreadable";
        out.push_back(r);
        continue;
      }
      for (size_t i = 0; i < rs->size(); ++i) {
        const BlobRecipient& br = (*rs)[i];
        r.index = i;
        r.alg = br.alg;
        const auto id = br.entry_digest.empty() ? ids.end() : ids.find(br.entry_digest);
        r.id = id != ids.end() ? id->second : br.id;
        out.push_back(r);
      }
    }
  }
  return out;
}

StatusOr<std::vector<std::string>> recipient_ids(const Recipients& recipients) {
  std::vector<std::string> out;
  for (const KeyWrapper* w : key_wrappers(recipients.key_providers.get())) {
    LC_ASSIGN_OR_RETURN(auto ids, w->recipient_ids(recipients));
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

Status note_recipients(std::string_view scheme, std::span<const uint8_t> blob,
                       const Recipients& recipients, Annotations* annotations) {
  const KeyWrapper* w = find_key_wrapper(scheme, recipients.key_providers.get());
  if (w == nullptr) return Internal("no wrapper for scheme " + std::string(scheme));
  LC_ASSIGN_OR_RETURN(auto rs, w->recipients(blob));
  if (rs.size() != w->recipient_count(recipients))
    return Internal("the " + std::string(scheme) + " blob has " + std::to_string(rs.size()) +
                    " recipients, not the " + std::to_string(w->recipient_count(recipients)) +
                    " it was made for");
  LC_ASSIGN_OR_RETURN(auto ids, w->recipient_ids(recipients));
  IdMap m = read_ids(*annotations);
  for (size_t i = 0; i < rs.size() && i < ids.size(); ++i)
    if (!rs[i].entry_digest.empty()) m[rs[i].entry_digest] = ids[i];
  write_ids(m, annotations);
  prune_ids(annotations);
  return Status::Ok();
}

StatusOr<size_t> remove_layer_recipients(Annotations* annotations,
                                         const std::vector<std::string>& ids) {
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
      parts.push_back(std::string_view(raw).substr(
          start, comma == std::string::npos ? std::string::npos : comma - start));
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
        if (!r.id.empty() && std::find(ids.begin(), ids.end(), r.id) != ids.end())
          drop.push_back(r.index);
      }
      removed += drop.size();
      left += count - drop.size();
      if (drop.empty()) {
        value += (value.empty() ? "" : ",") + std::string(b < parts.size() ? parts[b] : "");
        continue;
      }
      if (is_provider_scheme(scheme)) continue;  // a provider's blob is its one recipient
      const KeyWrapper* w = find_key_wrapper(scheme);
      if (w == nullptr) return Internal("no wrapper for scheme " + scheme);
      LC_ASSIGN_OR_RETURN(auto kept, w->remove(blobs[b].data, drop));
      if (kept) value = append_wrapped_key(value, *kept);
    }
    if (value.empty())
      out.erase(key);
    else
      out[key] = value;
  }
  if (removed == 0) return size_t{0};
  if (left == 0) return InvalidArgument("that would leave the layer with no recipient");
  prune_ids(&out);
  *annotations = std::move(out);
  return removed;
}

}  // namespace layercrypt
