// Tests for engine/keywrap/key_unwrap.h: every encrypted layer of every Go-made
// image in tests/vectors/ocicrypt/images unwraps with every key form
// MANIFEST.md says must work, and the failure cases give clean errors.
#include "engine/keywrap/key_unwrap.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/base64.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using json = nlohmann::json;
using testing::image_layers;
using testing::ocicrypt_expected;
using testing::ocicrypt_vectors_dir;
using testing::read_file;
using testing::VectorLayer;

struct Layer {
  Annotations annotations;
  bool encrypted = false;
  std::string expected_digest;
};

std::vector<Layer> LoadLayers(const std::string& image) {
  json expected = ocicrypt_expected()["images"][image]["layers"];
  std::vector<Layer> out;
  for (const VectorLayer& l : image_layers(image)) {
    Layer layer;
    layer.annotations = l.annotations();
    layer.encrypted = expected[l.index]["encrypted"].get<bool>();
    if (layer.encrypted) layer.expected_digest = expected[l.index]["expected_output_digest"];
    out.push_back(std::move(layer));
  }
  EXPECT_EQ(out.size(), 4u) << image;
  return out;
}

kernels::SecretBytes Secret(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

DecryptKeys Keys(std::initializer_list<const char*> files) {
  DecryptKeys k;
  for (const char* f : files)
    k.private_keys.push_back(Secret(read_file(ocicrypt_vectors_dir() + "keys/" + f)));
  return k;
}

// CheckPrivateOptions: JSON with a 32-byte symkey and the expected digest.
void CheckPrivateOptions(const kernels::SecretBytes& opts, const std::string& digest,
                         const std::string& ctx) {
  json j = json::parse(opts.begin(), opts.end(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << ctx;
  ASSERT_TRUE(j.contains("symkey")) << ctx;
  auto key = base64_decode(j["symkey"].get<std::string>());
  ASSERT_TRUE(key.ok()) << ctx;
  EXPECT_EQ(key->size(), 32u) << ctx;
  EXPECT_EQ(j["digest"], digest) << ctx;
  auto nonce = base64_decode(j["cipheroptions"]["nonce"].get<std::string>());
  ASSERT_TRUE(nonce.ok()) << ctx;
  EXPECT_EQ(nonce->size(), 16u) << ctx;
}

struct ImageCase {
  const char* image;
  std::vector<std::vector<const char*>> key_sets;  // each set on its own must work
};

const std::vector<ImageCase>& Cases() {
  static const std::vector<ImageCase> cases = {
      {"enc-jwe-rsa2048",
       {{"rsa2048.pem"},
        {"rsa2048.pkcs1.pem"},
        {"rsa2048.pkcs1.der"},
        {"rsa2048.pk8.der"},
        {"rsa2048.jwk.json"}}},
      {"enc-jwe-rsa4096", {{"rsa4096.pem"}}},
      {"enc-jwe-ecp256",
       {{"ecp256.pem"}, {"ecp256.sec1.der"}, {"ecp256.sec1.pem"}, {"ecp256.jwk.json"}}},
      {"enc-jwe-ecp384", {{"ecp384.pem"}, {"ecp384.sec1.der"}, {"ecp384.sec1.pem"}}},
      {"enc-jwe-ecp521", {{"ecp521.pem"}, {"ecp521.sec1.der"}, {"ecp521.sec1.pem"}}},
      {"enc-jwe-multi",
       {{"rsa2048.pem"},
        {"ecp256.pem"},
        {"ecp521.pem"},
        {"ecp256.jwk.json"},
        {"rsa2048.jwk.json"},
        {"ecp256.sec1.der"},
        {"ecp521.sec1.pem"},
        {"ecp384.pem", "ecp521.pem"}}},
      {"enc-jwe-lastlayer", {{"rsa2048.pem"}}},
      {"ctrenc-jwe-rsa2048", {{"rsa2048.pem"}, {"rsa2048.pkcs1.pem"}, {"rsa2048.jwk.json"}}},
      {"ctrenc-add-ecp256",
       {{"rsa2048.pem"},
        {"ecp256.pem"},
        {"ecp256.jwk.json"},
        {"ecp256.sec1.der"},
        {"ecp384.pem", "ecp256.pem"}}},
  };
  return cases;
}

TEST(KeyUnwrap, EveryImageEveryKeyForm) {
  int unwrapped = 0;
  for (const ImageCase& c : Cases()) {
    std::vector<Layer> layers = LoadLayers(c.image);
    for (const auto& set : c.key_sets) {
      DecryptKeys keys;
      for (const char* f : set)
        keys.private_keys.push_back(Secret(read_file(ocicrypt_vectors_dir() + "keys/" + f)));
      auto prepared = prepare_decrypt_keys(keys);
      ASSERT_TRUE(prepared.ok());
      ASSERT_TRUE(prepared->problems.empty())
          << c.image << " " << set[0] << ": " << prepared->problems[0];
      for (size_t i = 0; i < layers.size(); ++i) {
        std::string ctx =
            std::string(c.image) + " layer " + std::to_string(i) + " key " + set.back();
        auto r = unwrap_layer_key(layers[i].annotations, *prepared);
        if (!layers[i].encrypted) {
          EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << ctx;
          continue;
        }
        ASSERT_TRUE(r.ok()) << ctx << ": " << r.status().message();
        CheckPrivateOptions(*r, layers[i].expected_digest, ctx);
        ++unwrapped;
      }
    }
  }
  EXPECT_GT(unwrapped, 100);
}

TEST(KeyUnwrap, EncryptedPemWithPassword) {
  DecryptKeys keys = Keys({"rsa2048.enc.pem"});
  keys.passwords.push_back(Secret(read_file(ocicrypt_vectors_dir() + "keys/rsa2048.enc.password")));
  for (const char* image : {"enc-jwe-rsa2048", "ctrenc-jwe-rsa2048", "enc-jwe-multi"}) {
    auto layers = LoadLayers(image);
    for (const Layer& l : layers) {
      auto r = unwrap_layer_key(l.annotations, keys);
      ASSERT_TRUE(r.ok()) << image << ": " << r.status().message();
      CheckPrivateOptions(*r, l.expected_digest, image);
    }
  }
}

TEST(KeyUnwrap, Pkcs7KeyAndCert) {
  DecryptKeys keys = Keys({"pkcs7.key.pem"});
  keys.certificates.push_back(read_file(ocicrypt_vectors_dir() + "keys/pkcs7.cert.pem"));
  for (const Layer& l : LoadLayers("enc-pkcs7")) {
    auto r = unwrap_layer_key(l.annotations, keys);
    ASSERT_TRUE(r.ok()) << r.status().message();
    CheckPrivateOptions(*r, l.expected_digest, "enc-pkcs7");
  }
  // Other keys first, the right one later: all pairs are tried.
  DecryptKeys many = Keys({"rsa4096.pem", "ecp256.pem", "pkcs7.key.pem"});
  many.certificates.push_back(read_file(ocicrypt_vectors_dir() + "keys/pkcs7.cert.pem"));
  const Layer first = LoadLayers("enc-pkcs7")[0];
  auto r = unwrap_layer_key(first.annotations, many);
  ASSERT_TRUE(r.ok()) << r.status().message();
  CheckPrivateOptions(*r, first.expected_digest, "enc-pkcs7");
}

TEST(KeyUnwrap, Pkcs7KeyWithoutCertFails) {
  auto r = unwrap_layer_key(LoadLayers("enc-pkcs7")[3].annotations, Keys({"pkcs7.key.pem"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("pkcs7"), std::string::npos);
}

TEST(KeyUnwrap, WrongKey) {
  auto r = unwrap_layer_key(LoadLayers("enc-jwe-rsa2048")[0].annotations,
                            Keys({"ecp256.pem", "rsa4096.pem"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("RSA-OAEP"), std::string::npos) << m;
  EXPECT_NE(m.find("1 recipient"), std::string::npos) << m;
  EXPECT_NE(m.find("tried 2 private keys"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(KeyUnwrap, MultiBlobErrorNamesAllBlobs) {
  auto r = unwrap_layer_key(LoadLayers("ctrenc-add-ecp256")[0].annotations, Keys({"ecp384.pem"}));
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("jwe blob 1/2"), std::string::npos) << m;
  EXPECT_NE(m.find("jwe blob 2/2"), std::string::npos) << m;
  EXPECT_NE(m.find("ECDH-ES+A256KW"), std::string::npos) << m;
}

TEST(KeyUnwrap, EncryptedPemWithoutOrWithWrongPassword) {
  const Annotations a = LoadLayers("enc-jwe-rsa2048")[3].annotations;
  auto none = unwrap_layer_key(a, Keys({"rsa2048.enc.pem"}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kKeyError);
  EXPECT_NE(none.status().message().find("needs a password"), std::string::npos)
      << none.status().message();

  DecryptKeys wrong = Keys({"rsa2048.enc.pem"});
  const std::string pw = "wrong-pass";
  wrong.passwords.push_back(kernels::SecretBytes(pw.begin(), pw.end()));
  auto w = unwrap_layer_key(a, wrong);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("wrong password"), std::string::npos) << w.status().message();
  EXPECT_EQ(w.status().message().find(pw), std::string::npos);

  // A null password entry aligned with the key behaves like no password.
  DecryptKeys null_pw = Keys({"rsa2048.enc.pem", "rsa2048.pem"});
  null_pw.passwords = {std::nullopt, std::nullopt};
  auto ok = unwrap_layer_key(a, null_pw);  // the bad key is skipped, the good one works
  ASSERT_TRUE(ok.ok()) << ok.status().message();
}

TEST(KeyUnwrap, MisalignedPasswords) {
  DecryptKeys k = Keys({"rsa2048.pem", "ecp256.pem"});
  k.passwords.push_back(std::nullopt);
  EXPECT_EQ(prepare_decrypt_keys(k).status().code(), StatusCode::kInvalidArgument);
}

TEST(KeyUnwrap, PublicKeyGivenAsPrivate) {
  auto r =
      unwrap_layer_key(LoadLayers("enc-jwe-rsa2048")[0].annotations, Keys({"rsa2048.pub.pem"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find("missing private key"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("public key"), std::string::npos) << r.status().message();
}

TEST(KeyUnwrap, NoKeys) {
  auto r = unwrap_layer_key(LoadLayers("enc-jwe-rsa2048")[0].annotations, DecryptKeys{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find("missing private key"), std::string::npos);
}

TEST(KeyUnwrap, CorruptBlobBeforeValidOne) {
  Annotations a = LoadLayers("enc-jwe-rsa2048")[1].annotations;
  const std::string valid = a[std::string(kJweKeysAnnotation)];
  const std::string garbage_jwe = base64_encode(span_of("{\"protected\":\"%%%\"}"));
  const std::string not_jwe = base64_encode(span_of("hello"));
  for (const std::string& prefix :
       {std::string("!!!not-base64!!!"), garbage_jwe, not_jwe, std::string("")}) {
    a[std::string(kJweKeysAnnotation)] = prefix + "," + valid;
    auto r = unwrap_layer_key(a, Keys({"rsa2048.pem"}));
    ASSERT_TRUE(r.ok()) << prefix << ": " << r.status().message();
  }
  // Same JWE twice with the wrong key: both blobs are reported.
  a[std::string(kJweKeysAnnotation)] = "!!!," + valid;
  auto r = unwrap_layer_key(a, Keys({"ecp256.pem"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("blob 1/2: undecodable"), std::string::npos)
      << r.status().message();
}

TEST(KeyUnwrap, OnlyUnsupportedSchemes) {
  // "openpgp" is a scheme no build has (the artifacts draft's name for pgp).
  Annotations a;
  a["org.opencontainers.image.enc.keys.openpgp"] = base64_encode(span_of("openpgp-bytes"));
  a["org.opencontainers.image.enc.keys.provider.foo"] = base64_encode(span_of("x"));
  auto r = unwrap_layer_key(a, Keys({"rsa2048.pem"}));
  ASSERT_FALSE(r.ok());
  // A provider that is not configured is a missing key, not a missing
  // feature: the message says which config was looked at.
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find("openpgp (not supported by this build)"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("provider.foo (no key provider foo"), std::string::npos)
      << r.status().message();
  Annotations other_only;
  other_only["org.opencontainers.image.enc.keys.openpgp"] =
      a["org.opencontainers.image.enc.keys.openpgp"];
  auto p = unwrap_layer_key(other_only, Keys({"rsa2048.pem"}));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(p.status().message().find("openpgp"), std::string::npos) << p.status().message();
  // openpgp (the artifacts draft's name for pgp) next to a jwe we can open: jwe wins.
  Annotations b = LoadLayers("enc-jwe-rsa2048")[0].annotations;
  b["org.opencontainers.image.enc.keys.openpgp"] = base64_encode(span_of("openpgp-bytes"));
  EXPECT_TRUE(unwrap_layer_key(b, Keys({"rsa2048.pem"})).ok());
  auto c = unwrap_layer_key(b, Keys({"ecp256.pem"}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("openpgp (not supported"), std::string::npos)
      << c.status().message();
}

TEST(KeyUnwrap, NotEncrypted) {
  auto r = unwrap_layer_key(Annotations{}, Keys({"rsa2048.pem"}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(KeyUnwrap, JweAndPkcs7OnOneLayer) {
  // Combine the jwe annotation of one image with the pkcs7 one of another:
  // both decrypt to the same layer 0 private options? No: different symkeys,
  // but either must be accepted; jwe is tried first (fixed order).
  Annotations a = LoadLayers("enc-jwe-rsa2048")[0].annotations;
  Annotations p = LoadLayers("enc-pkcs7")[0].annotations;
  a[std::string(kPkcs7KeysAnnotation)] = p[std::string(kPkcs7KeysAnnotation)];
  DecryptKeys k = Keys({"pkcs7.key.pem"});
  k.certificates.push_back(read_file(ocicrypt_vectors_dir() + "keys/pkcs7.cert.pem"));
  auto r = unwrap_layer_key(a, k);
  ASSERT_TRUE(r.ok()) << r.status().message();
  DecryptKeys both = Keys({"pkcs7.key.pem", "rsa2048.pem"});
  both.certificates = k.certificates;
  auto r2 = unwrap_layer_key(a, both);
  ASSERT_TRUE(r2.ok());
  // jwe first: the result is the JWE's private options.
  auto jwe_only =
      unwrap_layer_key(LoadLayers("enc-jwe-rsa2048")[0].annotations, Keys({"rsa2048.pem"}));
  ASSERT_TRUE(jwe_only.ok());
  EXPECT_EQ(*r2, *jwe_only);
}

}  // namespace
}  // namespace layercrypt
