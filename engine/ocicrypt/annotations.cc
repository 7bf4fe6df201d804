// engine/ocicrypt/annotations.cc: reading and writing the ocicrypt annotations.
#include "engine/ocicrypt/annotations.h"

#include <algorithm>

#include "engine/core/base64.h"

namespace layercrypt {

std::string keys_annotation(std::string_view scheme) {
  return std::string(kKeysAnnotationPrefix) + std::string(scheme);
}

std::string provider_keys_annotation(std::string_view provider_name) {
  return std::string(kProviderKeysAnnotationPrefix) + std::string(provider_name);
}

StatusOr<PublicLayerOptions> read_public_options(const Annotations& annotations) {
  auto it = annotations.find(std::string(kPubOptsAnnotation));
  // Go: a missing annotation leaves the options zero, so decryption later
  // fails with "no cipher type provided" rather than here.
  if (it == annotations.end()) return PublicLayerOptions();
  auto json = base64_decode(it->second);
  if (!json.ok())
    return json.status().with_context("could not base64 decode the " +
                                      std::string(kPubOptsAnnotation) + " annotation");
  auto opts = parse_public_options(
      std::string_view(reinterpret_cast<const char*>(json->data()), json->size()));
  if (!opts.ok())
    return opts.status().with_context("invalid " + std::string(kPubOptsAnnotation) + " annotation");
  return opts;
}

std::string public_options_annotation(const PublicLayerOptions& opts) {
  const std::string json = serialize_public_options(opts);
  return base64_encode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(json.data()), json.size()));
}

std::vector<WrappedKeyBlob> split_wrapped_keys(std::string_view value) {
  std::vector<WrappedKeyBlob> out;
  size_t start = 0;
  while (true) {
    const size_t comma = value.find(',', start);
    const std::string_view part = value.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    WrappedKeyBlob blob;
    blob.index = out.size();
    if (part.empty()) {
      blob.status = DataError("wrapped key blob " + std::to_string(blob.index) +
                              " is empty (stray ',' in the keys annotation)");
    } else {
      auto bytes = base64_decode(part);
      if (bytes.ok()) {
        blob.data = std::move(bytes).value();
      } else {
        blob.status = bytes.status().with_context("could not base64 decode wrapped key blob " +
                                                  std::to_string(blob.index));
      }
    }
    out.push_back(std::move(blob));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string append_wrapped_key(std::string_view existing, std::span<const uint8_t> blob) {
  std::string out(existing);
  if (!out.empty()) out.push_back(',');
  out += base64_encode(blob);
  return out;
}

std::vector<std::string> encryption_schemes(const Annotations& annotations) {
  std::vector<std::string> out;
  for (const auto& [key, value] : annotations) {
    if (key.size() > kKeysAnnotationPrefix.size() && key.starts_with(kKeysAnnotationPrefix))
      out.push_back(key.substr(kKeysAnnotationPrefix.size()));
  }
  std::sort(out.begin(), out.end());  // already sorted by std::map; kept explicit
  return out;
}

bool has_wrapped_keys(const Annotations& annotations) {
  return !encryption_schemes(annotations).empty();
}

Annotations strip_encryption_annotations(const Annotations& annotations) {
  Annotations out;
  for (const auto& [key, value] : annotations)
    if (!key.starts_with(kEncAnnotationPrefix)) out.emplace(key, value);
  return out;
}

}  // namespace layercrypt
