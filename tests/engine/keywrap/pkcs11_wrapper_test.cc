// tests/engine/keywrap/pkcs11_wrapper_test.cc: the `pkcs11` scheme
// (engine/keywrap/pkcs11/pkcs11_wrapper.h) with an RSA key pair generated
// inside a SoftHSM2 token made for the test (SOFTHSM2_CONF in a temporary
// directory, `softhsm2-util --init-token --free`): wrap to the token's key
// (its public key read from the token), unwrap inside the token, through
// the key search as a layer's annotations; wrong PIN, missing token and
// key, a module outside the policy, Go's empty hash, every recipient x key
// tried. SoftHSM 2.6 does RSA-OAEP with SHA-1 only, so token tests set
// OCICRYPT_OAEP_HASHALG=sha1; SHA-256 is checked against a software key,
// opened with OpenSSL. Skipped when SoftHSM2 is not installed.
#include "engine/keywrap/pkcs11/pkcs11_wrapper.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "engine/core/base64.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/keygen.h"
#include "engine/keywrap/pkcs11/pkcs11_blob.h"
#include "engine/keywrap/recipient_list.h"
#include "engine/keywrap/recipients.h"
#include "engine/ocicrypt/annotations.h"
#include "kernels/openssl_ptr.h"
#include "kernels/pkcs11.h"
#include "tests/support/softhsm.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

constexpr const char* kModule = testing::kSoftHsmModule;
constexpr const char* kToken = "lc-pkcs11-scheme";
constexpr const char* kPin = "48151623";

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const std::string kPrivJson =
    "{\"symkey\":\"n1AkS4Y9dNkhpL1wQFmEtHSJWh0Gh5Jl0+A0Rcux0Ek=\",\"digest\":\"sha256:"
    "8a1e5d0a5a41e9d8e2b43d2c2b0b4f5d3e8a0d5c4b3a2f1e0d9c8b7a6f5e4d3c\","
    "\"cipheroptions\":{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw==\"}}";

class Pkcs11WrapperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_softhsm())
      GTEST_SKIP() << "SoftHSM2 is not installed (apt-get install softhsm2)";
    conf_ = testing::make_softhsm_token(dir_, kToken, kPin);
    ASSERT_NE(conf_, "");
    std::string error;
    auto session = kernels::Pkcs11Session::open(kModule, kToken, true, &error);
    ASSERT_TRUE(session) << error;
    ASSERT_TRUE(session->login(bytes(kPin), &error)) << error;
    uint64_t pub = 0, priv = 0;
    const uint8_t id1[] = {0x01}, id2[] = {0x02};
    ASSERT_TRUE(session->generate_rsa_key_pair("key1", id1, 2048, &pub, &priv, &error)) << error;
    ASSERT_TRUE(session->generate_rsa_key_pair("key2", id2, 2048, &pub, &priv, &error)) << error;
    session.reset();
    policy_ = dir_.file("ocicrypt.conf");
    write_text(policy_,
               "pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n"
               "  allowed-module-paths: [/usr/lib/softhsm/libsofthsm2.so]\n");
    ::setenv("OCICRYPT_CONFIG", policy_.c_str(), 1);
    ::setenv("OCICRYPT_OAEP_HASHALG", "sha1", 1);
  }
  void TearDown() override {
    ::unsetenv("OCICRYPT_CONFIG");
    ::unsetenv("OCICRYPT_OAEP_HASHALG");
  }

  // key_yaml writes a key YAML for `uri_tail` (after "pkcs11:") and returns its path.
  std::string key_yaml(const std::string& name, const std::string& uri_tail) {
    const std::string path = dir_.file(name);
    write_text(path, "pkcs11:\n  uri: pkcs11:" + uri_tail +
                         "\nmodule:\n  env:\n    SOFTHSM2_CONF: " + conf_ + "\n");
    return path;
  }
  std::string token_key(const std::string& object, const std::string& pin = kPin) {
    return "token=" + std::string(kToken) + ";object=" + object + "?pin-value=" + pin +
           "&module-name=softhsm2";
  }

  PreparedKeys prepared(const std::vector<std::string>& yamls) {
    DecryptKeys keys;
    for (const auto& y : yamls) {
      const auto data = testing::read_file(y);
      keys.pkcs11_yamls.emplace_back(data.begin(), data.end());
      keys.pkcs11_yaml_names.push_back(y);
    }
    auto p = prepare_decrypt_keys(keys);
    EXPECT_TRUE(p.ok()) << p.status().message();
    return std::move(p).value();
  }

  std::vector<uint8_t> wrap_for(const std::vector<std::string>& specs) {
    Recipients r;
    for (const auto& s : specs) {
      Status st = add_recipient(s, &r);
      EXPECT_TRUE(st.ok()) << st.message();
    }
    auto blob = pkcs11_key_wrapper().wrap(bytes(kPrivJson), r);
    EXPECT_TRUE(blob.ok()) << blob.status().message();
    return blob.ok() ? *blob : std::vector<uint8_t>{};
  }

  testing::TempDir dir_;
  std::string conf_, policy_;
};

std::string str(const kernels::SecretBytes& b) { return std::string(b.begin(), b.end()); }

TEST_F(Pkcs11WrapperTest, WrapsToTheTokenKeyAndUnwrapsInsideTheToken) {
  const std::string yaml = key_yaml("key1.yaml", token_key("key1"));
  const auto blob = wrap_for({"pkcs11:" + yaml});
  auto parsed = parse_pkcs11_blob(blob);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].hash, OaepHash::kSha1);
  EXPECT_EQ((*parsed)[0].ciphertext.size(), 256u);

  const PreparedKeys keys = prepared({yaml});
  EXPECT_EQ(pkcs11_key_wrapper().missing_keys(keys), "");
  auto plain = pkcs11_key_wrapper().unwrap(blob, keys);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(str(*plain), kPrivJson);

  // The same through the key search, as a layer's annotation.
  Annotations a{{keys_annotation("pkcs11"), base64_encode(blob)}};
  auto via_search = unwrap_layer_key(a, keys);
  ASSERT_TRUE(via_search.ok()) << via_search.status().message();
  EXPECT_EQ(str(*via_search), kPrivJson);

  // layerinfo's view.
  EXPECT_EQ(pkcs11_key_wrapper().describe(blob).value(), "pkcs11 blob, 1 recipient (RSA-OAEP)");
  auto rs = pkcs11_key_wrapper().recipients(blob);
  ASSERT_TRUE(rs.ok());
  ASSERT_EQ(rs->size(), 1u);
  EXPECT_EQ((*rs)[0].alg, "RSA-OAEP");
  EXPECT_FALSE((*rs)[0].entry_digest.empty());
}

TEST_F(Pkcs11WrapperTest, TriesEveryRecipientAndEveryKey) {
  const std::string y1 = key_yaml("key1.yaml", token_key("key1"));
  const std::string y2 = key_yaml("key2.yaml", token_key("key2"));
  // Wrapped for key2 only; key1 is tried first and opens nothing.
  const auto for_key2 = wrap_for({"pkcs11:" + y2});
  auto plain = pkcs11_key_wrapper().unwrap(for_key2, prepared({y1, y2}));
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(str(*plain), kPrivJson);
  // Two recipients; key2 opens the second.
  const auto both = wrap_for({"pkcs11:" + y1, "pkcs11:" + y2});
  EXPECT_EQ(parse_pkcs11_blob(both).value().size(), 2u);
  plain = pkcs11_key_wrapper().unwrap(both, prepared({y2}));
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  // Only key1 for a blob of key2: a one-line key error naming the key.
  auto none = pkcs11_key_wrapper().unwrap(for_key2, prepared({y1}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kKeyError);
  EXPECT_NE(none.status().message().find("opens none of the blob's 1 recipients"),
            std::string::npos)
      << none.status().message();
  // Removing a recipient keeps the other as it was.
  auto kept = pkcs11_key_wrapper().remove(both, {0});
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ(parse_pkcs11_blob(**kept).value()[0].ciphertext,
            parse_pkcs11_blob(both).value()[1].ciphertext);
  EXPECT_FALSE(pkcs11_key_wrapper().remove(both, {0, 1}).value().has_value());
}

TEST_F(Pkcs11WrapperTest, AnEmptyHashIsSha1AsOlderWritersLeftIt) {
  const std::string yaml = key_yaml("key1.yaml", token_key("key1"));
  const auto blob = wrap_for({"pkcs11:" + yaml});
  const auto ct = parse_pkcs11_blob(blob).value()[0].ciphertext;
  const std::string old =
      "{\"version\":0,\"recipients\":[{\"version\":0,\"blob\":\"" + base64_encode(ct) + "\"}]}";
  auto plain = pkcs11_key_wrapper().unwrap(bytes(old), prepared({yaml}));
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(str(*plain), kPrivJson);
}

TEST_F(Pkcs11WrapperTest, ErrorsNameTheCauseAndNeverThePin) {
  const std::string good = key_yaml("key1.yaml", token_key("key1"));
  const auto blob = wrap_for({"pkcs11:" + good});
  struct Case {
    std::string uri_tail, expect;
  };
  for (const Case& c : {
           Case{token_key("key1", "99999999"), "CKR_PIN_INCORRECT"},
           Case{token_key("missing"), "no private key labelled \"missing\""},
           Case{"token=nosuchtoken;object=key1?pin-value=" + std::string(kPin) +
                    "&module-name=softhsm2",
                "no token labelled \"nosuchtoken\""},
           Case{"token=" + std::string(kToken) + ";object=key1?pin-value=" + kPin +
                    "&module-name=nosuchmodule",
                "no PKCS#11 module named \"nosuchmodule\""},
           Case{"token=" + std::string(kToken) + ";object=key1?module-name=softhsm2",
                "neither pin-value nor pin-source"},
       }) {
    const std::string y = key_yaml("bad.yaml", c.uri_tail);
    auto r = pkcs11_key_wrapper().unwrap(blob, prepared({y}));
    ASSERT_FALSE(r.ok()) << c.uri_tail;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find(c.expect), std::string::npos) << m;
    EXPECT_EQ(m.find("99999999"), std::string::npos) << m;
    EXPECT_EQ(m.find(kPin), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  // A module outside the policy is refused before it is loaded.
  write_text(policy_,
             "pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n"
             "  allowed-module-paths: [/opt/pkcs11/]\n");
  auto r = pkcs11_key_wrapper().unwrap(blob, prepared({good}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("module /usr/lib/softhsm/libsofthsm2.so is not allowed by "
                                      "OCICRYPT_CONFIG (" +
                                      policy_ + ")"),
            std::string::npos)
      << r.status().message();
  Recipients rec;
  Status st = add_recipient("pkcs11:" + good, &rec);
  EXPECT_EQ(st.code(), StatusCode::kKeyError);
  EXPECT_NE(st.message().find("is not allowed by OCICRYPT_CONFIG"), std::string::npos)
      << st.message();
  // No policy at all.
  ::setenv("OCICRYPT_CONFIG", dir_.file("missing.conf").c_str(), 1);
  ::setenv("HOME", dir_.path().c_str(), 1);
  ::unsetenv("XDG_CONFIG_HOME");
  const PreparedKeys nopolicy = prepared({good});
  EXPECT_FALSE(nopolicy.pkcs11_policy);
  r = pkcs11_key_wrapper().unwrap(blob, nopolicy);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no ocicrypt config file was found"), std::string::npos)
      << r.status().message();
}

TEST_F(Pkcs11WrapperTest, Sha256ToATokenThatOnlyDoesSha1) {
  // Wrapping is software, so SHA-256 works (for options short enough for
  // RSA-2048: 190 bytes); SoftHSM 2.6 cannot unwrap it, and says so.
  ::unsetenv("OCICRYPT_OAEP_HASHALG");
  const std::string yaml = key_yaml("key1.yaml", token_key("key1"));
  Recipients rec;
  ASSERT_TRUE(add_recipient("pkcs11:" + yaml, &rec).ok());
  EXPECT_EQ(pkcs11_key_wrapper().wrap(bytes(kPrivJson), rec).status().code(),
            StatusCode::kInvalidArgument);  // 193 bytes do not fit
  auto blob = pkcs11_key_wrapper().wrap(bytes("{\"symkey\":\"short\"}"), rec);
  ASSERT_TRUE(blob.ok()) << blob.status().message();
  EXPECT_EQ(parse_pkcs11_blob(*blob).value()[0].hash, OaepHash::kSha256);
  auto r = pkcs11_key_wrapper().unwrap(*blob, prepared({yaml}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find("the token refuses RSA-OAEP with sha256: C_DecryptInit"),
            std::string::npos)
      << r.status().message();
}

TEST_F(Pkcs11WrapperTest, MissingKeysAndMalformedBlobs) {
  EXPECT_NE(pkcs11_key_wrapper().missing_keys(PreparedKeys{}), "");
  const std::string yaml = key_yaml("key1.yaml", token_key("key1"));
  const PreparedKeys keys = prepared({yaml});
  for (const std::string& bad : {
           std::string("{\"version\":1,\"recipients\":[{\"blob\":\"AQI=\"}]}"),
           std::string("{\"version\":0,\"recipients\":[{\"blob\":\"AQ"),
           std::string("garbage"),
       }) {
    auto r = pkcs11_key_wrapper().unwrap(bytes(bad), keys);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_FALSE(pkcs11_key_wrapper().describe(bytes(bad)).ok()) << bad;
  }
}

TEST_F(Pkcs11WrapperTest, Sha256ToASoftwareKey) {
  ::unsetenv("OCICRYPT_OAEP_HASHALG");
  auto key = generate_key(KeyType::kRsa3072);
  ASSERT_TRUE(key.ok());
  write_text(dir_.file("pub.pem"), key->public_pem);
  const auto blob = wrap_for({"pkcs11:" + dir_.file("pub.pem")});
  const auto parsed = parse_pkcs11_blob(blob).value();
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].hash, OaepHash::kSha256);
  EXPECT_NE(std::string(blob.begin(), blob.end()).find("\"hash\":\"sha256\""), std::string::npos);
  // Open it with OpenSSL: RSA-OAEP, SHA-256 and MGF1-SHA-256, empty label.
  auto priv = parse_private_key(key->private_pem, std::nullopt);
  ASSERT_TRUE(priv.ok());
  kernels::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, priv->evp(), nullptr));
  ASSERT_TRUE(ctx);
  ASSERT_EQ(EVP_PKEY_decrypt_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), "SHA256", nullptr), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx.get(), "SHA256", nullptr), 1);
  std::vector<uint8_t> out(parsed[0].ciphertext.size());
  size_t len = out.size();
  ASSERT_EQ(EVP_PKEY_decrypt(ctx.get(), out.data(), &len, parsed[0].ciphertext.data(),
                             parsed[0].ciphertext.size()),
            1);
  EXPECT_EQ(std::string(out.begin(), out.begin() + len), kPrivJson);
  // Bad hash settings and recipients.
  ::setenv("OCICRYPT_OAEP_HASHALG", "sha384", 1);
  Recipients r;
  ASSERT_TRUE(add_recipient("pkcs11:" + dir_.file("pub.pem"), &r).ok());
  EXPECT_EQ(pkcs11_key_wrapper().wrap(bytes(kPrivJson), r).status().code(),
            StatusCode::kInvalidArgument);
  auto ec = generate_key(KeyType::kEcP256);
  write_text(dir_.file("ec.pem"), ec->public_pem);
  EXPECT_EQ(add_recipient("pkcs11:" + dir_.file("ec.pem"), &r).code(), StatusCode::kUnsupported);
  write_text(dir_.file("priv.pem"), std::string(key->private_pem.begin(), key->private_pem.end()));
  EXPECT_EQ(add_recipient("pkcs11:" + dir_.file("priv.pem"), &r).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(r.pkcs11.size(), 1u);
  EXPECT_EQ(r.sources.back(), "pkcs11:" + dir_.file("pub.pem"));
  EXPECT_TRUE(recipient_ids(r).value().back().starts_with("pkcs11:"));
}

}  // namespace
}  // namespace layercrypt
