// Tests for engine/ocicrypt/descriptor.h against the layer descriptors in
// tests/vectors/ocicrypt/payloads/ (as a real containerd wrote them).
#include "engine/ocicrypt/descriptor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/ocicrypt/media_types.h"
#include "tests/support/ocicrypt_vectors.h"

namespace layercrypt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ocicrypt_vectors_dir;
using testing::read_text;

std::vector<fs::path> DescriptorFiles() {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(ocicrypt_vectors_dir() + "payloads"))
    if (e.is_regular_file() && e.path().string().ends_with(".desc.json")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Descriptor, EveryVectorParsesAndReencodesByteIdentically) {
  const auto files = DescriptorFiles();
  ASSERT_EQ(files.size(), 37u);  // 9 images x 4 layers + enc-jwe-lastlayer's layer 3
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    std::string text = read_text(f.string());
    while (!text.empty() && text.back() == '\n') text.pop_back();
    auto d = parse_descriptor(text);
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_TRUE(is_decryptable_media_type(d->media_type)) << d->media_type;
    EXPECT_TRUE(d->digest.starts_with("sha256:"));
    EXPECT_GT(d->size, 0);
    EXPECT_FALSE(d->platform.has_value());
    EXPECT_EQ(encode_descriptor(*d), text);
    // Independent check of the fields with nlohmann.
    json j = json::parse(text);
    EXPECT_EQ(d->media_type, j["mediaType"].get<std::string>());
    EXPECT_EQ(d->digest, j["digest"].get<std::string>());
    EXPECT_EQ(d->size, j["size"].get<int64_t>());
    EXPECT_EQ(d->annotations.size(), j["annotations"].size());
  }
}

TEST(Descriptor, FullDescriptorInImageSpecOrder) {
  Descriptor d;
  d.media_type = "application/vnd.oci.image.layer.v1.tar+zstd+encrypted";
  d.digest = "sha256:cd";
  d.size = 9007199254740993;  // beyond double precision
  d.urls = {"https://a/b?x=1&y=<2>"};
  d.annotations = {{"z", "1"}, {"a", "2"}, {"org.opencontainers.image.enc.pubopts", "e30="}};
  d.data = {0, 1, 2};
  d.platform = Platform{"arm64", "linux", "10.0", {"a", "b"}, "v8"};
  d.artifact_type = "application/x";
  const std::string want =
      "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd+encrypted\",\"digest\":"
      "\"sha256:cd\",\"size\":9007199254740993,\"urls\":[\"https://a/"
      "b?x=1\\u0026y=\\u003c2\\u003e\"],"
      "\"annotations\":{\"a\":\"2\",\"org.opencontainers.image.enc.pubopts\":\"e30=\",\"z\":\"1\"},"
      "\"data\":\"AAEC\",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"os.version\":"
      "\"10.0\",\"os.features\":[\"a\",\"b\"],\"variant\":\"v8\"},\"artifactType\":\"application/"
      "x\"}";
  EXPECT_EQ(encode_descriptor(d), want);
  auto back = parse_descriptor(want);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->size, 9007199254740993);
  EXPECT_EQ(back->urls, d.urls);
  EXPECT_EQ(back->annotations, d.annotations);
  EXPECT_EQ(back->data, d.data);
  ASSERT_TRUE(back->platform.has_value());
  EXPECT_EQ(back->platform->os_features, d.platform->os_features);
  EXPECT_EQ(back->platform->variant, "v8");
  EXPECT_EQ(back->artifact_type, "application/x");
  EXPECT_EQ(encode_descriptor(*back), want);
  // An empty platform object is kept (non-nil pointer in Go).
  auto ep = parse_descriptor("{\"platform\":{}}");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(encode_descriptor(*ep),
            "{\"mediaType\":\"\",\"digest\":\"\",\"size\":0,\"platform\":{\"architecture\":\"\","
            "\"os\":\"\"}}");
}

TEST(Descriptor, WrongMemberTypesNameTheMember) {
  struct Case {
    const char* json;
    const char* cause;
  } cases[] = {
      {"{\"size\":\"12\"}", "descriptor.size: expected a number"},
      {"{\"size\":1.5}", "descriptor.size: 1.5 is not an integer"},
      {"{\"size\":9223372036854775808}", "overflows int64"},
      {"{\"urls\":[1]}", "descriptor.urls[0]"},
      {"{\"annotations\":[]}", "descriptor.annotations: expected an object"},
      {"{\"platform\":\"linux\"}", "descriptor.platform: expected an object"},
      {"[]", "descriptor JSON: expected an object"},
      {"{", "descriptor JSON"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    auto d = parse_descriptor(c.json);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), StatusCode::kDataError);
    EXPECT_NE(d.status().message().find(c.cause), std::string::npos) << d.status().message();
  }
}

}  // namespace
}  // namespace layercrypt
