// Tests for engine/ocicrypt/annotations.h, including every encrypted layer of the Go-made
// OCI layouts in tests/vectors/ocicrypt/images/.
#include "engine/ocicrypt/annotations.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/base64.h"
#include "engine/ocicrypt/media_types.h"
#include "tests/support/ocicrypt_vectors.h"

namespace layercrypt {
namespace {

using nlohmann::json;
using testing::contains;
using testing::image_layers;
using testing::ocicrypt_expected;
using testing::VectorLayer;

std::vector<uint8_t> B(std::string_view s) { return {s.begin(), s.end()}; }

PrivateLayerOptions DummyPrivate() {
  PrivateLayerOptions p;
  p.symkey.assign(32, 1);
  p.cipher_options["nonce"].assign(16, 2);
  return p;
}

TEST(Annotations, Keys) {
  EXPECT_EQ(keys_annotation("jwe"), kJweKeysAnnotation);
  EXPECT_EQ(keys_annotation("pkcs7"), kPkcs7KeysAnnotation);
  EXPECT_EQ(keys_annotation("pgp"), kPgpKeysAnnotation);
  EXPECT_EQ(keys_annotation("pkcs11"), kPkcs11KeysAnnotation);
  EXPECT_EQ(keys_annotation("provider.foo"), "org.opencontainers.image.enc.keys.provider.foo");
  EXPECT_EQ(provider_keys_annotation("foo"), "org.opencontainers.image.enc.keys.provider.foo");
  EXPECT_EQ(kPubOptsAnnotation, "org.opencontainers.image.enc.pubopts");
}

TEST(Annotations, EveryEncryptedLayerOfEveryGoImage) {
  json expected = ocicrypt_expected();
  size_t encrypted_layers = 0, images = 0;
  for (auto& [name, img] : expected["images"].items()) {
    SCOPED_TRACE(name);
    ++images;
    const std::vector<VectorLayer> layers = image_layers(name);
    ASSERT_EQ(layers.size(), img["layers"].size());
    for (const VectorLayer& layer : layers) {
      SCOPED_TRACE("layer " + std::to_string(layer.index));
      const json& exp = img["layers"][layer.index];
      const std::string mt = layer.descriptor.at("mediaType");
      const Annotations ann = layer.annotations();
      const std::vector<std::string> schemes = encryption_schemes(ann);
      if (!exp["encrypted"].get<bool>()) {
        EXPECT_FALSE(is_encrypted_media_type(mt));
        EXPECT_TRUE(schemes.empty());
        EXPECT_FALSE(has_wrapped_keys(ann));
        auto pub = read_public_options(ann);
        ASSERT_TRUE(pub.ok());
        EXPECT_TRUE(pub->cipher.empty());
        continue;
      }
      ++encrypted_layers;
      EXPECT_TRUE(is_decryptable_media_type(mt)) << mt;
      EXPECT_TRUE(has_wrapped_keys(ann));

      // pubopts: parse, validate, and re-encode byte-identically.
      auto pub = read_public_options(ann);
      ASSERT_TRUE(pub.ok()) << pub.status().message();
      EXPECT_EQ(pub->cipher, "AES_256_CTR_HMAC_SHA256");
      EXPECT_EQ(pub->hmac.size(), 32u);
      EXPECT_TRUE(pub->cipher_options.empty());
      EXPECT_TRUE(validate_for_decryption(*pub, DummyPrivate()).ok());
      EXPECT_EQ(public_options_annotation(*pub), ann.at(std::string(kPubOptsAnnotation)));

      // Schemes, sorted, as expected.json lists them; each blob decodes.
      std::vector<std::string> exp_schemes = exp["key_schemes"];
      EXPECT_EQ(schemes, exp_schemes);
      for (const std::string& scheme : schemes) {
        auto blobs = split_wrapped_keys(ann.at(keys_annotation(scheme)));
        EXPECT_EQ(blobs.size(), exp["blobs_per_scheme"][scheme].get<size_t>()) << scheme;
        for (const auto& b : blobs) {
          EXPECT_TRUE(b.status.ok()) << b.status.message();
          ASSERT_FALSE(b.data.empty());
          if (scheme == "jwe") {
            EXPECT_EQ(b.data[0], '{');  // JWE JSON serialization
          }
          if (scheme == "pkcs7") {
            EXPECT_EQ(b.data[0], 0x30);  // DER SEQUENCE
          }
        }
        // Re-joining the blobs gives the annotation back.
        std::string joined;
        for (const auto& b : blobs) joined = append_wrapped_key(joined, b.data);
        EXPECT_EQ(joined, ann.at(keys_annotation(scheme)));
      }
      // Decrypting strips every ocicrypt annotation.
      EXPECT_TRUE(strip_encryption_annotations(ann).empty());
    }
  }
  EXPECT_EQ(images, 10u);
  EXPECT_EQ(encrypted_layers, 9u * 4 + 1);
}

TEST(Annotations, RecipientAddedImageHasTwoJweBlobs) {
  const std::vector<VectorLayer> layers = image_layers("ctrenc-add-ecp256");
  const std::vector<VectorLayer> orig = image_layers("enc-jwe-rsa2048");
  for (size_t i = 0; i < layers.size(); ++i) {
    const Annotations ann = layers[i].annotations();
    const Annotations first = orig.at(i).annotations();
    auto blobs = split_wrapped_keys(ann.at(std::string(kJweKeysAnnotation)));
    ASSERT_EQ(blobs.size(), 2u);
    // The first blob is the original skopeo JWE, unchanged.
    auto orig_blob = base64_decode(first.at(std::string(kJweKeysAnnotation)));
    ASSERT_TRUE(orig_blob.ok());
    EXPECT_EQ(blobs[0].data, *orig_blob);
    EXPECT_EQ(blobs[0].index, 0u);
    EXPECT_EQ(blobs[1].index, 1u);
    EXPECT_NE(blobs[1].data, blobs[0].data);
    // Same pubopts as the original.
    EXPECT_EQ(ann.at(std::string(kPubOptsAnnotation)), first.at(std::string(kPubOptsAnnotation)));
  }
}

TEST(Annotations, CorruptBlobDoesNotHideLaterBlobs) {
  const std::string good = base64_encode(B("{\"protected\":\"x\"}"));
  auto blobs = split_wrapped_keys("!!!not-base64!!!," + good + ",QUJD," + "QUJ" + "," + good);
  ASSERT_EQ(blobs.size(), 5u);
  EXPECT_FALSE(blobs[0].status.ok());
  EXPECT_TRUE(blobs[0].data.empty());
  EXPECT_TRUE(contains(blobs[0].status.message(), "blob 0")) << blobs[0].status.message();
  EXPECT_TRUE(blobs[1].status.ok());
  EXPECT_EQ(blobs[1].data, B("{\"protected\":\"x\"}"));
  EXPECT_TRUE(blobs[2].status.ok());
  EXPECT_EQ(blobs[2].data, B("ABC"));
  EXPECT_FALSE(blobs[3].status.ok());  // unpadded
  EXPECT_TRUE(blobs[4].status.ok());
  for (size_t i = 0; i < blobs.size(); ++i) EXPECT_EQ(blobs[i].index, i);
}

TEST(Annotations, EmptyBlobs) {
  auto e = split_wrapped_keys("");
  ASSERT_EQ(e.size(), 1u);  // strings.Split("", ",") has one element
  EXPECT_FALSE(e[0].status.ok());
  auto f = split_wrapped_keys("QUJD,,QUJD,");
  ASSERT_EQ(f.size(), 4u);
  EXPECT_TRUE(f[0].status.ok());
  EXPECT_FALSE(f[1].status.ok());
  EXPECT_TRUE(contains(f[1].status.message(), "empty"));
  EXPECT_TRUE(f[2].status.ok());
  EXPECT_FALSE(f[3].status.ok());
  auto g = split_wrapped_keys(",QUJD");
  ASSERT_EQ(g.size(), 2u);
  EXPECT_FALSE(g[0].status.ok());
  EXPECT_TRUE(g[1].status.ok());
}

TEST(Annotations, AppendWrappedKey) {
  EXPECT_EQ(append_wrapped_key("", B("ABC")), "QUJD");
  EXPECT_EQ(append_wrapped_key("QUJD", B("AB")), "QUJD,QUI=");
  EXPECT_EQ(append_wrapped_key("QUJD,QUI=", B("A")), "QUJD,QUI=,QQ==");
}

TEST(Annotations, MissingPuboptsGivesEmptyOptionsAndNoCipherError) {
  Annotations ann = {{"org.opencontainers.image.enc.keys.jwe", "QUJD"}};
  auto pub = read_public_options(ann);
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->cipher.empty());
  EXPECT_TRUE(pub->hmac.empty());
  Status s = validate_for_decryption(*pub, DummyPrivate());
  EXPECT_TRUE(contains(s.message(), "no cipher type provided")) << s.message();
}

TEST(Annotations, BadPubopts) {
  Annotations unpadded = {{"org.opencontainers.image.enc.pubopts", "eyJjaXBoZXIiOiIifQ"}};
  auto a = read_public_options(unpadded);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kDataError);
  EXPECT_TRUE(contains(a.status().message(), "base64")) << a.status().message();
  Annotations not_json = {{"org.opencontainers.image.enc.pubopts", base64_encode(B("{nope"))}};
  auto b = read_public_options(not_json);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(contains(b.status().message(), "pubopts")) << b.status().message();
  Annotations array = {{"org.opencontainers.image.enc.pubopts", base64_encode(B("[]"))}};
  EXPECT_FALSE(read_public_options(array).ok());
  // A public nonce parses but is refused at validation.
  Annotations nonce = {
      {"org.opencontainers.image.enc.pubopts",
       base64_encode(B("{\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"hmac\":\"vEBKso4Uli9"
                       "LgvO6Yo2y8yQS/GyMozBLLvnFbo2QS0A=\",\"cipheroptions\":{"
                       "\"nonce\":\"AAECAwQFBgcICQoLDA0ODw==\"}}"))}};
  auto c = read_public_options(nonce);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(validate_for_decryption(*c, DummyPrivate()).code(), StatusCode::kIntegrityError);
}

TEST(Annotations, SchemesSortedLikeLayerinfo) {
  Annotations ann = {
      {"org.opencontainers.image.enc.keys.pgp", "x"},
      {"org.opencontainers.image.enc.keys.provider.zeta", "x"},
      {"org.opencontainers.image.enc.keys.jwe", "x"},
      {"org.opencontainers.image.enc.keys.provider.alpha", "x"},
      {"org.opencontainers.image.enc.keys.pkcs7", "x"},
      {"org.opencontainers.image.enc.keys.pkcs11", "x"},
      {"org.opencontainers.image.enc.keys.", "x"},  // no scheme name: ignored
      {"org.opencontainers.image.enc.pubopts", "x"},
      {"org.opencontainers.image.title", "x"},
  };
  EXPECT_EQ(encryption_schemes(ann), (std::vector<std::string>{"jwe", "pgp", "pkcs11", "pkcs7",
                                                               "provider.alpha", "provider.zeta"}));
  EXPECT_TRUE(encryption_schemes({{"org.opencontainers.image.enc.pubopts", "x"}}).empty());
  EXPECT_FALSE(has_wrapped_keys({{"org.opencontainers.image.enc.pubopts", "x"}}));
  Annotations stripped = strip_encryption_annotations(ann);
  ASSERT_EQ(stripped.size(), 1u);
  EXPECT_EQ(stripped.begin()->first, "org.opencontainers.image.title");
}

}  // namespace
}  // namespace layercrypt
