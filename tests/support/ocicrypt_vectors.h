// tests/support/ocicrypt_vectors.h: access to the Go-made ocicrypt vectors in
// tests/vectors/ocicrypt/ (see its MANIFEST.md): whole-file reads as text or
// JSON, expected.json, and the layer descriptors of the OCI image layouts
// under images/ (index.json -> manifest blob -> layers). Bytes come from
// test_util.h's read_file. Every reader throws if a file cannot be read, which
// fails the calling test.
#ifndef LAYERCRYPT_TESTS_SUPPORT_OCICRYPT_VECTORS_H_
#define LAYERCRYPT_TESTS_SUPPORT_OCICRYPT_VECTORS_H_

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/test_util.h"

namespace layercrypt::testing {

// ocicrypt_vectors_dir returns tests/vectors/ocicrypt/, with the trailing
// slash, so that paths read ocicrypt_vectors_dir() + "keys/rsa2048.pem".
inline std::string ocicrypt_vectors_dir() {
  return std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/ocicrypt/";
}

// read_text returns the whole file at `path`, byte for byte, as a string.
inline std::string read_text(const std::string& path) {
  const Bytes b = read_file(path);
  return std::string(b.begin(), b.end());
}

// read_json parses the file at `path` as JSON (throws on a parse error).
inline nlohmann::json read_json(const std::string& path) {
  const Bytes b = read_file(path);
  return nlohmann::json::parse(b.begin(), b.end());
}

// contains returns true if `needle` occurs in `haystack`.
inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// ocicrypt_expected returns tests/vectors/ocicrypt/expected.json: per image,
// its layers with digests, schemes, payload files and expected plaintext.
inline nlohmann::json ocicrypt_expected() {
  return read_json(ocicrypt_vectors_dir() + "expected.json");
}

// VectorLayer is one layer descriptor of an image layout under images/.
struct VectorLayer {
  std::string image;          // directory under images/, e.g. "enc-jwe-rsa2048"
  size_t index = 0;           // position in the manifest's "layers"
  nlohmann::json descriptor;  // the manifest's descriptor of the layer

  // annotations returns the descriptor's annotations (none: empty).
  std::map<std::string, std::string> annotations() const {
    std::map<std::string, std::string> a;
    if (descriptor.contains("annotations"))
      for (const auto& [k, v] : descriptor["annotations"].items()) a[k] = v.get<std::string>();
    return a;
  }

  // annotation returns annotation `key`; throws if the layer lacks it.
  std::string annotation(const std::string& key) const {
    return descriptor.at("annotations").at(key).get<std::string>();
  }
};

// image_manifest returns the manifest blob that image `image`'s index.json
// lists first (every vector image has exactly one).
inline nlohmann::json image_manifest(const std::string& image) {
  const std::string dir = ocicrypt_vectors_dir() + "images/" + image + "/";
  const std::string digest = read_json(dir + "index.json").at("manifests").at(0).at("digest");
  return read_json(dir + "blobs/sha256/" + digest.substr(7));
}

// image_layers returns every layer descriptor of image `image`'s manifest,
// in manifest order.
inline std::vector<VectorLayer> image_layers(const std::string& image) {
  const nlohmann::json manifest = image_manifest(image);
  const nlohmann::json& layers = manifest.at("layers");
  std::vector<VectorLayer> out;
  for (size_t i = 0; i < layers.size(); ++i) out.push_back(VectorLayer{image, i, layers[i]});
  return out;
}

}  // namespace layercrypt::testing

#endif  // LAYERCRYPT_TESTS_SUPPORT_OCICRYPT_VECTORS_H_
