// tests/engine/keyrelease/pkcs11_kek_test.cc: PKCS#11 KEKs on a SoftHSM2
// token made for the test in a temporary directory (SOFTHSM2_CONF, then
// `softhsm2-util --init-token --free`): the key is created inside the
// token and cannot leave it, wrap/unwrap round trips, wrong PIN, tampering.
// Skipped when SoftHSM2 is not installed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "engine/keyrelease/kek.h"
#include "engine/keyrelease/key_release.h"
#include "engine/keyrelease/wrapped_key.h"
#include "kernels/pkcs11.h"
#include "tests/support/softhsm.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

constexpr const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";
constexpr const char* kToken = "layercrypt-test";
constexpr const char* kPin = "5678";

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

class Pkcs11KekTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_softhsm())
      GTEST_SKIP() << "SoftHSM2 is not installed (apt-get install softhsm2)";
    ASSERT_NE(testing::make_softhsm_token(dir_, kToken, kPin), "");
    write_text(dir_.file("pin"), std::string(kPin) + "\n");
    spec_.kind = KekKind::kPkcs11;
    spec_.module = kModule;
    spec_.token = kToken;
    spec_.label = "kek-1";
    spec_.id = {0x01, 0x02};
    spec_.pin_file = dir_.file("pin");
    ASSERT_TRUE(create_pkcs11_kek(spec_).ok());
  }

  testing::TempDir dir_;
  KekSpec spec_;
};

TEST_F(Pkcs11KekTest, KeyNeverLeavesTheToken) {
  std::string error;
  auto session = kernels::Pkcs11Session::open(kModule, kToken, false, &error);
  ASSERT_TRUE(session) << error;
  ASSERT_TRUE(session->login({reinterpret_cast<const uint8_t*>(kPin), 4}, &error)) << error;
  uint64_t key = 0;
  ASSERT_TRUE(session->find_secret_key("kek-1", {}, &key, &error)) << error;
  kernels::Pkcs11KeyInfo info;
  ASSERT_TRUE(session->key_info(key, &info, &error)) << error;
  EXPECT_TRUE(info.is_aes);
  EXPECT_EQ(info.value_len, 32u);
  EXPECT_TRUE(info.sensitive);
  EXPECT_FALSE(info.extractable);
  EXPECT_TRUE(info.on_token);
  // By id as well; and a second key with the same label is refused.
  const uint8_t id[] = {0x01, 0x02};
  uint64_t by_id = 0;
  ASSERT_TRUE(session->find_secret_key({}, id, &by_id, &error)) << error;
  EXPECT_EQ(by_id, key);
  Status again = create_pkcs11_kek(spec_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), StatusCode::kKeyError);
  EXPECT_NE(again.message().find("exists"), std::string::npos);
}

TEST_F(Pkcs11KekTest, SealOpenInTheToken) {
  auto kek = open_kek(spec_);
  ASSERT_TRUE(kek.ok()) << kek.status().message();
  EXPECT_EQ((*kek)->kind(), KekKind::kPkcs11);
  const std::vector<uint8_t> nonce(12, 3), aad{'a', 'b'}, plain{'s', 'e', 'c', 'r', 'e', 't'};
  auto sealed = (*kek)->seal(nonce, aad, plain);
  ASSERT_TRUE(sealed.ok()) << sealed.status().message();
  EXPECT_EQ(sealed->size(), plain.size() + 16);
  auto opened = (*kek)->open(nonce, aad, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(std::vector<uint8_t>(opened->begin(), opened->end()), plain);
  std::vector<uint8_t> tampered = *sealed;
  tampered[0] ^= 1;
  auto bad = (*kek)->open(nonce, aad, tampered);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kIntegrityError) << bad.status().message();
  // The session survives a failed open.
  EXPECT_TRUE((*kek)->open(nonce, aad, *sealed).ok());
}

TEST_F(Pkcs11KekTest, WrongPinIsAClearError) {
  write_text(dir_.file("pin"), "0000\n");
  auto kek = open_kek(spec_);
  ASSERT_FALSE(kek.ok());
  EXPECT_EQ(kek.status().code(), StatusCode::kKeyError);
  const std::string& m = kek.status().message();
  EXPECT_NE(m.find("CKR_PIN_INCORRECT"), std::string::npos) << m;
  EXPECT_NE(m.find(dir_.file("pin")), std::string::npos) << m;
  EXPECT_EQ(m.find("0000"), std::string::npos) << m;
  // From the environment.
  spec_.pin_file.clear();
  spec_.pin_env = "LAYERCRYPT_TEST_PIN";
  ::unsetenv("LAYERCRYPT_TEST_PIN");
  EXPECT_EQ(open_kek(spec_).status().code(), StatusCode::kKeyError);
  ::setenv("LAYERCRYPT_TEST_PIN", kPin, 1);
  EXPECT_TRUE(open_kek(spec_).ok());
}

TEST_F(Pkcs11KekTest, NoSuchTokenOrKey) {
  KekSpec s = spec_;
  s.token = "other";
  auto no_token = open_kek(s);
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.status().message().find("no token labelled \"other\""), std::string::npos);
  s = spec_;
  s.label = "nope";
  s.id.clear();
  auto no_key = open_kek(s);
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.status().code(), StatusCode::kKeyError);
  s = spec_;
  s.module = dir_.file("missing.so");
  EXPECT_EQ(open_kek(s).status().code(), StatusCode::kIoError);
}

TEST_F(Pkcs11KekTest, ServiceRoundTrip) {
  write_text(
      dir_.file("policy.json"),
      std::string(R"({"default-key": "hsm", "keys": {"hsm": {"kek": {"pkcs11": {"module": ")") +
          kModule + R"(", "token": ")" + kToken +
          R"(", "label": "kek-1", "pin-file": "pin"}}, "release-to": ["local"]}}})");
  KeyReleaseOptions o;
  o.policy_path = dir_.file("policy.json");
  KeyRelease service(o);
  Caller local;
  local.transport = "cmd";
  local.local = true;
  const std::string opts = R"({"symkey":"AAAA","digest":"sha256:00","cipheroptions":{}})";
  auto annotation =
      service.wrap({}, {reinterpret_cast<const uint8_t*>(opts.data()), opts.size()}, local);
  ASSERT_TRUE(annotation.ok()) << annotation.status().message();
  auto blob = parse_wrapped_key(*annotation);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->kek, KekKind::kPkcs11);
  auto back = service.unwrap(*annotation, local);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(std::string(back->begin(), back->end()), opts);
  Caller stranger;
  stranger.transport = "grpc";
  EXPECT_EQ(service.unwrap(*annotation, stranger).status().code(), StatusCode::kKeyError);
}

}  // namespace
}  // namespace layercrypt
