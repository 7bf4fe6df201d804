// tests/engine/keyrelease/wrapped_key_test.cc: the reference provider's
// annotation format: round trip, and every way parse_wrapped_key refuses.
#include "engine/keyrelease/wrapped_key.h"

#include <gtest/gtest.h>

#include <string>

namespace layercrypt {
namespace {

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

WrappedKey sample() {
  WrappedKey k;
  k.key_id = "prod/web-1.2";
  k.kek = KekKind::kPkcs11;
  for (size_t i = 0; i < k.nonce.size(); ++i) k.nonce[i] = static_cast<uint8_t>(i);
  k.sealed.assign(40, 0xab);
  return k;
}

TEST(WrappedKey, RoundTrip) {
  const WrappedKey k = sample();
  const std::vector<uint8_t> text = serialize_wrapped_key(k);
  EXPECT_EQ(std::string(text.begin(), text.end()),
            "{\"v\":1,\"key\":\"prod/web-1.2\",\"kek\":\"pkcs11\",\"nonce\":\"AAECAwQFBgcICQoL\","
            "\"ct\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urqw==\"}");
  auto back = parse_wrapped_key(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->key_id, k.key_id);
  EXPECT_EQ(back->kek, k.kek);
  EXPECT_EQ(back->nonce, k.nonce);
  EXPECT_EQ(back->sealed, k.sealed);
}

TEST(WrappedKey, MembersInAnyOrder) {
  auto k = parse_wrapped_key(bytes(
      R"({"ct":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"AAECAwQFBgcICQoL","kek":"file","key":"a","v":1})"));
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->kek, KekKind::kFile);
  EXPECT_EQ(k->sealed.size(), 16u);
}

TEST(WrappedKey, AadBindsKeyAndKind) {
  EXPECT_NE(wrapped_key_aad("a", KekKind::kFile), wrapped_key_aad("a", KekKind::kPkcs11));
  EXPECT_NE(wrapped_key_aad("a", KekKind::kFile), wrapped_key_aad("b", KekKind::kFile));
  const auto aad = wrapped_key_aad("k1", KekKind::kFile);
  EXPECT_EQ(std::string(aad.begin(), aad.end()),
            std::string("layercrypt-keyprovider/v1\0file\0k1", 33));
}

struct BadCase {
  const char* text;
  StatusCode code;
};

class WrappedKeyRefuses : public ::testing::TestWithParam<BadCase> {};

TEST_P(WrappedKeyRefuses, OneLineError) {
  auto k = parse_wrapped_key(bytes(GetParam().text));
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), GetParam().code) << k.status().message();
  EXPECT_EQ(k.status().message().find('\n'), std::string::npos);
}

constexpr const char* kNonce = R"("nonce":"AAECAwQFBgcICQoL")";
constexpr const char* kCt = R"("ct":"AAAAAAAAAAAAAAAAAAAAAA==")";

std::string obj(const std::string& members) { return "{" + members + "}"; }

const std::string kCases[] = {
    "",
    "null",
    "[]",
    "{}",
    obj(std::string(R"("v":1,"key":"a","kek":"file",)") + kNonce),
    obj(std::string(R"("v":1,"key":"a","kek":"file",)") + kNonce + "," + kCt + R"(,"x":1)"),
    obj(std::string(R"("v":1,"v":1,"key":"a","kek":"file",)") + kNonce + "," + kCt),
    obj(std::string(R"("V":1,"key":"a","kek":"file",)") + kNonce + "," + kCt),
    obj(std::string(R"("v":"1","key":"a","kek":"file",)") + kNonce + "," + kCt),
    obj(std::string(R"("v":1.0,"key":"a","kek":"file",)") + kNonce + "," + kCt),
    obj(std::string(R"("v":1,"key":"","kek":"file",)") + kNonce + "," + kCt),
    obj(std::string(R"("v":1,"key":"-a","kek":"file",)") + kNonce + "," + kCt),
    obj(std::string(R"("v":1,"key":"a b","kek":"file",)") + kNonce + "," + kCt),
    obj(std::string(R"("v":1,"key":"a","kek":"FILE",)") + kNonce + "," + kCt),
    obj(std::string(R"("v":1,"key":"a","kek":"file","nonce":"AAECAwQFBgcICQ==",)") + kCt),
    obj(std::string(R"("v":1,"key":"a","kek":"file","nonce":"AAECAwQFBgcICQoL\n",)") + kCt),
    obj(std::string(R"("v":1,"key":"a","kek":"file","nonce":[0,1,2,3,4,5,6,7,8,9,10,11],)") + kCt),
    obj(std::string(R"("v":1,"key":"a","kek":"file",)") + kNonce + R"(,"ct":"AAAA")"),
    obj(std::string(R"("v":1,"key":"a","kek":"file",)") + kNonce +
        R"(,"ct":"AAAAAAAAAAAAAAAAAAAAAA")"),
    obj(std::string(R"("v":1,"key":"a","kek":"file",)") + kNonce + "," + kCt) + " x",
};

std::vector<BadCase> bad_cases() {
  std::vector<BadCase> out;
  for (const std::string& c : kCases) out.push_back({c.c_str(), StatusCode::kDataError});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Malformed, WrappedKeyRefuses, ::testing::ValuesIn(bad_cases()));

TEST(WrappedKey, OtherVersionIsUnsupported) {
  const std::string text =
      obj(std::string(R"("v":2,"key":"a","kek":"file",)") + kNonce + "," + kCt);
  auto k = parse_wrapped_key(bytes(text));
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(k.status().message().find("version 2"), std::string::npos);
}

TEST(WrappedKey, Oversize) {
  std::string text(kMaxWrappedKeySize + 1, ' ');
  auto k = parse_wrapped_key(bytes(text));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.status().message().find("more than"), std::string::npos);
}

TEST(WrappedKey, KeyIdGrammar) {
  EXPECT_TRUE(is_valid_key_id("a"));
  EXPECT_TRUE(is_valid_key_id("Prod-2026_01.x:y@z/w+v"));
  EXPECT_FALSE(is_valid_key_id(""));
  EXPECT_FALSE(is_valid_key_id(".a"));
  EXPECT_FALSE(is_valid_key_id("a\"b"));
  EXPECT_FALSE(is_valid_key_id(std::string(kMaxKeyIdLen + 1, 'a')));
  EXPECT_TRUE(is_valid_key_id(std::string(kMaxKeyIdLen, 'a')));
}

}  // namespace
}  // namespace layercrypt
