// tests/fuzz/content_store_fuzz.cc: what a stream processor reads from
// containerd's content store and the node's files when containerd passes no
// payload: manifests (fetched from a registry), containerd's config.toml and
// its command line.
//
// Property: for any bytes, parse_manifest_layers, root_from_config_toml and
// containerd_root_from_args never crash, trip a sanitizer or leak; every
// failure is a non-empty one-line message. A manifest that parses gives the
// same layers when its layers are encoded (encode_descriptor) into a new
// manifest and parsed again.
//
// Input: the bytes as a manifest, as a config.toml, and split at NULs as an
// argument vector. The corpus holds manifests of the Go-made images (gzip,
// zstd, tar layers; several recipients), manifests with null, duplicate and
// case-folded "layers", a containerd 1.6 (version 2) and a 2.1 (version 3)
// config, and containerd command lines.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/containerd/content_store.h"
#include "engine/containerd/payload.h"

namespace {

void check_message(const layercrypt::Status& s) {
  if (s.ok() || s.message().empty() || s.message().find('\n') != std::string::npos) std::abort();
}

bool same(const layercrypt::Descriptor& a, const layercrypt::Descriptor& b) {
  return layercrypt::encode_descriptor(a) == layercrypt::encode_descriptor(b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto layers = layercrypt::parse_manifest_layers(text);
  if (!layers.ok()) {
    check_message(layers.status());
  } else {
    std::string again = "{\"layers\":[";
    for (size_t i = 0; i < layers->size(); ++i)
      again += (i ? "," : "") + layercrypt::encode_descriptor((*layers)[i]);
    again += "]}";
    auto back = layercrypt::parse_manifest_layers(again);
    if (!back.ok() || back->size() != layers->size()) std::abort();
    for (size_t i = 0; i < back->size(); ++i)
      if (!same((*back)[i], (*layers)[i])) std::abort();
  }

  auto root = layercrypt::root_from_config_toml(text, "config.toml");
  if (!root.ok()) check_message(root.status());

  std::vector<std::string> argv;
  size_t start = 0;
  while (start <= size) {
    size_t end = text.find('\0', start);
    if (end == std::string_view::npos) end = size;
    argv.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  const auto args = layercrypt::containerd_root_from_args(argv);
  if (args.root.size() > size || args.config.size() > size) std::abort();
  return 0;
}
