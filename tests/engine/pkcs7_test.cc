// Tests for engine/pkcs7.h against the skopeo-made enc-pkcs7 image
// (smallstep/pkcs7 EnvelopedData, AES-128-GCM, RSA PKCS#1 v1.5).
#include "engine/pkcs7.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/base64.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using json = nlohmann::json;
using testing::image_layers;
using testing::ocicrypt_expected;
using testing::ocicrypt_vectors_dir;
using testing::read_file;

std::vector<uint8_t> Pkcs7Blob(size_t layer) {
  auto d = base64_decode(image_layers("enc-pkcs7").at(layer).annotation("org.opencontainers.image.enc.keys.pkcs7"));
  EXPECT_TRUE(d.ok());
  return *d;
}

std::string ExpectedDigest(size_t layer) {
  return ocicrypt_expected()["images"]["enc-pkcs7"]["layers"][layer]["expected_output_digest"];
}

PrivateKey Priv(const std::string& f) { return *parse_private_key(read_file(ocicrypt_vectors_dir() + "keys/" + f)); }
Certificate Cert() { return *parse_certificate(read_file(ocicrypt_vectors_dir() + "keys/pkcs7.cert.pem")); }

TEST(Pkcs7, DescribesSmallstepEnvelope) {
  auto s = pkcs7_describe(Pkcs7Blob(0));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->to_string(), "PKCS7 EnvelopedData, id-aes128-GCM, 1 recipient");
}

TEST(Pkcs7, DecryptsEveryLayerWithKeyAndCert) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  for (size_t i = 0; i < 4; ++i) {
    auto r = pkcs7_decrypt(Pkcs7Blob(i), keys, certs);
    ASSERT_TRUE(r.ok()) << r.status().message();
    json j = json::parse(r->begin(), r->end());
    EXPECT_EQ(base64_decode(j["symkey"].get<std::string>())->size(), 32u);
    EXPECT_EQ(j["digest"], ExpectedDigest(i));
  }
}

TEST(Pkcs7, AllPairsTried) {
  std::vector<PrivateKey> keys{Priv("ecp256.pem"), Priv("rsa2048.pem"), Priv("pkcs7.key.pem")};
  // Keys that are not the recipient come first; the certificate is given twice (DER, PEM).
  auto other = parse_certificate(read_file(std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/engine/keys/pkcs7.cert.der"));
  ASSERT_TRUE(other.ok());
  std::vector<Certificate> certs{*other, Cert()};
  EXPECT_TRUE(pkcs7_decrypt(Pkcs7Blob(1), keys, certs).ok());
}

TEST(Pkcs7, KeyWithoutCertFails) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  auto r = pkcs7_decrypt(Pkcs7Blob(0), keys, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos);
}

TEST(Pkcs7, WrongKeyFailsUniformly) {
  std::vector<PrivateKey> keys{Priv("rsa2048.pem"), Priv("rsa4096.pem")};
  std::vector<Certificate> certs{Cert()};
  auto r = pkcs7_decrypt(Pkcs7Blob(0), keys, certs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_EQ(r.status().message(),
            "no key/certificate pair could unwrap the PKCS7 EnvelopedData, id-aes128-GCM, 1 recipient; tried 2 "
            "private key(s) x 1 certificate(s)");
}

TEST(Pkcs7, TamperedContentOrKeyFails) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto blob = Pkcs7Blob(0);
  // Last byte is in the GCM tag; byte 200 is inside the RSA-encrypted key.
  for (size_t pos : {blob.size() - 1, blob.size() - 40, size_t{200}}) {
    auto t = blob;
    t[pos] ^= 0x01;
    auto r = pkcs7_decrypt(t, keys, certs);
    ASSERT_FALSE(r.ok()) << pos;
    EXPECT_EQ(r.status().code(), StatusCode::kKeyError) << pos << ": " << r.status().message();
  }
}

TEST(Pkcs7, MalformedDer) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto blob = Pkcs7Blob(0);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{10}, blob.size() / 2, blob.size() - 1}) {
    std::vector<uint8_t> t(blob.begin(), blob.begin() + static_cast<long>(cut));
    auto r = pkcs7_decrypt(t, keys, certs);
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.status().code(), StatusCode::kDataError) << cut;
  }
  auto extra = blob;
  extra.push_back(0);
  EXPECT_EQ(pkcs7_decrypt(extra, keys, certs).status().code(), StatusCode::kDataError);
  EXPECT_EQ(pkcs7_decrypt(span_of("garbage"), keys, certs).status().code(), StatusCode::kDataError);
}

TEST(Pkcs7, UnsupportedContentAlgorithm) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto blob = Pkcs7Blob(0);
  // Rewrite the aes-128-gcm OID's last arc (…1.6) to 1.7 (id-aes128-CCM).
  const uint8_t oid[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x06};
  auto it = std::search(blob.begin(), blob.end(), std::begin(oid), std::end(oid));
  ASSERT_NE(it, blob.end());
  *(it + 10) = 0x07;
  auto r = pkcs7_decrypt(blob, keys, certs);
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << r.status().message();
}

TEST(Pkcs7, EncryptRoundTripsAndHasSmallstepsShape) {
  const std::string priv = R"({"symkey":"AAAA","digest":"sha256:00","cipheroptions":{}})";
  const std::span<const uint8_t> content(reinterpret_cast<const uint8_t*>(priv.data()), priv.size());
  const auto other = parse_certificate(
      read_file(std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/engine/keys/pkcs7.cert.der"));
  ASSERT_TRUE(other.ok());
  std::vector<Certificate> recipients{*other, Cert()};
  auto der = pkcs7_encrypt(content, recipients);
  ASSERT_TRUE(der.ok()) << der.status().message();
  auto summary = pkcs7_describe(*der);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->to_string(), "PKCS7 EnvelopedData, id-aes128-GCM, 2 recipients");
  // The second RecipientInfo is the vector key's.
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto back = pkcs7_decrypt(*der, keys, certs);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(std::string(back->begin(), back->end()), priv);
  // Two encryptions differ (fresh key and nonce) and a flipped byte fails.
  auto again = pkcs7_encrypt(content, recipients);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *der);
  std::vector<uint8_t> bad = *der;
  bad[bad.size() - 3] ^= 1;
  EXPECT_EQ(pkcs7_decrypt(bad, keys, certs).status().code(), StatusCode::kKeyError);
  // No recipients: refused.
  EXPECT_EQ(pkcs7_encrypt(content, {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace layercrypt
