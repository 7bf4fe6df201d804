// Tests for engine/core/base64.h: Go StdEncoding and go-jose base64url semantics.
#include "engine/core/base64.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace layercrypt {
namespace {

std::vector<uint8_t> B(std::string_view s) { return {s.begin(), s.end()}; }
std::string S(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }
std::string S(const kernels::SecretBytes& v) { return {v.begin(), v.end()}; }

struct Rfc4648 {
  const char* plain;
  const char* std;
  const char* url;
};
constexpr Rfc4648 kRfc[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

TEST(Base64, Rfc4648Vectors) {
  for (const auto& v : kRfc) {
    EXPECT_EQ(base64_encode(B(v.plain)), v.std);
    EXPECT_EQ(S(base64_encode_secret(B(v.plain))), v.std);
    EXPECT_EQ(base64url_encode(B(v.plain)), v.url);
    auto d = base64_decode(v.std);
    ASSERT_TRUE(d.ok()) << v.std << ": " << d.status().message();
    EXPECT_EQ(S(*d), v.plain);
    auto ds = base64_decode_secret(v.std);
    ASSERT_TRUE(ds.ok());
    EXPECT_EQ(S(*ds), v.plain);
    auto u = base64url_decode(v.url);
    ASSERT_TRUE(u.ok()) << v.url;
    EXPECT_EQ(S(*u), v.plain);
    auto us = base64url_decode_secret(v.url);
    ASSERT_TRUE(us.ok());
    EXPECT_EQ(S(*us), v.plain);
  }
}

TEST(Base64, OcicryptHmacVector) {
  // spec §1.5 row 1: the pubopts "hmac" member.
  const std::vector<uint8_t> mac = {0xbc, 0x40, 0x4a, 0xb2, 0x8e, 0x14, 0x96, 0x2f,
                                    0x4b, 0x82, 0xf3, 0xba, 0x62, 0x8d, 0xb2, 0xf3,
                                    0x24, 0x12, 0xfc, 0x6c, 0x8c, 0xa3, 0x30, 0x4b,
                                    0x2e, 0xf9, 0xc5, 0x6e, 0x8d, 0x90, 0x4b, 0x40};
  EXPECT_EQ(base64_encode(mac), "vEBKso4Uli9LgvO6Yo2y8yQS/GyMozBLLvnFbo2QS0A=");
  auto d = base64_decode("vEBKso4Uli9LgvO6Yo2y8yQS/GyMozBLLvnFbo2QS0A=");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, mac);
}

TEST(Base64, RoundTripAllLengthsAndBytes) {
  std::mt19937 rng(12345);
  for (size_t len = 0; len < 300; ++len) {
    std::vector<uint8_t> data(len);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const std::string s = base64_encode(data);
    EXPECT_EQ(s.size(), 4 * ((len + 2) / 3));
    auto d = base64_decode(s);
    ASSERT_TRUE(d.ok()) << len;
    EXPECT_EQ(*d, data) << len;
    const std::string u = base64url_encode(data);
    EXPECT_EQ(u.find_first_of("+/="), std::string::npos);
    auto du = base64url_decode(u);
    ASSERT_TRUE(du.ok()) << len;
    EXPECT_EQ(*du, data) << len;
  }
}

TEST(Base64, LargeInputCrossesChunks) {
  std::vector<uint8_t> data((size_t{3} << 20) * 2 + 7);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  const std::string s = base64_encode(data);
  auto d = base64_decode(s);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, data);
}

TEST(Base64, StdIgnoresNewlinesLikeGo) {
  for (const char* in :
       {"Zm9v\nYmFy", "Zm9v\r\nYmFy\r\n", "\nZm9vYmFy", "Zm9vYg=\n=", "Zm9vYg==\n", "Z\rm\n9\nv"}) {
    auto d = base64_decode(in);
    ASSERT_TRUE(d.ok()) << in << ": " << d.status().message();
  }
  EXPECT_EQ(S(*base64_decode("Zm9v\nYmFy")), "foobar");
  EXPECT_EQ(S(*base64_decode("Zm9vYg=\n=")), "foob");
  EXPECT_EQ(S(*base64_decode("Z\rm\n9\nv")), "foo");
  EXPECT_TRUE(base64_decode("\r\n").ok());
}

TEST(Base64, StdRejectsWhatGoRejects) {
  const char* bad[] = {
      "Zm9vYg",        // unpadded
      "Zm9vYg=",       // half padded
      "Zm9vYmE",       // unpadded
      "Zm=vYg==",      // '=' in the middle (OpenSSL would decode it as zero bits)
      "Zm9v=mFy",      // '=' in the middle
      "Zm9vYg==Zm9v",  // data after padding
      "Zm9vYg===",     // too much padding
      "Z===",          // 1 data char
      "====",          // only padding
      "=",             //
      " Zm9v",         // leading space (OpenSSL skips it, Go does not)
      "Zm9v ",         // trailing space
      "Zm9v\t",        // tab
      "Zm9-",          // base64url char
      "Zm9_",          //
      "Zm9v!",         // junk
      "Zm9vYmFy\x80",  // non-ASCII
      "Zm9vYg==\n=",   // padding after newline after complete padding
  };
  for (const char* in : bad) {
    auto d = base64_decode(in);
    EXPECT_FALSE(d.ok()) << "accepted: " << in;
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), StatusCode::kDataError);
    }
    EXPECT_FALSE(base64_decode_secret(in).ok()) << in;
  }
  // Embedded NUL.
  EXPECT_FALSE(base64_decode(std::string_view("Zm9v\0AAA", 8)).ok());
  auto unpadded = base64_decode("Zm9vYg");
  EXPECT_NE(unpadded.status().message().find("padding"), std::string::npos)
      << unpadded.status().message();
}

TEST(Base64, StdAcceptsNonCanonicalTrailingBitsLikeGo) {
  // StdEncoding is not Strict: "QR==" has non-zero unused bits and decodes to "A".
  auto a = base64_decode("QR==");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(S(*a), "A");
  auto ab = base64_decode("QUJ=");
  ASSERT_TRUE(ab.ok());
  EXPECT_EQ(S(*ab), "AB");
}

TEST(Base64, UrlDecodeLikeGoJose) {
  const std::vector<uint8_t> fbff = {0xfb, 0xff};
  EXPECT_EQ(base64url_encode(fbff), "-_8");
  for (const char* in : {"-_8", "-_8=", "-_8==", "-_8===", "-\n_8"}) {
    auto d = base64url_decode(in);
    ASSERT_TRUE(d.ok()) << in << ": " << d.status().message();
    EXPECT_EQ(*d, fbff);
  }
  const char* bad[] = {"+/8", "-_8=\n", "A", "AAAAA", "A=B", "-_ 8", "-_8=A", "Zm9v!"};
  for (const char* in : bad) {
    auto d = base64url_decode(in);
    EXPECT_FALSE(d.ok()) << "accepted: " << in;
    EXPECT_FALSE(base64url_decode_secret(in).ok()) << in;
  }
  EXPECT_TRUE(base64url_decode("").ok());
  EXPECT_TRUE(base64url_decode("==").ok());  // trims to empty, as go-jose does
}

TEST(Base64, ErrorMessagesDoNotEchoInput) {
  auto d = base64_decode("c2VjcmV0a2V5bWF0ZXJpYWw!");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message().find("c2VjcmV0"), std::string::npos);
  EXPECT_NE(d.status().message().find("23"), std::string::npos) << d.status().message();
}

}  // namespace
}  // namespace layercrypt
