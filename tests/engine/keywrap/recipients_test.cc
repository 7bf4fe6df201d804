// Tests for engine/keywrap/recipients.h: jwe:/pkcs7:/bare FILE recipients against
// the Go-made key vectors (tests/vectors/ocicrypt/keys) and the extra forms
// in tests/vectors/engine/keys; private keys, missing files and other
// schemes are refused with one-line messages naming the file.
#include "engine/keywrap/recipients.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/keywrap/jwe/jwe.h"
#include "engine/keywrap/keys/private_key.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using testing::contains;
using testing::ocicrypt_vectors_dir;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

static_assert(std::is_copy_constructible_v<Recipients> &&
              std::is_nothrow_move_constructible_v<Recipients>);

std::string Keys(const std::string& name) { return ocicrypt_vectors_dir() + "keys/" + name; }
std::string Extra(const std::string& name) {
  return std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/engine/keys/" + name;
}
std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

PrivateKey Priv(const std::string& name) {
  auto k = parse_private_key(read_file(Keys(name)));
  EXPECT_TRUE(k.ok()) << name;
  return *k;
}

// ExpectRefused checks that `spec` fails with `code`, that the message is
// one line and contains `needle`, and that `r` was left unchanged.
void ExpectRefused(const std::string& spec, StatusCode code, const std::string& needle) {
  Recipients r;
  ASSERT_TRUE(add_recipient("jwe:" + Keys("ecp256.pub.pem"), &r).ok());
  Status s = add_recipient(spec, &r);
  ASSERT_FALSE(s.ok()) << spec;
  EXPECT_EQ(s.code(), code) << spec << ": " << s.message();
  EXPECT_TRUE(contains(s.message(), needle)) << spec << ": " << s.message();
  EXPECT_FALSE(contains(s.message(), "\n")) << s.message();
  EXPECT_EQ(r.jwe.size(), 1u);
  EXPECT_TRUE(r.pkcs7.empty());
  EXPECT_EQ(r.sources.size(), 1u);
}

// PubPemOf returns `pkey`'s SubjectPublicKeyInfo PEM.
std::string PubPemOf(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

// SelfSignedEcCertPem returns a self-signed certificate for a new P-256 key.
std::string SelfSignedEcCertPem() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ec-test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, pkey, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return pem;
}

struct PubCase {
  const char* file;  // relative to the ocicrypt keys unless `extra`
  bool extra;
  const char* priv;  // matching private key (ocicrypt keys)
};

const PubCase kPublicKeys[] = {
    {"rsa2048.pub.pem", false, "rsa2048.pem"},       // PEM SPKI, RSA
    {"rsa4096.pub.pem", false, "rsa4096.pem"},       // PEM SPKI, RSA-4096
    {"ecp256.pub.pem", false, "ecp256.pem"},         // PEM SPKI, EC
    {"ecp521.pub.pem", false, "ecp521.pem"},         // PEM SPKI, EC P-521
    {"rsa2048.pub.der", true, "rsa2048.pem"},        // DER SPKI
    {"rsa2048.pub.jwk.json", false, "rsa2048.pem"},  // JWK public, RSA
    {"ecp256.pub.jwk.json", false, "ecp256.pem"},    // JWK public, EC
};

TEST(Recipients, JwePublicKeyForms) {
  for (const auto& c : kPublicKeys) {
    const std::string path = c.extra ? Extra(c.file) : Keys(c.file);
    for (const std::string& spec : {"jwe:" + path, path}) {
      SCOPED_TRACE(spec);
      Recipients r;
      Status s = add_recipient(spec, &r);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(r.jwe.size(), 1u);
      EXPECT_TRUE(r.pkcs7.empty());
      EXPECT_EQ(r.sources, std::vector<std::string>{"jwe:" + path});
      EXPECT_EQ(EVP_PKEY_eq(r.jwe[0].evp(), Priv(c.priv).public_key().evp()), 1);
    }
  }
}

TEST(Recipients, JwkMembersAreKept) {
  TempDir dir;
  std::string jwk = testing::read_text(Keys("ecp256.pub.jwk.json"));
  jwk.insert(jwk.find('{') + 1, "\"kid\":\"my-key\",\"alg\":\"ECDH-ES+A128KW\",");
  write_file(dir.file("k.jwk"), Bytes(jwk));
  Recipients r;
  ASSERT_TRUE(add_recipient("jwe:" + dir.file("k.jwk"), &r).ok());
  EXPECT_EQ(r.jwe[0].jwk_kid(), "my-key");
  EXPECT_EQ(r.jwe[0].jwk_alg(), "ECDH-ES+A128KW");
}

TEST(Recipients, SeveralRecipientsWrapAJwe) {
  Recipients r;
  for (const auto& c : kPublicKeys) {
    ASSERT_TRUE(add_recipient("jwe:" + (c.extra ? Extra(c.file) : Keys(c.file)), &r).ok())
        << c.file;
  }
  ASSERT_TRUE(add_recipient("pkcs7:" + Keys("pkcs7.cert.pem"), &r).ok());
  EXPECT_EQ(r.jwe.size(), std::size(kPublicKeys));
  EXPECT_EQ(r.pkcs7.size(), 1u);
  EXPECT_EQ(r.sources.size(), std::size(kPublicKeys) + 1);
  EXPECT_EQ(r.sources.back(), "pkcs7:" + Keys("pkcs7.cert.pem"));
  const std::string options = R"({"symkey":"AAAA","cipheroptions":{}})";
  auto jwe = jwe_encrypt(span_of(options), r.jwe);
  ASSERT_TRUE(jwe.ok()) << jwe.status().message();
  for (const char* k : {"rsa2048.pem", "rsa4096.pem", "ecp256.pem", "ecp521.pem"}) {
    std::vector<PrivateKey> keys{Priv(k)};
    auto plain = jwe_decrypt(*jwe, keys);
    ASSERT_TRUE(plain.ok()) << k << ": " << plain.status().message();
    EXPECT_EQ(std::string(plain->begin(), plain->end()), options);
  }
}

TEST(Recipients, Pkcs7Certificate) {
  for (const std::string& path : {Keys("pkcs7.cert.pem"), Extra("pkcs7.cert.der")}) {
    for (const std::string& spec : {"pkcs7:" + path, path}) {
      SCOPED_TRACE(spec);
      Recipients r;
      Status s = add_recipient(spec, &r);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(r.pkcs7.size(), 1u);
      EXPECT_TRUE(r.jwe.empty());
      EXPECT_EQ(r.pkcs7[0].subject(), "CN=layercrypt-vectors-pkcs7-recipient");
      EXPECT_EQ(r.sources, std::vector<std::string>{"pkcs7:" + path});
    }
  }
}

TEST(Recipients, CertificateAsJweIsRefusedLikeGo) {
  for (const std::string& path : {Keys("pkcs7.cert.pem"), Extra("pkcs7.cert.der")}) {
    ExpectRefused("jwe:" + path, StatusCode::kInvalidArgument, path + " is an X.509 certificate");
    ExpectRefused("jwe:" + path, StatusCode::kInvalidArgument, "use pkcs7:" + path);
  }
}

TEST(Recipients, PublicKeyAsPkcs7IsRefused) {
  for (const std::string& path :
       {Keys("rsa2048.pub.pem"), Extra("rsa2048.pub.der"), Keys("ecp256.pub.jwk.json")}) {
    ExpectRefused("pkcs7:" + path, StatusCode::kInvalidArgument, path + " holds a public key");
    ExpectRefused("pkcs7:" + path, StatusCode::kInvalidArgument, "use jwe:" + path);
  }
}

TEST(Recipients, NonRsaPkcs7CertificateIsUnsupported) {
  TempDir dir;
  write_file(dir.file("ec.crt"), Bytes(SelfSignedEcCertPem()));
  for (const std::string& spec : {"pkcs7:" + dir.file("ec.crt"), dir.file("ec.crt")}) {
    ExpectRefused(spec, StatusCode::kUnsupported,
                  dir.file("ec.crt") + ": the certificate has EC key");
    ExpectRefused(spec, StatusCode::kUnsupported, "need an RSA certificate");
  }
}

TEST(Recipients, Pkcs1RsaPublicKey) {
  // Refused for jwe: like Go, with the conversion command ...
  const std::string path = Extra("rsa2048.pkcs1pub.pem");
  ExpectRefused("jwe:" + path, StatusCode::kInvalidArgument, path + ": PKCS#1 RSA PUBLIC KEY");
  ExpectRefused("jwe:" + path, StatusCode::kInvalidArgument,
                "openssl rsa -RSAPublicKey_in -pubout");
  // ... accepted as a bare FILE, PEM and DER.
  TempDir dir;
  std::string pem = testing::read_text(path);
  auto der_file = dir.file("pkcs1pub.der");
  {
    BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    char *name = nullptr, *header = nullptr;
    unsigned char* body = nullptr;
    long len = 0;
    ASSERT_EQ(PEM_read_bio(b, &name, &header, &body, &len), 1);
    write_file(der_file, std::vector<uint8_t>(body, body + len));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(body);
    BIO_free(b);
  }
  for (const std::string& spec : {path, der_file}) {
    SCOPED_TRACE(spec);
    Recipients r;
    Status s = add_recipient(spec, &r);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(r.jwe.size(), 1u);
    EXPECT_EQ(r.sources, std::vector<std::string>{"jwe:" + spec});
    EXPECT_EQ(EVP_PKEY_eq(r.jwe[0].evp(), Priv("rsa2048.pem").public_key().evp()), 1);
  }
}

TEST(Recipients, PrivateKeysAreRefused) {
  const std::vector<std::string> private_files = {
      Keys("rsa2048.pem"),       Keys("rsa2048.pkcs1.pem"), Keys("rsa2048.pkcs1.der"),
      Keys("rsa2048.pk8.der"),   Keys("rsa2048.jwk.json"),  Keys("rsa2048.enc.pem"),
      Keys("ecp256.pem"),        Keys("ecp256.sec1.pem"),   Keys("ecp384.sec1.der"),
      Keys("ecp256.jwk.json"),   Keys("pkcs7.key.pem"),     Extra("ecp256.p8enc.pem"),
      Extra("ecp256.p8enc.der"),
  };
  for (const std::string& path : private_files) {
    for (const std::string& spec : {"jwe:" + path, "pkcs7:" + path, path}) {
      SCOPED_TRACE(spec);
      Recipients r;
      Status s = add_recipient(spec, &r);
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      const bool jwk = path.ends_with(".json");
      EXPECT_EQ(s.message(),
                path +
                    " holds a private key; a recipient is a public key or certificate: use the "
                    "matching " +
                    (jwk ? "public JWK (the same key without \"d\" and the other private members)"
                         : ".pub.pem, or derive it with `openssl pkey -in " + path + " -pubout`"));
      EXPECT_TRUE(r.jwe.empty() && r.pkcs7.empty() && r.sources.empty());
    }
  }
}

TEST(Recipients, PrivateKeyAnywhereInTheFileIsRefused) {
  TempDir dir;
  const std::string cert = testing::read_text(Keys("pkcs7.cert.pem"));
  const std::string pub = testing::read_text(Keys("rsa2048.pub.pem"));
  const std::string key = testing::read_text(Keys("pkcs7.key.pem"));
  const std::string sec1 = testing::read_text(Keys("ecp256.sec1.pem"));
  write_file(dir.file("cert+key.pem"), Bytes(cert + key));
  write_file(dir.file("pub+sec1.pem"), Bytes(pub + sec1));
  for (const char* f : {"cert+key.pem", "pub+sec1.pem"}) {
    for (const std::string& spec : {std::string("jwe:"), std::string("pkcs7:"), std::string()}) {
      ExpectRefused(spec + dir.file(f), StatusCode::kInvalidArgument,
                    dir.file(f) + " holds a private key");
    }
  }
  // An unsupported private JWK (OKP) is still a private key.
  write_file(
      dir.file("okp.jwk"),
      Bytes(R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",)"
            R"("d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"})"));
  ExpectRefused(dir.file("okp.jwk"), StatusCode::kInvalidArgument,
                dir.file("okp.jwk") + " holds a private key");
}

TEST(Recipients, FileProblems) {
  TempDir dir;
  const std::string missing = dir.file("missing.pub.pem");
  for (const std::string& spec : {"jwe:" + missing, "pkcs7:" + missing, missing}) {
    ExpectRefused(spec, StatusCode::kIoError, "recipient file " + missing + " does not exist");
  }
  ExpectRefused("jwe:" + dir.path(), StatusCode::kIoError, dir.path() + " is a directory");
  write_file(dir.file("empty"), {});
  ExpectRefused("jwe:" + dir.file("empty"), StatusCode::kDataError,
                dir.file("empty") + " is empty");
  write_file(dir.file("junk"), Bytes("hello, this is not a key\n"));
  ExpectRefused(dir.file("junk"), StatusCode::kDataError,
                dir.file("junk") + " is neither a public key");
  ExpectRefused("jwe:" + dir.file("junk"), StatusCode::kDataError,
                dir.file("junk") + ": unrecognised");
  ExpectRefused("pkcs7:" + dir.file("junk"), StatusCode::kDataError,
                dir.file("junk") + ": unrecognised");
  write_file(dir.file("huge"), std::vector<uint8_t>((1 << 20) + 1, 'A'));
  ExpectRefused("jwe:" + dir.file("huge"), StatusCode::kIoError,
                dir.file("huge") + " is larger than 1 MiB");
  if (::geteuid() != 0) {
    write_file(dir.file("noread"), Bytes(testing::read_text(Keys("ecp256.pub.pem"))));
    ::chmod(dir.file("noread").c_str(), 0);
    ExpectRefused("jwe:" + dir.file("noread"), StatusCode::kIoError,
                  "cannot open recipient file " + dir.file("noread"));
  }
}

TEST(Recipients, UnsupportedKeyType) {
  TempDir dir;
  EVP_PKEY* ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(ed, nullptr);
  write_file(dir.file("ed.pub.pem"), Bytes(PubPemOf(ed)));
  EVP_PKEY_free(ed);
  for (const std::string& spec : {"jwe:" + dir.file("ed.pub.pem"), dir.file("ed.pub.pem")}) {
    ExpectRefused(spec, StatusCode::kUnsupported,
                  dir.file("ed.pub.pem") + ": key type is not supported");
  }
}

TEST(Recipients, SchemesAndSpecSyntax) {
  for (const char* spec : {"openpgp:alice@example.com", "jwk:/tmp/k.json", "PKCS7:/tmp/cert.pem",
                           "Provider:x", "PKCS11:/etc/key.yaml"}) {
    const std::string scheme = std::string(spec).substr(0, std::string(spec).find(':'));
    ExpectRefused(spec, StatusCode::kUnsupported, "recipient scheme \"" + scheme + "\"");
    ExpectRefused(spec, StatusCode::kUnsupported,
                  std::string("only jwe:FILE, pkcs7:FILE, ") +
                      (LAYERCRYPT_WITH_PKCS11 ? "pkcs11:FILE " : "") +
                      (LAYERCRYPT_WITH_PGP ? "pgp:NAME_OR_EMAIL " : "") +
                      "and provider:NAME recipients are");
  }
  // pkcs11:FILE (pkcs11_wrapper_test.cc has the rest).
  if (LAYERCRYPT_WITH_PKCS11) {
    ExpectRefused("pkcs11:", StatusCode::kInvalidArgument, "names no file; use pkcs11:FILE");
    ExpectRefused("pkcs11:/nonexistent/key.yaml", StatusCode::kIoError, "does not exist");
  }
  // A provider recipient is parsed here; whether it is configured is
  // checked when wrapping (provider/key_providers.h).
  Recipients prov;
  ASSERT_TRUE(add_recipient("provider:attestation-agent:some-params", &prov).ok());
  ASSERT_EQ(prov.providers.size(), 1u);
  EXPECT_EQ(prov.providers[0].name, "attestation-agent");
  EXPECT_EQ(prov.size(), 1u);
  ExpectRefused("provider:", StatusCode::kInvalidArgument, "names no key provider");
  ExpectRefused("", StatusCode::kInvalidArgument, "empty recipient");
  ExpectRefused("jwe:", StatusCode::kInvalidArgument, "names no file; use jwe:FILE");
  ExpectRefused("pkcs7:", StatusCode::kInvalidArgument, "names no file; use pkcs7:FILE");
  EXPECT_EQ(add_recipient("jwe:" + Keys("ecp256.pub.pem"), nullptr).code(),
            StatusCode::kInvalidArgument);

  // An existing file whose name looks like a scheme prefix is a bare FILE;
  // a path with '/' before the ':' is never a scheme.
  TempDir dir;
  const std::string pub = testing::read_text(Keys("ecp256.pub.pem"));
  write_file(dir.file("openpgp:mine.pub.pem"), Bytes(pub));
  const auto old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  Recipients r;
  Status s = add_recipient("openpgp:mine.pub.pem", &r);
  std::filesystem::current_path(old_cwd);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.sources, std::vector<std::string>{"jwe:openpgp:mine.pub.pem"});
  ASSERT_TRUE(add_recipient(dir.file("openpgp:mine.pub.pem"), &r).ok());
  ExpectRefused(dir.file("openpgp:other.pem"), StatusCode::kIoError, "does not exist");
}

}  // namespace
}  // namespace layercrypt
