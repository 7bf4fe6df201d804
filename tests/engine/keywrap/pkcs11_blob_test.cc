// tests/engine/keywrap/pkcs11_blob_test.cc: the pkcs11 blob JSON
// (engine/keywrap/pkcs11/pkcs11_blob.h): Go's bytes, Go's leniency where
// interop needs it, strictness elsewhere, OCICRYPT_OAEP_HASHALG.
#include "engine/keywrap/pkcs11/pkcs11_blob.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

namespace layercrypt {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Pkcs11BlobTest, WritesWhatGoWrites) {
  std::vector<Pkcs11BlobRecipient> r(2);
  r[0].ciphertext = {0xfb, 0xff, 0x01};
  r[0].hash = OaepHash::kSha256;
  r[1].ciphertext = {0x00};
  r[1].hash = OaepHash::kSha1;
  const auto json = write_pkcs11_blob(r);
  EXPECT_EQ(std::string(json.begin(), json.end()),
            "{\"version\":0,\"recipients\":[{\"version\":0,\"blob\":\"+/8B\",\"hash\":\"sha256\"},"
            "{\"version\":0,\"blob\":\"AA==\",\"hash\":\"sha1\"}]}");
  auto back = parse_pkcs11_blob(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].ciphertext, r[0].ciphertext);
  EXPECT_EQ((*back)[1].hash, OaepHash::kSha1);
}

TEST(Pkcs11BlobTest, ReadsAsGoReads) {
  // An empty or absent hash is sha1 (older writers); names fold; unknown
  // members are ignored.
  auto b =
      parse_pkcs11_blob(bytes("{\"Version\":0,\"RECIPIENTS\":[{\"blob\":\"AQI=\",\"x\":1},"
                              "{\"version\":0,\"Blob\":\"AQI=\",\"hash\":\"\"}],\"more\":[]}"));
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ((*b)[0].hash, OaepHash::kSha1);
  EXPECT_FALSE((*b)[0].hash_written);
  EXPECT_EQ((*b)[1].ciphertext, (std::vector<uint8_t>{1, 2}));
}

TEST(Pkcs11BlobTest, RejectsMalformedAndUnsupportedBlobs) {
  struct Case {
    const char* json;
    StatusCode code;
  };
  for (const Case& c : {
           Case{"", StatusCode::kDataError},
           Case{"[]", StatusCode::kDataError},
           Case{"{\"version\":0}", StatusCode::kDataError},
           Case{"{\"version\":0,\"recipients\":[]}", StatusCode::kDataError},
           Case{"{\"version\":0,\"recipients\":{}}", StatusCode::kDataError},
           Case{"{\"version\":\"0\",\"recipients\":[{\"blob\":\"AQI=\"}]}", StatusCode::kDataError},
           Case{"{\"version\":-1,\"recipients\":[{\"blob\":\"AQI=\"}]}", StatusCode::kDataError},
           Case{"{\"version\":1,\"recipients\":[{\"blob\":\"AQI=\"}]}", StatusCode::kUnsupported},
           Case{"{\"recipients\":[{\"version\":2,\"blob\":\"AQI=\"}]}", StatusCode::kUnsupported},
           Case{"{\"recipients\":[{\"blob\":\"AQI=\",\"hash\":\"md5\"}]}",
                StatusCode::kUnsupported},
           Case{"{\"recipients\":[{\"blob\":\"not base64\"}]}", StatusCode::kDataError},
           Case{"{\"recipients\":[{\"blob\":\"\"}]}", StatusCode::kDataError},
           Case{"{\"recipients\":[{\"hash\":\"sha1\"}]}", StatusCode::kDataError},
           Case{"{\"recipients\":[{\"blob\":1}]}", StatusCode::kDataError},
           Case{"{\"recipients\":[7]}", StatusCode::kDataError},
           Case{"{\"recipients\":[{\"blob\":\"AQI=\"}]", StatusCode::kDataError},
       }) {
    auto b = parse_pkcs11_blob(bytes(c.json));
    ASSERT_FALSE(b.ok()) << c.json;
    EXPECT_EQ(b.status().code(), c.code) << c.json << ": " << b.status().message();
    EXPECT_EQ(b.status().message().find('\n'), std::string::npos);
  }
}

TEST(Pkcs11BlobTest, HashFromTheEnvironment) {
  ::unsetenv("OCICRYPT_OAEP_HASHALG");
  EXPECT_EQ(oaep_hash_from_env().value(), OaepHash::kSha256);
  ::setenv("OCICRYPT_OAEP_HASHALG", "sha1", 1);
  EXPECT_EQ(oaep_hash_from_env().value(), OaepHash::kSha1);
  ::setenv("OCICRYPT_OAEP_HASHALG", "sha256", 1);
  EXPECT_EQ(oaep_hash_from_env().value(), OaepHash::kSha256);
  ::setenv("OCICRYPT_OAEP_HASHALG", "sha512", 1);
  EXPECT_EQ(oaep_hash_from_env().status().code(), StatusCode::kInvalidArgument);
  ::unsetenv("OCICRYPT_OAEP_HASHALG");
}

}  // namespace
}  // namespace layercrypt
