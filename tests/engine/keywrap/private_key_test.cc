// Tests for engine/keywrap/keys/private_key.h against the Go-made key vectors
// (tests/vectors/ocicrypt/keys) and the extra forms in tests/vectors/engine/keys.
#include "engine/keywrap/keys/private_key.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using testing::contains;
using testing::ocicrypt_vectors_dir;
using testing::read_file;

std::vector<uint8_t> Key(const std::string& name) {
  return read_file(ocicrypt_vectors_dir() + "keys/" + name);
}
std::vector<uint8_t> Extra(const std::string& name) {
  return read_file(std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/engine/keys/" + name);
}
std::string Str(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

struct KeyCase {
  const char* file;
  KeyAlgorithm alg;
  const char* pub;  // matching public key file
};

class PrivateKeyForms : public ::testing::TestWithParam<KeyCase> {};

TEST_P(PrivateKeyForms, ParsesAndMatchesPublicKey) {
  const KeyCase& c = GetParam();
  auto k = parse_private_key(Key(c.file));
  ASSERT_TRUE(k.ok()) << c.file << ": " << k.status().message();
  EXPECT_EQ(k->algorithm(), c.alg);
  auto pub = parse_public_key(Key(c.pub));
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  EXPECT_EQ(EVP_PKEY_eq(k->public_key().evp(), pub->evp()), 1) << c.file;
  // Provider-native, whichever parser made it (no legacy key object).
  EXPECT_NE(EVP_PKEY_get0_provider(k->evp()), nullptr) << c.file;
  EXPECT_EQ(classify_key_file(Key(c.file)), KeyFileKind::kPrivateKey) << c.file;
}

// Encode returns `pkey` as DER in `structure` ("PrivateKeyInfo" or
// "type-specific": PKCS#1 / SEC1).
std::vector<uint8_t> Encode(EVP_PKEY* pkey, const char* structure) {
  OSSL_ENCODER_CTX* ctx =
      OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "DER", structure, nullptr);
  unsigned char* der = nullptr;
  size_t len = 0;
  std::vector<uint8_t> out;
  if (ctx != nullptr && OSSL_ENCODER_to_data(ctx, &der, &len) == 1) out.assign(der, der + len);
  OPENSSL_free(der);
  OSSL_ENCODER_CTX_free(ctx);
  return out;
}

// Keys the type-specific fast parsers leave to OpenSSL's generic decoders
// (three-prime RSA, EC with explicit curve parameters) parse to the same key.
TEST(PrivateKey, UnusualDerFormsParseToTheSameKey) {
  EVP_PKEY_CTX* gen = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  ASSERT_NE(gen, nullptr);
  ASSERT_EQ(EVP_PKEY_keygen_init(gen), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(gen, 2048), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_keygen_primes(gen, 3), 1);
  EVP_PKEY* rsa3 = nullptr;
  ASSERT_EQ(EVP_PKEY_generate(gen, &rsa3), 1);
  EVP_PKEY_CTX_free(gen);
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(ec, OSSL_PKEY_PARAM_EC_ENCODING,
                                           OSSL_PKEY_EC_ENCODING_EXPLICIT),
            1);
  for (EVP_PKEY* original : {rsa3, ec}) {
    for (const char* structure : {"PrivateKeyInfo", "type-specific"}) {
      const std::string what = std::string(EVP_PKEY_get0_type_name(original)) + " " + structure;
      const std::vector<uint8_t> der = Encode(original, structure);
      ASSERT_FALSE(der.empty()) << what;
      auto k = parse_private_key(der);
      ASSERT_TRUE(k.ok()) << what << ": " << k.status().message();
      EXPECT_EQ(EVP_PKEY_eq(k->evp(), original), 1) << what;
      EXPECT_NE(EVP_PKEY_get0_provider(k->evp()), nullptr) << what;
    }
  }
  EVP_PKEY_free(rsa3);
  EVP_PKEY_free(ec);
}

INSTANTIATE_TEST_SUITE_P(
    All, PrivateKeyForms,
    ::testing::Values(KeyCase{"rsa2048.pem", KeyAlgorithm::kRsa, "rsa2048.pub.pem"},
                      KeyCase{"rsa2048.pkcs1.pem", KeyAlgorithm::kRsa, "rsa2048.pub.pem"},
                      KeyCase{"rsa2048.pkcs1.der", KeyAlgorithm::kRsa, "rsa2048.pub.pem"},
                      KeyCase{"rsa2048.pk8.der", KeyAlgorithm::kRsa, "rsa2048.pub.pem"},
                      KeyCase{"rsa2048.jwk.json", KeyAlgorithm::kRsa, "rsa2048.pub.jwk.json"},
                      KeyCase{"rsa4096.pem", KeyAlgorithm::kRsa, "rsa4096.pub.pem"},
                      KeyCase{"ecp256.pem", KeyAlgorithm::kEcP256, "ecp256.pub.pem"},
                      KeyCase{"ecp256.sec1.der", KeyAlgorithm::kEcP256, "ecp256.pub.pem"},
                      KeyCase{"ecp256.sec1.pem", KeyAlgorithm::kEcP256, "ecp256.pub.pem"},
                      KeyCase{"ecp256.jwk.json", KeyAlgorithm::kEcP256, "ecp256.pub.jwk.json"},
                      KeyCase{"ecp384.pem", KeyAlgorithm::kEcP384, "ecp384.pub.pem"},
                      KeyCase{"ecp384.sec1.der", KeyAlgorithm::kEcP384, "ecp384.pub.pem"},
                      KeyCase{"ecp384.sec1.pem", KeyAlgorithm::kEcP384, "ecp384.pub.pem"},
                      KeyCase{"ecp521.pem", KeyAlgorithm::kEcP521, "ecp521.pub.pem"},
                      KeyCase{"ecp521.sec1.der", KeyAlgorithm::kEcP521, "ecp521.pub.pem"},
                      KeyCase{"ecp521.sec1.pem", KeyAlgorithm::kEcP521, "ecp521.pub.pem"}),
    [](const ::testing::TestParamInfo<KeyCase>& p) {
      std::string n = p.param.file;
      for (char& ch : n)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(PrivateKey, JwkPublicHalvesEqualPemPublicKeys) {
  auto a = parse_public_key(Key("rsa2048.pub.jwk.json"));
  auto b = parse_public_key(Key("rsa2048.pub.pem"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(EVP_PKEY_eq(a->evp(), b->evp()), 1);
  auto c = parse_public_key(Key("ecp256.pub.jwk.json"));
  auto d = parse_public_key(Key("ecp256.pub.pem"));
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_EQ(EVP_PKEY_eq(c->evp(), d->evp()), 1);
}

TEST(PrivateKey, LegacyEncryptedPem) {
  auto data = Key("rsa2048.enc.pem");
  std::string pw = Str(Key("rsa2048.enc.password"));
  ASSERT_EQ(pw, "vectors-pass-1");
  auto k = parse_private_key(data, pw);
  ASSERT_TRUE(k.ok()) << k.status().message();
  auto plain = parse_private_key(Key("rsa2048.pem"));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(EVP_PKEY_eq(k->evp(), plain->evp()), 1);

  auto missing = parse_private_key(data);
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(missing.status().message(), "needs a password"))
      << missing.status().message();
  auto wrong = parse_private_key(data, std::string_view("not-the-password"));
  EXPECT_EQ(wrong.status().code(), StatusCode::kKeyError);
  EXPECT_TRUE(contains(wrong.status().message(), "wrong password")) << wrong.status().message();
  EXPECT_EQ(classify_key_file(data), KeyFileKind::kEncryptedPrivateKey);
}

TEST(PrivateKey, EncryptedPkcs8PemAndDer) {
  std::string pw = Str(Extra("ecp256.p8enc.password"));
  auto ref = parse_private_key(Key("ecp256.pem"));
  ASSERT_TRUE(ref.ok());
  for (const char* f : {"ecp256.p8enc.pem", "ecp256.p8enc.der"}) {
    auto data = Extra(f);
    auto k = parse_private_key(data, pw);
    ASSERT_TRUE(k.ok()) << f << ": " << k.status().message();
    EXPECT_EQ(EVP_PKEY_eq(k->evp(), ref->evp()), 1) << f;
    auto missing = parse_private_key(data);
    EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument) << f;
    EXPECT_TRUE(contains(missing.status().message(), "needs a password")) << f;
    auto wrong = parse_private_key(data, std::string_view("nope"));
    EXPECT_EQ(wrong.status().code(), StatusCode::kKeyError) << f;
    EXPECT_EQ(classify_key_file(data), KeyFileKind::kEncryptedPrivateKey) << f;
  }
}

TEST(PrivateKey, PublicKeyGivenAsPrivate) {
  for (auto data :
       {Key("rsa2048.pub.pem"), Key("ecp256.pub.pem"), Key("rsa2048.pub.jwk.json"),
        Key("ecp256.pub.jwk.json"), Extra("rsa2048.pkcs1pub.pem"), Extra("rsa2048.pub.der")}) {
    auto k = parse_private_key(data);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(k.status().message(), "public key")) << k.status().message();
    EXPECT_EQ(classify_key_file(data), KeyFileKind::kPublicKey);
  }
}

TEST(PrivateKey, CertificateGivenAsPrivate) {
  for (auto data : {Key("pkcs7.cert.pem"), Extra("pkcs7.cert.der")}) {
    auto k = parse_private_key(data);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(k.status().message(), "certificate")) << k.status().message();
    EXPECT_EQ(classify_key_file(data), KeyFileKind::kCertificate);
  }
}

TEST(PrivateKey, UnrecognisedData) {
  for (std::string s : {std::string("hello world"), std::string("\x30\x03\x02\x01\x05", 5),
                        std::string("{\"kty\":\"oct\",\"k\":\"AAAA\"}"), std::string("{not json"),
                        std::string("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")}) {
    auto k = parse_private_key(span_of(s));
    ASSERT_FALSE(k.ok()) << s;
    EXPECT_NE(k.status().message().find('\n'), 0u);
    EXPECT_EQ(classify_key_file(span_of(s)), KeyFileKind::kUnknown) << s;
  }
  EXPECT_EQ(parse_private_key(span_of("hello")).status().code(), StatusCode::kDataError);
  EXPECT_EQ(parse_private_key({}).status().code(), StatusCode::kDataError);
}

TEST(PrivateKey, UnknownJwkKeyTypeStaysOnOneLine) {
  // kty comes from the key file (or the payload): shown quoted, on one line.
  const std::string jwk = "{\"kty\":\"O\\nK\\rP\",\"x\":\"AAAA\"}";
  auto k = parse_private_key(span_of(jwk));
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kUnsupported) << k.status().message();
  EXPECT_EQ(k.status().message().find_first_of("\r\n"), std::string::npos) << k.status().message();
  EXPECT_TRUE(contains(k.status().message(), "\"O?K?P\"")) << k.status().message();
}

TEST(PrivateKey, MessagesNeverContainKeyMaterial) {
  // A corrupted PEM body: the message must not echo the base64 body.
  std::string pem = Str(Key("rsa2048.pem"));
  size_t pos = pem.find('\n') + 10;
  pem[pos] = pem[pos] == 'A' ? 'B' : 'A';
  std::string body_line = pem.substr(pem.find('\n') + 1, 40);
  auto k = parse_private_key(span_of(pem));
  if (!k.ok()) {
    EXPECT_FALSE(contains(k.status().message(), body_line));
  }
  // JWK with a bad d: message names the member, not its value.
  std::string jwk = Str(Key("ecp256.jwk.json"));
  size_t d = jwk.find("\"d\": \"");
  ASSERT_NE(d, std::string::npos);
  jwk[d + 7] = jwk[d + 7] == 'A' ? 'B' : 'A';
  auto e = parse_private_key(span_of(jwk));
  ASSERT_FALSE(e.ok());
  EXPECT_FALSE(contains(e.status().message(), jwk.substr(d + 6, 20)));
}

TEST(PrivateKey, JwkMissingCrtValuesAreComputed) {
  auto j = nlohmann::json::parse(Str(Key("rsa2048.jwk.json")));
  // Drop dp, dq, qi: go-jose precomputes them.
  j.erase("dp");
  j.erase("dq");
  j.erase("qi");
  std::string jwk = j.dump();
  auto k = parse_private_key(span_of(jwk));
  ASSERT_TRUE(k.ok()) << k.status().message();
  auto ref = parse_private_key(Key("rsa2048.pem"));
  EXPECT_EQ(EVP_PKEY_eq(k->evp(), ref->evp()), 1);
}

TEST(PublicKey, AcceptsOnlyGoRecipientForms) {
  EXPECT_TRUE(parse_public_key(Key("rsa2048.pub.pem")).ok());
  EXPECT_TRUE(parse_public_key(Extra("rsa2048.pub.der")).ok());
  EXPECT_TRUE(parse_public_key(Key("ecp521.pub.pem")).ok());
  EXPECT_TRUE(parse_public_key(Key("ecp256.pub.jwk.json")).ok());
  auto pkcs1 = parse_public_key(Extra("rsa2048.pkcs1pub.pem"));
  EXPECT_EQ(pkcs1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(pkcs1.status().message(), "RSA PUBLIC KEY"));
  auto cert = parse_public_key(Key("pkcs7.cert.pem"));
  EXPECT_EQ(cert.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(cert.status().message(), "certificate"));
  EXPECT_EQ(parse_public_key(Extra("pkcs7.cert.der")).status().code(),
            StatusCode::kInvalidArgument);
  auto priv = parse_public_key(Key("rsa2048.pem"));
  EXPECT_EQ(priv.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(priv.status().message(), "private key"));
  EXPECT_EQ(parse_public_key(Key("ecp256.jwk.json")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_public_key(span_of("garbage")).status().code(), StatusCode::kDataError);
}

TEST(PublicKey, JwkAlgAndKidAreKept) {
  std::string jwk = Str(Key("rsa2048.pub.jwk.json"));
  jwk.insert(jwk.find('{') + 1, "\"alg\":\"RSA-OAEP-256\",\"kid\":\"k1\",");
  auto k = parse_public_key(span_of(jwk));
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->jwk_alg(), "RSA-OAEP-256");
  EXPECT_EQ(k->jwk_kid(), "k1");
}

TEST(Certificate, PemAndDer) {
  auto a = parse_certificate(Key("pkcs7.cert.pem"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_TRUE(contains(a->subject(), "layercrypt-vectors-pkcs7-recipient"));
  auto b = parse_certificate(Extra("pkcs7.cert.der"));
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(X509_cmp(a->x509(), b->x509()), 0);
  EXPECT_EQ(parse_certificate(Key("pkcs7.key.pem")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_certificate(span_of("nope")).status().code(), StatusCode::kDataError);
  Certificate copy = *a;  // shared reference
  EXPECT_EQ(copy.x509(), a->x509());
}

TEST(PrivateKey, HandlesCopyAndMove) {
  auto k = parse_private_key(Key("ecp384.pem"));
  ASSERT_TRUE(k.ok());
  PrivateKey a = *k;
  PrivateKey b = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(b.valid());
  EXPECT_EQ(b.description(), "EC P-384");
  EXPECT_EQ(k->bits(), 384);
  auto r = parse_private_key(Key("rsa4096.pem"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->description(), "RSA-4096");
}

}  // namespace
}  // namespace layercrypt
