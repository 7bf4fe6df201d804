// tests/engine/keywrap/key_wrapper_test.cc: the scheme registry and each
// wrapper's contract, with the Go-made test keys.
#include "engine/keywrap/key_wrapper.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

std::string key_path(const std::string& name) {
  return testing::ocicrypt_vectors_dir() + "keys/" + name;
}

PreparedKeys keys_from(const std::vector<std::string>& privs,
                       const std::vector<std::string>& certs) {
  DecryptKeys raw;
  for (const auto& p : privs) {
    const auto b = testing::read_file(key_path(p));
    raw.private_keys.emplace_back(b.begin(), b.end());
  }
  for (const auto& c : certs) raw.certificates.push_back(testing::read_file(key_path(c)));
  return prepare_decrypt_keys(raw).value();
}

TEST(KeyWrapper, FixedOrderAndLookup) {
  std::vector<std::string> names;
  for (const KeyWrapper* w : key_wrappers()) names.emplace_back(w->scheme());
  std::vector<std::string> expect = {"jwe", "pkcs7"};
  if (LAYERCRYPT_WITH_PKCS11) {
    expect.push_back("pkcs11");
    EXPECT_EQ(find_key_wrapper("pkcs11"), key_wrappers()[2]);
  }
  if (LAYERCRYPT_WITH_PGP) {
    expect.push_back("pgp");
    EXPECT_EQ(find_key_wrapper("pgp"), key_wrappers().back());
  } else {
    EXPECT_EQ(find_key_wrapper("pgp"), nullptr);
  }
  EXPECT_EQ(names, expect);
  EXPECT_EQ(find_key_wrapper("pkcs7"), key_wrappers()[1]);
  EXPECT_EQ(find_key_wrapper("openpgp"), nullptr);
  EXPECT_EQ(find_key_wrapper("provider.kms"), nullptr);
}

TEST(KeyWrapper, EachSchemeWrapsUnwrapsListsAndRemoves) {
  Recipients r;
  ASSERT_TRUE(add_recipient("jwe:" + key_path("rsa2048.pub.pem"), &r).ok());
  ASSERT_TRUE(add_recipient("jwe:" + key_path("ecp256.pub.pem"), &r).ok());
  ASSERT_TRUE(add_recipient("pkcs7:" + key_path("pkcs7.cert.pem"), &r).ok());
  const std::string opts = R"({"symkey":"AAAA","digest":"sha256:00","cipheroptions":{}})";
  const std::span<const uint8_t> plain(reinterpret_cast<const uint8_t*>(opts.data()), opts.size());
  struct Case {
    const char* scheme;
    size_t count;
    PreparedKeys opener;
  };
  std::vector<Case> cases;
  cases.push_back({"jwe", 2, keys_from({"ecp256.pem"}, {})});
  cases.push_back({"pkcs7", 1, keys_from({"pkcs7.key.pem"}, {"pkcs7.cert.pem"})});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scheme);
    const KeyWrapper* w = find_key_wrapper(c.scheme);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->recipient_count(r), c.count);
    auto blob = w->wrap(plain, r);
    ASSERT_TRUE(blob.ok()) << blob.status().message();
    EXPECT_EQ(w->missing_keys(c.opener), "");
    auto back = w->unwrap(*blob, c.opener);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(std::string(back->begin(), back->end()), opts);
    EXPECT_NE(w->missing_keys(PreparedKeys{}), "");
    EXPECT_EQ(w->unwrap(*blob, keys_from({"ecp384.pem"}, {"pkcs7.cert.pem"})).status().code(),
              StatusCode::kKeyError);
    auto d = w->describe(*blob);
    ASSERT_TRUE(d.ok());
    EXPECT_NE(d->find(std::to_string(c.count) + " recipient"), std::string::npos) << *d;
    auto who = w->recipients(*blob);
    ASSERT_TRUE(who.ok());
    ASSERT_EQ(who->size(), c.count);
    auto ids = w->recipient_ids(r);
    ASSERT_TRUE(ids.ok());
    ASSERT_EQ(ids->size(), c.count);
    for (const auto& id : *ids) EXPECT_EQ(id.rfind(std::string(c.scheme) + ":", 0), 0u) << id;
    // Taking the last recipient off keeps the others opening it; all off is nothing.
    auto fewer = w->remove(*blob, {c.count - 1});
    ASSERT_TRUE(fewer.ok());
    if (c.count == 1) {
      EXPECT_FALSE(fewer->has_value());
    } else {
      ASSERT_TRUE(fewer->has_value());
      EXPECT_EQ(w->recipients(**fewer)->size(), c.count - 1);
      EXPECT_EQ(w->unwrap(**fewer, keys_from({"rsa2048.pem"}, {})).status().code(),
                StatusCode::kOk);
      EXPECT_EQ(w->unwrap(**fewer, c.opener).status().code(), StatusCode::kKeyError);
    }
    EXPECT_EQ(w->describe(std::vector<uint8_t>{1, 2, 3}).status().code(), StatusCode::kDataError);
  }
}

}  // namespace
}  // namespace layercrypt
