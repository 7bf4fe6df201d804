// Tests for engine/keygen.h: every key type generates, reads back with our
// own parsers, wraps and unwraps a JWE; key files are written with the
// right modes, atomically, and never clobbered without overwrite.
#include "engine/keygen.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "engine/jwe.h"
#include "engine/private_key.h"
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
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
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
      {"rsa:2048", KeyType::kRsa2048}, {"rsa:3072", KeyType::kRsa3072}, {"rsa:4096", KeyType::kRsa4096},
      {"ec:p256", KeyType::kEcP256},   {"ec:p384", KeyType::kEcP384},   {"ec:p521", KeyType::kEcP521},
      {"rsa", KeyType::kRsa4096},      {"ec", KeyType::kEcP256},        {"RSA:2048", KeyType::kRsa2048},
      {"EC:P384", KeyType::kEcP384},
  };
  for (const auto& [spec, type] : good) {
    auto t = parse_key_type(spec);
    ASSERT_TRUE(t.ok()) << spec << ": " << t.status().message();
    EXPECT_EQ(*t, type) << spec;
    // key_type_name round-trips.
    EXPECT_EQ(*parse_key_type(key_type_name(type)), type);
  }
  for (const char* bad : {"", "rsa:1024", "rsa:2047", "rsa2048", "ec:p-256", "ec:secp256k1", "ed25519",
                          "rsa:", "ec:", " rsa", "rsa:4096 "}) {
    auto t = parse_key_type(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(t.status().message(), "rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384 or ec:p521"))
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
    EXPECT_TRUE(contains(s.message(), "use --force to overwrite")) << s.message();
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

}  // namespace
}  // namespace layercrypt
