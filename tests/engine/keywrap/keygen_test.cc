// Tests for engine/keywrap/keygen.h: every key type generates, reads back with our
// own parsers, wraps and unwraps a JWE; an RSA key gets a self-signed
// certificate that OpenSSL accepts and that works as a pkcs7 recipient; key
// files are written with the right modes, atomically, and never clobbered
// without overwrite.
#include "engine/keywrap/keygen.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/keywrap/jwe/jwe.h"
#include "engine/keywrap/keys/private_key.h"
#include "engine/keywrap/pkcs7/pkcs7.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using testing::contains;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

std::string Str(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }
std::string Str(const kernels::SecretBytes& v) { return {v.begin(), v.end()}; }

// Generated keys are cached: RSA-4096 generation takes a while.
const GeneratedKey& Key(KeyType t) {
  static std::map<KeyType, GeneratedKey> cache;
  auto it = cache.find(t);
  if (it == cache.end()) {
    auto k = generate_key(t);
    EXPECT_TRUE(k.ok()) << k.status().message();
    it = cache.emplace(t, std::move(k).value()).first;
  }
  return it->second;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

struct TypeCase {
  KeyType type;
  const char* name;
  KeyAlgorithm alg;
  int bits;
  friend void PrintTo(const TypeCase& c, std::ostream* os) { *os << c.name; }
};

class KeygenTypes : public ::testing::TestWithParam<TypeCase> {};

TEST_P(KeygenTypes, GeneratesParsesAndWrapsAJwe) {
  const TypeCase& c = GetParam();
  EXPECT_STREQ(key_type_name(c.type), c.name);
  const GeneratedKey& k = Key(c.type);
  const std::string priv_pem = Str(k.private_pem);
  EXPECT_EQ(priv_pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << c.name;
  EXPECT_TRUE(contains(priv_pem, "-----END PRIVATE KEY-----\n"));
  EXPECT_EQ(k.public_pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u) << c.name;
  EXPECT_FALSE(contains(k.public_pem, "PRIVATE"));

  auto priv = parse_private_key(k.private_pem);
  ASSERT_TRUE(priv.ok()) << priv.status().message();
  auto pub = parse_public_key(span_of(k.public_pem));
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  EXPECT_EQ(priv->algorithm(), c.alg);
  EXPECT_EQ(pub->algorithm(), c.alg);
  EXPECT_EQ(pub->bits(), c.bits);
  EXPECT_EQ(EVP_PKEY_eq(priv->public_key().evp(), pub->evp()), 1);
  EXPECT_EQ(classify_key_file(k.private_pem), KeyFileKind::kPrivateKey);
  EXPECT_EQ(classify_key_file(span_of(k.public_pem)), KeyFileKind::kPublicKey);

  const std::string options = R"({"symkey":"c2VjcmV0","cipheroptions":{}})";
  std::vector<PublicKey> recipients{*pub};
  auto jwe = jwe_encrypt(span_of(options), recipients);
  ASSERT_TRUE(jwe.ok()) << jwe.status().message();
  std::vector<PrivateKey> keys{*priv};
  auto plain = jwe_decrypt(*jwe, keys);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(Str(*plain), options);
}

INSTANTIATE_TEST_SUITE_P(
    All, KeygenTypes,
    ::testing::Values(TypeCase{KeyType::kRsa2048, "rsa:2048", KeyAlgorithm::kRsa, 2048},
                      TypeCase{KeyType::kRsa3072, "rsa:3072", KeyAlgorithm::kRsa, 3072},
                      TypeCase{KeyType::kRsa4096, "rsa:4096", KeyAlgorithm::kRsa, 4096},
                      TypeCase{KeyType::kEcP256, "ec:p256", KeyAlgorithm::kEcP256, 256},
                      TypeCase{KeyType::kEcP384, "ec:p384", KeyAlgorithm::kEcP384, 384},
                      TypeCase{KeyType::kEcP521, "ec:p521", KeyAlgorithm::kEcP521, 521}),
    [](const auto& param_info) {
      std::string n = param_info.param.name;
      for (char& ch : n)
        if (ch == ':') ch = '_';
      return n;
    });

TEST(Keygen, EachCallMakesANewKey) {
  auto a = generate_key(KeyType::kEcP256);
  auto b = generate_key(KeyType::kEcP256);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_pem, b->public_pem);
  EXPECT_NE(Str(a->private_pem), Str(b->private_pem));
}

TEST(Keygen, ParseKeyType) {
  const std::pair<const char*, KeyType> good[] = {
      {"rsa:2048", KeyType::kRsa2048}, {"rsa:3072", KeyType::kRsa3072},
      {"rsa:4096", KeyType::kRsa4096}, {"ec:p256", KeyType::kEcP256},
      {"ec:p384", KeyType::kEcP384},   {"ec:p521", KeyType::kEcP521},
      {"rsa", KeyType::kRsa4096},      {"ec", KeyType::kEcP256},
      {"RSA:2048", KeyType::kRsa2048}, {"EC:P384", KeyType::kEcP384},
  };
  for (const auto& [spec, type] : good) {
    auto t = parse_key_type(spec);
    ASSERT_TRUE(t.ok()) << spec << ": " << t.status().message();
    EXPECT_EQ(*t, type) << spec;
    // key_type_name round-trips.
    EXPECT_EQ(*parse_key_type(key_type_name(type)), type);
  }
  for (const char* bad : {"", "rsa:1024", "rsa:2047", "rsa2048", "ec:p-256", "ec:secp256k1",
                          "ed25519", "rsa:", "ec:", " rsa", "rsa:4096 "}) {
    auto t = parse_key_type(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(
        contains(t.status().message(), "rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384 or ec:p521"))
        << t.status().message();
  }
}

TEST(KeygenFiles, WritesModesAndContents) {
  TempDir dir;
  const GeneratedKey& k = Key(KeyType::kEcP384);
  const std::string base = dir.file("mykey");
  // Modes are exact whatever the umask.
  const mode_t old_umask = ::umask(077);
  Status s = write_key_files(k, base, /*overwrite=*/false);
  ::umask(old_umask);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ModeOf(base + ".pem"), 0600u);
  EXPECT_EQ(ModeOf(base + ".pub.pem"), 0644u);
  EXPECT_EQ(Str(read_file(base + ".pem")), Str(k.private_pem));
  EXPECT_EQ(Str(read_file(base + ".pub.pem")), k.public_pem);
  // No temporary files are left behind.
  EXPECT_EQ(Listing(dir.path()), (std::vector<std::string>{"mykey.pem", "mykey.pub.pem"}));
  // The files read back as a matching pair.
  auto priv = parse_private_key(read_file(base + ".pem"));
  auto pub = parse_public_key(read_file(base + ".pub.pem"));
  ASSERT_TRUE(priv.ok() && pub.ok());
  EXPECT_EQ(EVP_PKEY_eq(priv->public_key().evp(), pub->evp()), 1);
}

TEST(KeygenFiles, RefusesToOverwriteEitherFile) {
  TempDir dir;
  const GeneratedKey& k = Key(KeyType::kEcP256);
  for (const char* existing : {"k.pem", "k.pub.pem"}) {
    SCOPED_TRACE(existing);
    std::filesystem::remove(dir.file("k.pem"));
    std::filesystem::remove(dir.file("k.pub.pem"));
    write_file(dir.file(existing), {'o', 'l', 'd'});
    Status s = write_key_files(k, dir.file("k"), /*overwrite=*/false);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(s.message(), dir.file(existing))) << s.message();
    EXPECT_TRUE(s.message().ends_with(" already exists")) << s.message();
    EXPECT_FALSE(contains(s.message(), "--")) << "a CLI flag in an engine message: " << s.message();
    // The existing file is untouched and the other one was not created.
    EXPECT_EQ(Str(read_file(dir.file(existing))), "old");
    EXPECT_EQ(Listing(dir.path()), std::vector<std::string>{existing});
  }
}

TEST(KeygenFiles, RefusesADanglingSymlink) {
  TempDir dir;
  std::filesystem::create_symlink(dir.file("nowhere"), dir.file("k.pem"));
  Status s = write_key_files(Key(KeyType::kEcP256), dir.file("k"), /*overwrite=*/false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("nowhere")));
}

TEST(KeygenFiles, OverwriteReplacesBoth) {
  TempDir dir;
  const std::string base = dir.file("k");
  ASSERT_TRUE(write_key_files(Key(KeyType::kEcP256), base, false).ok());
  ::chmod((base + ".pem").c_str(), 0640);
  const GeneratedKey& k2 = Key(KeyType::kEcP521);
  Status s = write_key_files(k2, base, /*overwrite=*/true);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Str(read_file(base + ".pem")), Str(k2.private_pem));
  EXPECT_EQ(Str(read_file(base + ".pub.pem")), k2.public_pem);
  EXPECT_EQ(ModeOf(base + ".pem"), 0600u);
  EXPECT_EQ(ModeOf(base + ".pub.pem"), 0644u);
  EXPECT_EQ(Listing(dir.path()), (std::vector<std::string>{"k.pem", "k.pub.pem"}));
  // A symbolic link in the way is replaced, its target is not written.
  write_file(dir.file("target"), {'t'});
  std::filesystem::remove(base + ".pub.pem");
  std::filesystem::create_symlink(dir.file("target"), base + ".pub.pem");
  ASSERT_TRUE(write_key_files(k2, base, true).ok());
  EXPECT_FALSE(std::filesystem::is_symlink(base + ".pub.pem"));
  EXPECT_EQ(Str(read_file(dir.file("target"))), "t");
}

TEST(KeygenFiles, BadTargets) {
  TempDir dir;
  const GeneratedKey& k = Key(KeyType::kEcP256);
  // Missing directory: an I/O error naming it, nothing created.
  Status s = write_key_files(k, dir.file("no/such/dir/k"), false);
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.message();
  EXPECT_TRUE(contains(s.message(), dir.file("no/such/dir"))) << s.message();
  // No file name.
  EXPECT_EQ(write_key_files(k, "", false).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(write_key_files(k, dir.path() + "/", false).code(), StatusCode::kInvalidArgument);
  // A directory in the way, even with overwrite.
  std::filesystem::create_directory(dir.file("d.pub.pem"));
  s = write_key_files(k, dir.file("d"), true);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  EXPECT_TRUE(contains(s.message(), "is a directory"));
  EXPECT_EQ(Listing(dir.path()), std::vector<std::string>{"d.pub.pem"});
  // An unwritable directory (skipped as root, who can write anywhere).
  if (::geteuid() != 0) {
    std::filesystem::create_directory(dir.file("ro"));
    ::chmod(dir.file("ro").c_str(), 0555);
    s = write_key_files(k, dir.file("ro/k"), false);
    EXPECT_EQ(s.code(), StatusCode::kIoError) << s.message();
    EXPECT_TRUE(Listing(dir.file("ro")).empty());
    ::chmod(dir.file("ro").c_str(), 0755);
  }
}

TEST(KeygenFiles, RelativeBaseWritesInTheCurrentDirectory) {
  TempDir dir;
  const auto old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  Status s = write_key_files(Key(KeyType::kEcP256), "plain", false);
  std::filesystem::current_path(old_cwd);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Listing(dir.path()), (std::vector<std::string>{"plain.pem", "plain.pub.pem"}));
}

// ---- self-signed certificates for pkcs7 recipients ----------------------------

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// ParsePem parses a PEM certificate with OpenSSL alone.
X509Ptr ParsePem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return X509Ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

std::string CommonName(const X509_NAME* name) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(const_cast<X509_NAME*>(name), NID_commonName, buf, sizeof(buf));
  return buf;
}

TEST(KeygenCertificate, SelfSignedForTheKeyAndAPkcs7Recipient) {
  const GeneratedKey& k = Key(KeyType::kRsa2048);
  auto pem = make_self_signed_certificate(k, CertificateOptions{"node-7 recipient", 30});
  ASSERT_TRUE(pem.ok()) << pem.status().message();
  EXPECT_EQ(pem->rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u);

  X509Ptr x = ParsePem(*pem);
  ASSERT_TRUE(x);
  auto priv = parse_private_key(k.private_pem);
  ASSERT_TRUE(priv.ok()) << priv.status().message();
  // Its key is the generated key, and it verifies with that key.
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(x.get()), priv->public_key().evp()), 1);
  EXPECT_EQ(X509_verify(x.get(), priv->evp()), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x.get()), X509_get_issuer_name(x.get())), 0);
  EXPECT_EQ(CommonName(X509_get_subject_name(x.get())), "node-7 recipient");
  EXPECT_EQ(X509_get_version(x.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(x.get()), NID_sha256WithRSAEncryption);
  // A positive 16-byte serial number.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get());
  EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);
  EXPECT_EQ(ASN1_STRING_length(serial), 16);
  // Valid from now for 30 days.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x.get()), X509_get0_notAfter(x.get())),
            1);
  EXPECT_EQ(days, 30);
  EXPECT_EQ(secs, 0);
  EXPECT_LE(X509_cmp_current_time(X509_get0_notBefore(x.get())), 0);
  // Not a CA, key encipherment only, both extensions critical.
  EXPECT_EQ(X509_check_ca(x.get()), 0);
  EXPECT_EQ(X509_get_key_usage(x.get()), static_cast<uint32_t>(KU_KEY_ENCIPHERMENT));
  for (int nid : {NID_basic_constraints, NID_key_usage}) {
    const int at = X509_get_ext_by_NID(x.get(), nid, -1);
    ASSERT_GE(at, 0) << nid;
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x.get(), at)), 1) << nid;
  }

  // It works as a pkcs7 recipient: encrypt to it, decrypt with key + cert.
  auto cert = parse_certificate(span_of(*pem));
  ASSERT_TRUE(cert.ok()) << cert.status().message();
  const std::string options = R"({"symkey":"c2VjcmV0","digest":"sha256:00","cipheroptions":{}})";
  std::vector<Certificate> certs{*cert};
  auto der = pkcs7_encrypt(span_of(options), certs);
  ASSERT_TRUE(der.ok()) << der.status().message();
  std::vector<PrivateKey> keys{*priv};
  auto plain = pkcs7_decrypt(*der, keys, certs);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(Str(*plain), options);
}

TEST(KeygenCertificate, DefaultsAndFreshSerials) {
  const GeneratedKey& k = Key(KeyType::kRsa3072);
  auto a = make_self_signed_certificate(k);
  auto b = make_self_signed_certificate(k);
  ASSERT_TRUE(a.ok() && b.ok());
  X509Ptr xa = ParsePem(*a), xb = ParsePem(*b);
  ASSERT_TRUE(xa && xb);
  EXPECT_EQ(CommonName(X509_get_subject_name(xa.get())), "layercrypt recipient");
  int days = 0, secs = 0;
  ASSERT_EQ(
      ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(xa.get()), X509_get0_notAfter(xa.get())), 1);
  EXPECT_EQ(days, 3650);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa.get()), X509_get0_serialNumber(xb.get())),
            0);
}

TEST(KeygenCertificate, RefusesEcKeysAndBadOptions) {
  for (KeyType t : {KeyType::kEcP256, KeyType::kEcP384}) {
    auto c = make_self_signed_certificate(Key(t));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(c.status().message(), "pkcs7 recipients needs an RSA key, not EC"))
        << c.status().message();
    EXPECT_TRUE(contains(c.status().message(), "rsa:4096")) << c.status().message();
  }
  const GeneratedKey& rsa = Key(KeyType::kRsa2048);
  for (const CertificateOptions& o :
       {CertificateOptions{"", 10}, CertificateOptions{std::string(65, 'x'), 10},
        CertificateOptions{"ok", 0}, CertificateOptions{"ok", -1},
        CertificateOptions{"ok", 36501}}) {
    auto c = make_self_signed_certificate(rsa, o);
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument)
        << o.subject_cn.size() << " " << o.days;
  }
  EXPECT_TRUE(
      make_self_signed_certificate(rsa, CertificateOptions{std::string(64, 'x'), 36500}).ok());
  GeneratedKey broken;
  broken.private_pem.assign(5, 'x');
  EXPECT_EQ(make_self_signed_certificate(broken).status().code(), StatusCode::kDataError);
}

TEST(KeygenFiles, WritesTheCertificateWithTheKeys) {
  TempDir dir;
  GeneratedKey k = Key(KeyType::kRsa2048);
  auto pem = make_self_signed_certificate(k);
  ASSERT_TRUE(pem.ok()) << pem.status().message();
  k.certificate_pem = *pem;
  const std::string base = dir.file("node");
  const mode_t old_umask = ::umask(077);
  Status s = write_key_files(k, base, /*overwrite=*/false);
  ::umask(old_umask);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Listing(dir.path()),
            (std::vector<std::string>{"node.crt.pem", "node.pem", "node.pub.pem"}));
  EXPECT_EQ(ModeOf(base + ".pem"), 0600u);
  EXPECT_EQ(ModeOf(base + ".pub.pem"), 0644u);
  EXPECT_EQ(ModeOf(base + ".crt.pem"), 0644u);
  EXPECT_EQ(Str(read_file(base + ".crt.pem")), *pem);
  auto cert = parse_certificate(read_file(base + ".crt.pem"));
  auto pub = parse_public_key(read_file(base + ".pub.pem"));
  ASSERT_TRUE(cert.ok() && pub.ok());
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert->x509()), pub->evp()), 1);

  // An existing certificate file stops the whole write; nothing is created.
  TempDir other;
  write_file(other.file("node.crt.pem"), {'o', 'l', 'd'});
  s = write_key_files(k, other.file("node"), /*overwrite=*/false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  EXPECT_TRUE(contains(s.message(), other.file("node.crt.pem"))) << s.message();
  EXPECT_EQ(Listing(other.path()), std::vector<std::string>{"node.crt.pem"});
  EXPECT_EQ(Str(read_file(other.file("node.crt.pem"))), "old");
  // With overwrite all three are replaced.
  ASSERT_TRUE(write_key_files(k, other.file("node"), /*overwrite=*/true).ok());
  EXPECT_EQ(Str(read_file(other.file("node.crt.pem"))), *pem);
  EXPECT_EQ(Listing(other.path()),
            (std::vector<std::string>{"node.crt.pem", "node.pem", "node.pub.pem"}));
}

}  // namespace
}  // namespace layercrypt
