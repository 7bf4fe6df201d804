// tests/engine/keyrelease/key_release_test.cc: the reference key provider's
// service with file KEKs: wrap/unwrap round trips, the allow-list, policy
// reloads and malformed policies, tampered and foreign annotations, KEK files.
#include "engine/keyrelease/key_release.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "engine/keyrelease/kek.h"
#include "engine/keyrelease/wrapped_key.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using testing::TempDir;

const std::string kOpts =
    R"({"symkey":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM=","digest":"sha256:00","cipheroptions":{"nonce":"AAAAAAAAAAAAAAAAAAAAAA=="}})";

std::span<const uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

ProviderParams params_for(const std::string& name, const std::string& value) {
  ProviderParams p;
  p[name].push_back(kernels::SecretBytes(value.begin(), value.end()));
  return p;
}

Caller local_caller() {
  Caller c;
  c.transport = "cmd";
  c.peer = "pid 1 uid " + std::to_string(::getuid());
  c.local = true;
  c.uid = ::getuid();
  return c;
}

Caller tls_caller(const std::string& cn) {
  Caller c;
  c.transport = "grpc";
  c.peer = "ipv4:10.0.0.7:5000";
  c.tls_verified = true;
  c.subject_cn = cn;
  c.sans = {cn + ".example.com"};
  c.cert_sha256 = std::string(64, 'a');
  return c;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

// Fixture: two file KEKs and a policy in a temporary directory, and a
// service over it whose log lines are kept.
class KeyReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(write_new_kek_file(dir_.file("a.kek")).ok());
    ASSERT_TRUE(write_new_kek_file(dir_.file("b.kek")).ok());
    write_policy(R"(["local", "cn:node-1"])");
  }

  void write_policy(const std::string& release_a, const std::string& extra = "") {
    // A new inode each time, as editors and config management write files.
    const std::string tmp = dir_.file("policy.tmp");
    write_text(tmp, R"({"default-key": "a", "keys": {
        "a": {"kek": {"file": "a.kek"}, "release-to": )" +
                        release_a + R"(},
        "b": {"kek": {"file": ")" +
                        dir_.file("b.kek") +
                        R"("}, "release-to": ["*"], "wrap-by": ["cn:builder"]})" + extra + "}}");
    ASSERT_EQ(::rename(tmp.c_str(), policy_path().c_str()), 0);
  }

  std::string policy_path() const { return dir_.file("policy.json"); }

  KeyRelease& service() {
    if (!service_) {
      KeyReleaseOptions o;
      o.policy_path = policy_path();
      o.log = [this](const std::string& line) { log_.push_back(line); };
      service_ = std::make_unique<KeyRelease>(o);
    }
    return *service_;
  }

  std::vector<uint8_t> wrap_ok(const ProviderParams& p, const Caller& who) {
    auto a = service().wrap(p, span_of(kOpts), who);
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? *a : std::vector<uint8_t>{};
  }

  TempDir dir_;
  std::unique_ptr<KeyRelease> service_;
  std::vector<std::string> log_;
};

TEST_F(KeyReleaseTest, RoundTripWithTheDefaultKey) {
  const auto annotation = wrap_ok({}, local_caller());
  auto blob = parse_wrapped_key(annotation);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->key_id, "a");
  EXPECT_EQ(blob->kek, KekKind::kFile);
  // No secret in clear.
  EXPECT_EQ(std::string(annotation.begin(), annotation.end()).find("symkey"), std::string::npos);
  auto opts = service().unwrap(annotation, local_caller());
  ASSERT_TRUE(opts.ok()) << opts.status().message();
  EXPECT_EQ(std::string(opts->begin(), opts->end()), kOpts);
  auto as_node = service().unwrap(annotation, tls_caller("node-1"));
  EXPECT_TRUE(as_node.ok()) << as_node.status().message();
}

TEST_F(KeyReleaseTest, NoncesDiffer) {
  EXPECT_NE(wrap_ok({}, local_caller()), wrap_ok({}, local_caller()));
}

TEST_F(KeyReleaseTest, KeyChosenByParameters) {
  for (const char* p : {"key=b", "b"}) {
    auto blob = parse_wrapped_key(wrap_ok(params_for("layercrypt", p), tls_caller("builder")));
    ASSERT_TRUE(blob.ok());
    EXPECT_EQ(blob->key_id, "b");
  }
  // "Enabled" (provider:layercrypt with no parameters) chooses nothing.
  auto blob = parse_wrapped_key(wrap_ok(params_for("layercrypt", "Enabled"), local_caller()));
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->key_id, "a");
  // Another provider's parameters are not ours.
  blob = parse_wrapped_key(wrap_ok(params_for("other", "key=b"), local_caller()));
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->key_id, "a");
}

TEST_F(KeyReleaseTest, WrapRefusals) {
  auto unknown =
      service().wrap(params_for("layercrypt", "key=nope"), span_of(kOpts), local_caller());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kKeyError);
  EXPECT_NE(unknown.status().message().find("no key nope"), std::string::npos);
  // wrap-by restricts b to cn:builder.
  auto not_builder = service().wrap(params_for("layercrypt", "b"), span_of(kOpts), local_caller());
  ASSERT_FALSE(not_builder.ok());
  EXPECT_EQ(not_builder.status().code(), StatusCode::kKeyError);
  EXPECT_NE(not_builder.status().message().find("wrap-by"), std::string::npos);
  ProviderParams two;
  two["layercrypt"].push_back(kernels::SecretBytes{'a'});
  two["layercrypt"].push_back(kernels::SecretBytes{'b'});
  auto both = service().wrap(two, span_of(kOpts), local_caller());
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("two keys"), std::string::npos);
  auto bad = service().wrap(params_for("layercrypt", "key=a b"), span_of(kOpts), local_caller());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kDataError);
}

TEST_F(KeyReleaseTest, IdentityNotAllowedNamesKeyAndIdentity) {
  const auto annotation = wrap_ok({}, local_caller());
  auto refused = service().unwrap(annotation, tls_caller("node-9"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kKeyError);
  const std::string& m = refused.status().message();
  EXPECT_NE(m.find("key a"), std::string::npos) << m;
  EXPECT_NE(m.find("cn:node-9 sha256:aaaaaaaaaaaaaaaa... "), std::string::npos) << m;
  // Printable ASCII: clients and logs replace other bytes with '?'.
  for (char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << m;
  // The decision is logged, without the options.
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.back().find("keyunwrap"), std::string::npos);
  EXPECT_NE(log_.back().find("refused"), std::string::npos);
  EXPECT_NE(log_.back().find("key=a"), std::string::npos);
  EXPECT_NE(log_.back().find("identity=\"cn:node-9 sha256:aaaaaaaaaaaaaaaa...\""),
            std::string::npos)
      << log_.back();
  for (const std::string& line : log_) EXPECT_EQ(line.find("c2VjcmV0"), std::string::npos);
  // An unverified certificate identity counts for nothing.
  Caller unverified = tls_caller("node-1");
  unverified.tls_verified = false;
  EXPECT_FALSE(service().unwrap(annotation, unverified).ok());
  // A uid other than ours.
  write_policy(R"(["uid:)" + std::to_string(::getuid() + 1) + R"("])");
  EXPECT_FALSE(service().unwrap(annotation, local_caller()).ok());
  write_policy(R"(["uid:)" + std::to_string(::getuid()) + R"("])");
  EXPECT_TRUE(service().unwrap(annotation, local_caller()).ok());
}

TEST_F(KeyReleaseTest, CertificateIdentities) {
  Caller c = tls_caller("node-7");
  EXPECT_TRUE(c.matches("cn:node-7"));
  EXPECT_TRUE(c.matches("san:node-7.example.com"));
  EXPECT_TRUE(c.matches("sha256:" + std::string(64, 'A')));
  EXPECT_TRUE(c.matches("*"));
  EXPECT_FALSE(c.matches("cn:node-8"));
  EXPECT_FALSE(c.matches("local"));
  EXPECT_FALSE(c.matches("sha256:" + std::string(64, 'b')));
  EXPECT_TRUE(
      is_valid_identity_pattern("sha256:" + std::string(32, 'a') + ":" + std::string(32, 'a')));
  EXPECT_FALSE(is_valid_identity_pattern("cn:"));
  EXPECT_FALSE(is_valid_identity_pattern("uid:x"));
  EXPECT_FALSE(is_valid_identity_pattern("node-1"));
}

TEST_F(KeyReleaseTest, PolicyReloadAddsAnIdentity) {
  const auto annotation = wrap_ok({}, local_caller());
  EXPECT_FALSE(service().unwrap(annotation, tls_caller("node-2")).ok());
  write_policy(R"(["local", "cn:node-1", "cn:node-2"])");
  auto opts = service().unwrap(annotation, tls_caller("node-2"));
  ASSERT_TRUE(opts.ok()) << opts.status().message();
  EXPECT_EQ(std::string(opts->begin(), opts->end()), kOpts);
  // And removing it takes effect as well.
  write_policy(R"(["local"])");
  EXPECT_FALSE(service().unwrap(annotation, tls_caller("node-2")).ok());
}

TEST_F(KeyReleaseTest, MalformedPolicyKeepsTheLastGoodOne) {
  const auto annotation = wrap_ok({}, local_caller());
  write_text(policy_path(),
             R"({"keys": {"a": {"kek": {"file": "a.kek"}, "release-to": ["cn:x"], "typo": 1}}})");
  auto opts = service().unwrap(annotation, local_caller());
  EXPECT_TRUE(opts.ok()) << opts.status().message();
  bool logged = false;
  for (const std::string& line : log_)
    logged = logged || (line.find("typo") != std::string::npos &&
                        line.find("keeping the policy loaded before") != std::string::npos);
  EXPECT_TRUE(logged);
}

TEST_F(KeyReleaseTest, NoGoodPolicyRefusesEverything) {
  write_text(policy_path(), "{not json");
  auto w = service().wrap({}, span_of(kOpts), local_caller());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kKeyError);
  EXPECT_NE(w.status().message().find("no usable policy"), std::string::npos);
  EXPECT_NE(w.status().message().find("policy.json"), std::string::npos);
  // Fixed: works without a restart.
  write_policy(R"(["local"])");
  EXPECT_TRUE(service().wrap({}, span_of(kOpts), local_caller()).ok());
}

TEST_F(KeyReleaseTest, PolicyErrorsNameTheMember) {
  struct Case {
    std::string json, want;
  };
  const Case cases[] = {
      {R"({"keys": {"a": {"kek": {"file": "a.kek"}}}})", "keys.a: no \"release-to\""},
      {R"({"keys": {"a": {"kek": {"file": "a.kek"}, "release-to": ["nobody"]}}})",
       "keys.a.release-to[0]"},
      {R"({"keys": {"a": {"kek": {}, "release-to": []}}})", "keys.a.kek"},
      {R"({"keys": {"a b": {"kek": {"file": "x"}, "release-to": []}}})", "not a key id"},
      {R"({"default-key": "z", "keys": {}})", "default-key"},
      {R"({"keys": {"h": {"kek": {"pkcs11": {"module": "/m.so", "token": "t", "label": "l"}}, "release-to": []}}})",
       "pin-file"},
      {R"({"keys": {}, "keys": {}})", "appears twice"},
  };
  for (const Case& c : cases) {
    auto p = parse_policy(c.json, "p.json", "/etc");
    ASSERT_FALSE(p.ok()) << c.json;
    EXPECT_EQ(p.status().code(), StatusCode::kDataError);
    EXPECT_NE(p.status().message().find(c.want), std::string::npos) << p.status().message();
    EXPECT_EQ(p.status().message().rfind("p.json: ", 0), 0u) << p.status().message();
  }
  auto ok = parse_policy(
      R"({"keys": {"h": {"kek": {"pkcs11": {"module": "/m.so", "token": "t", "id": "01aB", "pin-env": "PIN"}}, "release-to": []}}})",
      "p.json", "/etc");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->find("h")->kek.id, (std::vector<uint8_t>{0x01, 0xab}));
}

TEST_F(KeyReleaseTest, TamperedAnnotationIsRefused) {
  const auto annotation = wrap_ok({}, local_caller());
  auto blob = parse_wrapped_key(annotation);
  ASSERT_TRUE(blob.ok());
  for (size_t i = 0; i < blob->sealed.size(); i += 7) {
    WrappedKey t = *blob;
    t.sealed[i] ^= 1;
    auto r = service().unwrap(serialize_wrapped_key(t), local_caller());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kIntegrityError) << r.status().message();
  }
  WrappedKey nonce = *blob;
  nonce.nonce[0] ^= 0x80;
  EXPECT_EQ(service().unwrap(serialize_wrapped_key(nonce), local_caller()).status().code(),
            StatusCode::kIntegrityError);
  // Moved to another key id (b is released to anyone): its KEK and AAD differ.
  WrappedKey moved = *blob;
  moved.key_id = "b";
  auto r = service().unwrap(serialize_wrapped_key(moved), local_caller());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIntegrityError);
  EXPECT_NE(r.status().message().find("tampered"), std::string::npos);
  // Claims another KEK kind.
  WrappedKey kind = *blob;
  kind.kek = KekKind::kPkcs11;
  EXPECT_EQ(service().unwrap(serialize_wrapped_key(kind), local_caller()).status().code(),
            StatusCode::kKeyError);
  // A key id the policy does not have.
  WrappedKey gone = *blob;
  gone.key_id = "gone";
  auto g = service().unwrap(serialize_wrapped_key(gone), local_caller());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("no key gone"), std::string::npos);
  // Garbage.
  const std::string junk = "YmxvYg==";
  EXPECT_EQ(service().unwrap(span_of(junk), local_caller()).status().code(),
            StatusCode::kDataError);
}

TEST_F(KeyReleaseTest, ConcurrentRequests) {
  const auto annotation = wrap_ok({}, local_caller());
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (service().unwrap(annotation, local_caller()).ok()) ++good;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 200);
}

TEST(KekFile, KeygenRefusesToOverwriteAndIsPrivate) {
  TempDir dir;
  const std::string path = dir.file("k.kek");
  ASSERT_TRUE(write_new_kek_file(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 65);
  const auto before = testing::read_file(path);
  auto again = write_new_kek_file(path);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("refusing to overwrite"), std::string::npos);
  EXPECT_EQ(testing::read_file(path), before);
  // No temporary left behind.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(KekFile, Forms) {
  TempDir dir;
  KekSpec spec;
  spec.file = dir.file("k");
  const auto raw = testing::random_bytes(32, 1);
  testing::write_file(spec.file, raw);
  ::chmod(spec.file.c_str(), 0600);
  auto kek = open_kek(spec);
  ASSERT_TRUE(kek.ok()) << kek.status().message();
  // The same key as hex opens what the raw form sealed.
  const std::vector<uint8_t> nonce(12, 7), aad{1, 2};
  auto sealed = (*kek)->seal(nonce, aad, span_of(kOpts));
  ASSERT_TRUE(sealed.ok());
  std::string hex;
  for (uint8_t b : raw) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02X", b);
    hex += buf;
  }
  write_text(spec.file, hex);
  auto kek2 = open_kek(spec);
  ASSERT_TRUE(kek2.ok()) << kek2.status().message();
  auto opened = (*kek2)->open(nonce, aad, *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(std::string(opened->begin(), opened->end()), kOpts);
  EXPECT_EQ((*kek2)->open(nonce, {}, *sealed).status().code(), StatusCode::kIntegrityError);
  // Wrong forms.
  for (const std::string& bad : {std::string(31, 'a'), std::string(64, 'g'), hex + "\n\n"}) {
    write_text(spec.file, bad);
    auto k = open_kek(spec);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), StatusCode::kDataError) << k.status().message();
  }
  // Readable by others: refused with the fix.
  write_text(spec.file, hex);
  ::chmod(spec.file.c_str(), 0644);
  auto open_to_all = open_kek(spec);
  ASSERT_FALSE(open_to_all.ok());
  EXPECT_NE(open_to_all.status().message().find("chmod 600"), std::string::npos);
  spec.file = dir.file("missing");
  EXPECT_EQ(open_kek(spec).status().code(), StatusCode::kIoError);
}

TEST(ChosenKey, Forms) {
  auto one = [](const std::string& s) {
    return chosen_key({kernels::SecretBytes(s.begin(), s.end())});
  };
  EXPECT_EQ(*one("key=k1"), "k1");
  EXPECT_EQ(*one("k1"), "k1");
  EXPECT_EQ(*one("Enabled"), "");
  EXPECT_FALSE(one("key=").ok());
  EXPECT_FALSE(one("keyid=kbs:///x::algorithm=A256GCM").ok());
  EXPECT_EQ(*chosen_key({}), "");
}

}  // namespace
}  // namespace layercrypt
