// Tests for engine/keywrap/jwe/jwe.h: Go-made JWEs from the ocicrypt vectors, tampering,
// malformed input, and round trips through our go-jose-shaped encrypter.
#include "engine/keywrap/jwe/jwe.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/base64.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using json = nlohmann::json;
using testing::image_layers;
using testing::ocicrypt_vectors_dir;
using testing::read_file;

std::string B64UrlDecodeStr(const std::string& s) {
  auto r = base64url_decode(s);
  EXPECT_TRUE(r.ok());
  return {r->begin(), r->end()};
}

// JweBlobs returns the decoded JWE texts of layer `layer` of `image`.
std::vector<std::string> JweBlobs(const std::string& image, size_t layer = 0) {
  const std::string v =
      image_layers(image).at(layer).annotation("org.opencontainers.image.enc.keys.jwe");
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t c = v.find(',', start);
    auto d = base64_decode(v.substr(start, c == std::string::npos ? std::string::npos : c - start));
    EXPECT_TRUE(d.ok());
    out.emplace_back(d->begin(), d->end());
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

PrivateKey Priv(const std::string& f) {
  auto k = parse_private_key(read_file(ocicrypt_vectors_dir() + "keys/" + f));
  EXPECT_TRUE(k.ok()) << f;
  return *k;
}
PublicKey Pub(const std::string& f) {
  auto k = parse_public_key(read_file(ocicrypt_vectors_dir() + "keys/" + f));
  EXPECT_TRUE(k.ok()) << f;
  return *k;
}

void ExpectPrivateOptions(const StatusOr<kernels::SecretBytes>& r) {
  ASSERT_TRUE(r.ok()) << r.status().message();
  json j = json::parse(r->begin(), r->end(), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(base64_decode(j["symkey"].get<std::string>())->size(), 32u);
}

TEST(Jwe, GoFlattenedRsaAndEc) {
  for (auto [image, key] : std::vector<std::pair<const char*, const char*>>{
           {"enc-jwe-rsa2048", "rsa2048.pem"},
           {"enc-jwe-rsa4096", "rsa4096.pem"},
           {"enc-jwe-ecp256", "ecp256.pem"},
           {"enc-jwe-ecp384", "ecp384.pem"},
           {"enc-jwe-ecp521", "ecp521.pem"},
           {"ctrenc-jwe-rsa2048", "rsa2048.pkcs1.der"}}) {
    std::string text = JweBlobs(image)[0];
    auto s = jwe_describe(text);
    ASSERT_TRUE(s.ok()) << image;
    EXPECT_EQ(s->serialization, "flattened JSON");
    EXPECT_EQ(s->enc, "A256GCM");
    std::vector<PrivateKey> keys{Priv(key)};
    ExpectPrivateOptions(jwe_decrypt(text, keys));
  }
}

TEST(Jwe, GoGeneralJsonEachRecipient) {
  std::string text = JweBlobs("enc-jwe-multi", 2)[0];
  auto s = jwe_describe(text);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(
      s->to_string(),
      "general JSON JWE, enc A256GCM, 3 recipients (RSA-OAEP, ECDH-ES+A256KW, ECDH-ES+A256KW)");
  for (const char* k : {"rsa2048.pem", "ecp256.pem", "ecp521.pem"}) {
    std::vector<PrivateKey> keys{Priv("ecp384.pem"), Priv(k)};
    ExpectPrivateOptions(jwe_decrypt(text, keys));
  }
  // The stray top-level encrypted_key is ignored: corrupting it changes nothing.
  json j = json::parse(text);
  j["encrypted_key"] = "AAAA";
  std::vector<PrivateKey> keys{Priv("ecp521.pem")};
  ExpectPrivateOptions(jwe_decrypt(j.dump(), keys));
}

TEST(Jwe, CompactAndWhitespace) {
  json j = json::parse(JweBlobs("enc-jwe-ecp256")[0]);
  std::string compact = j["protected"].get<std::string>() + "." +
                        j["encrypted_key"].get<std::string>() + "." + j["iv"].get<std::string>() +
                        "." + j["ciphertext"].get<std::string>() + "." +
                        j["tag"].get<std::string>();
  std::vector<PrivateKey> keys{Priv("ecp256.jwk.json")};
  ExpectPrivateOptions(jwe_decrypt(compact, keys));
  ExpectPrivateOptions(
      jwe_decrypt(" \n" + compact.substr(0, 10) + "\n" + compact.substr(10) + "\n", keys));
  EXPECT_EQ(jwe_describe(compact)->serialization, "compact");
  ExpectPrivateOptions(jwe_decrypt("\n\t " + j.dump(2), keys));
}

TEST(Jwe, TamperingFailsCleanly) {
  const std::string text = JweBlobs("enc-jwe-rsa2048")[0];
  std::vector<PrivateKey> keys{Priv("rsa2048.pem")};
  json j = json::parse(text);
  for (const char* member : {"ciphertext", "tag", "iv", "encrypted_key", "protected"}) {
    json t = j;
    auto raw = *base64url_decode(t[member].get<std::string>());
    raw[raw.size() / 2] ^= 0x01;
    t[member] = base64url_encode(raw);
    auto r = jwe_decrypt(t.dump(), keys);
    ASSERT_FALSE(r.ok()) << member;
    EXPECT_TRUE(r.status().code() == StatusCode::kKeyError ||
                r.status().code() == StatusCode::kDataError)
        << member << ": " << r.status().message();
  }
  // Truncations.
  for (const char* member : {"ciphertext", "tag"}) {
    json t = j;
    auto raw = *base64url_decode(t[member].get<std::string>());
    raw.pop_back();
    t[member] = base64url_encode(raw);
    auto r = jwe_decrypt(t.dump(), keys);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
    EXPECT_NE(r.status().message().find("no key could unwrap"), std::string::npos);
  }
  auto r = jwe_decrypt(text.substr(0, text.size() / 2), keys);
  EXPECT_EQ(r.status().code(), StatusCode::kDataError);
  // Wrong key: message describes the JWE and the count, nothing else.
  std::vector<PrivateKey> wrong{Priv("rsa4096.pem"), Priv("ecp256.pem")};
  auto w = jwe_decrypt(text, wrong);
  EXPECT_EQ(w.status().message(),
            "no key could unwrap the flattened JSON JWE, enc A256GCM, 1 recipient (RSA-OAEP); "
            "tried 2 private keys");
  EXPECT_EQ(jwe_decrypt(text, {}).status().code(), StatusCode::kKeyError);
}

TEST(Jwe, MalformedAndUnsupported) {
  std::vector<PrivateKey> keys{Priv("rsa2048.pem")};
  for (std::string bad :
       {std::string(""), std::string("{"), std::string("{\"protected\":5}"), std::string("a.b.c"),
        std::string("[1,2]"), std::string("{\"protected\":\"!!\"}"), std::string("{}")}) {
    auto r = jwe_decrypt(bad, keys);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kDataError) << bad << ": " << r.status().message();
  }
  json j = json::parse(JweBlobs("enc-jwe-rsa2048")[0]);
  auto with_header = [&](const std::string& hdr) {
    json t = j;
    t["protected"] = base64url_encode(span_of(hdr));
    return jwe_decrypt(t.dump(), keys);
  };
  EXPECT_EQ(with_header("{\"alg\":\"RSA1_5\",\"enc\":\"A256GCM\"}").status().code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(with_header("{\"alg\":\"dir\",\"enc\":\"A256GCM\"}").status().code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(with_header("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256CTR\"}").status().code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(
      with_header("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}").status().code(),
      StatusCode::kUnsupported);
  EXPECT_EQ(with_header("{\"enc\":\"A256GCM\"}").status().code(), StatusCode::kDataError);
  // A valid header but the AAD changed: tag check fails.
  EXPECT_EQ(with_header("{\"enc\":\"A256GCM\",\"alg\":\"RSA-OAEP\"}").status().code(),
            StatusCode::kKeyError);
  // Extra aad member changes the AAD too.
  json t = j;
  t["aad"] = "AAAA";
  EXPECT_EQ(jwe_decrypt(t.dump(), keys).status().code(), StatusCode::kKeyError);
}

TEST(Jwe, UnsupportedAlgorithmNamesInMessagesStayOnOneLine) {
  std::vector<PrivateKey> keys{Priv("rsa2048.pem")};
  const std::string long_name(300, 'A');
  for (const std::string& header :
       {std::string("{\"alg\":\"RSA\\nOAEP\",\"enc\":\"A256GCM\"}"),
        std::string("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256\\r\\nGCM\\u0000\"}"),
        "{\"alg\":\"" + long_name + "\",\"enc\":\"A256GCM\"}"}) {
    const std::string text =
        "{\"header\":" + header + ",\"encrypted_key\":\"\",\"iv\":\"\",\"tag\":\"\"}";
    for (const Status& s : {jwe_describe(text).status(), jwe_decrypt(text, keys).status()}) {
      EXPECT_EQ(s.code(), StatusCode::kUnsupported) << header;
      EXPECT_EQ(s.message().find_first_of(std::string("\r\n\0", 3)), std::string::npos)
          << s.message();
      EXPECT_LT(s.message().size(), 250u) << s.message();
    }
  }
}

// MakeCbcJwe builds an RSA-OAEP-256 + AxxxCBC-HSyyy JWE with OpenSSL directly
// (RFC 7518 §5.2), as an independent check of our CBC-HMAC decryption.
std::string MakeCbcJwe(const PublicKey& pub, const char* enc, size_t cek_len, const char* md,
                       const std::string& plaintext, const std::string& aad_member) {
  std::vector<uint8_t> cek(cek_len), iv(16);
  RAND_bytes(cek.data(), static_cast<int>(cek.size()));
  RAND_bytes(iv.data(), 16);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pub.evp(), nullptr);
  EVP_PKEY_encrypt_init(ctx);
  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
  EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", nullptr);
  EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", nullptr);
  size_t ek_len = 0;
  EVP_PKEY_encrypt(ctx, nullptr, &ek_len, cek.data(), cek.size());
  std::vector<uint8_t> ek(ek_len);
  EVP_PKEY_encrypt(ctx, ek.data(), &ek_len, cek.data(), cek.size());
  EVP_PKEY_CTX_free(ctx);
  const size_t half = cek_len / 2;
  const EVP_CIPHER* c = half == 16   ? EVP_aes_128_cbc()
                        : half == 24 ? EVP_aes_192_cbc()
                                     : EVP_aes_256_cbc();
  EVP_CIPHER_CTX* cc = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(cc, c, nullptr, cek.data() + half, iv.data());
  std::vector<uint8_t> ct(plaintext.size() + 16);
  int l1 = 0, l2 = 0;
  EVP_EncryptUpdate(cc, ct.data(), &l1, reinterpret_cast<const uint8_t*>(plaintext.data()),
                    static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(cc, ct.data() + l1, &l2);
  ct.resize(static_cast<size_t>(l1 + l2));
  EVP_CIPHER_CTX_free(cc);
  std::string prot =
      base64url_encode(span_of(std::string("{\"alg\":\"RSA-OAEP-256\",\"enc\":\"") + enc + "\"}"));
  std::string aad = prot + (aad_member.empty() ? "" : "." + aad_member);
  std::vector<uint8_t> mac_in(aad.begin(), aad.end());
  mac_in.insert(mac_in.end(), iv.begin(), iv.end());
  mac_in.insert(mac_in.end(), ct.begin(), ct.end());
  uint64_t al = aad.size() * 8;
  for (int s = 56; s >= 0; s -= 8) mac_in.push_back(static_cast<uint8_t>(al >> s));
  unsigned char mac[64];
  unsigned int mac_len = 0;
  HMAC(EVP_get_digestbyname(md), cek.data(), static_cast<int>(half), mac_in.data(), mac_in.size(),
       mac, &mac_len);
  json j;
  j["protected"] = prot;
  if (!aad_member.empty()) j["aad"] = aad_member;
  j["encrypted_key"] = base64url_encode(ek);
  j["iv"] = base64url_encode(iv);
  j["ciphertext"] = base64url_encode(ct);
  j["tag"] = base64url_encode(std::span<const uint8_t>(mac, mac_len / 2));
  return j.dump();
}

TEST(Jwe, CbcHmacContentAlgorithms) {
  PublicKey pub = Pub("rsa2048.pub.pem");
  std::vector<PrivateKey> keys{Priv("rsa2048.pem")};
  const std::string msg = "{\"symkey\":\"x\"} and some more bytes to pad";
  for (auto [enc, len, md] :
       std::vector<std::tuple<const char*, size_t, const char*>>{{"A128CBC-HS256", 32, "SHA256"},
                                                                 {"A192CBC-HS384", 48, "SHA384"},
                                                                 {"A256CBC-HS512", 64, "SHA512"}}) {
    for (std::string aad : {std::string(""), std::string("ZXh0cmE")}) {
      std::string text = MakeCbcJwe(pub, enc, len, md, msg, aad);
      auto r = jwe_decrypt(text, keys);
      ASSERT_TRUE(r.ok()) << enc << ": " << r.status().message();
      EXPECT_EQ(std::string(r->begin(), r->end()), msg);
      json t = json::parse(text);
      auto tag = *base64url_decode(t["tag"].get<std::string>());
      tag[0] ^= 0x80;
      t["tag"] = base64url_encode(tag);
      EXPECT_EQ(jwe_decrypt(t.dump(), keys).status().code(), StatusCode::kKeyError) << enc;
    }
  }
}

// ---- our encrypter -------------------------------------------------------------

PrivateKey Fresh(const char* type, const char* param) {
  EVP_PKEY* p =
      std::string(type) == "RSA"
          ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(std::stoi(param)))
          : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param);
  auto k = PrivateKey::from_evp(p);
  EXPECT_TRUE(k.ok());
  return *k;
}

const std::string kOpts =
    "{\"symkey\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"digest\":\"sha256:00\","
    "\"cipheroptions\":"
    "{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw==\"}}";

TEST(jwe_encrypt, RoundTripsSingleRecipientGoJoseShape) {
  for (auto [type, param] : std::vector<std::pair<const char*, const char*>>{
           {"RSA", "2048"}, {"RSA", "4096"}, {"EC", "P-256"}, {"EC", "P-384"}, {"EC", "P-521"}}) {
    PrivateKey priv = Fresh(type, param);
    std::vector<PublicKey> recips{priv.public_key()};
    auto text = jwe_encrypt(span_of(kOpts), recips);
    ASSERT_TRUE(text.ok()) << text.status().message();
    // go-jose flattened member order.
    json j = json::parse(*text);
    std::vector<std::string> order;
    for (auto it = j.begin(); it != j.end(); ++it) order.push_back(it.key());
    EXPECT_EQ(text->find("{\"protected\":\""), 0u);
    size_t p_ek = text->find("\"encrypted_key\""), p_iv = text->find("\"iv\""),
           p_ct = text->find("\"ciphertext\""), p_tag = text->find("\"tag\"");
    EXPECT_TRUE(p_ek < p_iv && p_iv < p_ct && p_ct < p_tag);
    EXPECT_EQ(j.size(), 5u);
    std::string prot = B64UrlDecodeStr(j["protected"]);
    if (std::string(type) == "RSA") {
      EXPECT_EQ(prot, "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}");
    } else {
      EXPECT_EQ(prot.find(std::string("{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":{"
                                      "\"kty\":\"EC\",\"crv\":\"") +
                          param + "\",\"x\":\""),
                0u)
          << prot;
    }
    EXPECT_EQ(B64UrlDecodeStr(j["iv"]).size(), 12u);
    EXPECT_EQ(B64UrlDecodeStr(j["tag"]).size(), 16u);
    std::vector<PrivateKey> keys{priv};
    auto back = jwe_decrypt(*text, keys);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(std::string(back->begin(), back->end()), kOpts);
  }
}

TEST(jwe_encrypt, MultiRecipientGeneralJson) {
  std::vector<PrivateKey> privs{Fresh("RSA", "2048"), Fresh("EC", "P-256"), Fresh("EC", "P-521")};
  std::vector<PublicKey> pubs;
  for (auto& p : privs) pubs.push_back(p.public_key());
  auto text = jwe_encrypt(span_of(kOpts), pubs);
  ASSERT_TRUE(text.ok());
  json j = json::parse(*text);
  EXPECT_EQ(B64UrlDecodeStr(j["protected"]), "{\"enc\":\"A256GCM\"}");
  EXPECT_TRUE(
      text->find("{\"protected\":") == 0 &&
      text->find(",\"recipients\":[{\"header\":{\"alg\":\"RSA-OAEP\"},\"encrypted_key\":") !=
          std::string::npos);
  EXPECT_LT(text->find("],\"encrypted_key\":"), text->find("\"iv\":"));
  EXPECT_EQ(j["encrypted_key"], j["recipients"][0]["encrypted_key"]);
  EXPECT_EQ(j["recipients"].size(), 3u);
  EXPECT_EQ(j["recipients"][1]["header"].dump().find("{\"alg\":\"ECDH-ES+A256KW\",\"epk\":{"), 0u);
  for (const PrivateKey& p : privs) {
    std::vector<PrivateKey> keys{p};
    auto back = jwe_decrypt(*text, keys);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(std::string(back->begin(), back->end()), kOpts);
  }
  std::vector<PrivateKey> other{Fresh("EC", "P-384")};
  EXPECT_EQ(jwe_decrypt(*text, other).status().code(), StatusCode::kKeyError);
}

TEST(jwe_encrypt, GoMultiShapeMatchesOurs) {
  // Structure of the Go-made general JWE equals ours member by member.
  std::string go = JweBlobs("enc-jwe-multi")[0];
  std::vector<PublicKey> pubs{Pub("rsa2048.pub.pem"), Pub("ecp256.pub.pem"), Pub("ecp521.pub.pem")};
  auto ours = jwe_encrypt(span_of(kOpts), pubs);
  ASSERT_TRUE(ours.ok());
  auto shape = [](const std::string& t) {
    json j = json::parse(t);
    std::string s;
    for (auto it = j.begin(); it != j.end(); ++it) s += it.key() + ",";
    return s;
  };
  // nlohmann sorts keys, so compare the raw textual order instead.
  auto raw_order = [](const std::string& t) {
    std::string s;
    for (const char* k : {"\"protected\"", "\"recipients\"", "\"encrypted_key\":\"", "\"iv\"",
                          "\"ciphertext\"", "\"tag\""}) {
      s += std::to_string(t.rfind(k) != std::string::npos) + ",";
    }
    return s;
  };
  EXPECT_EQ(shape(go), shape(*ours));
  EXPECT_EQ(raw_order(go), raw_order(*ours));
  json g = json::parse(go), o = json::parse(*ours);
  EXPECT_EQ(g["protected"], o["protected"]);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(g["recipients"][i]["header"]["alg"], o["recipients"][i]["header"]["alg"]);
    if (i > 0) {
      EXPECT_EQ(g["recipients"][i]["header"]["epk"]["crv"],
                o["recipients"][i]["header"]["epk"]["crv"]);
      EXPECT_EQ(B64UrlDecodeStr(g["recipients"][i]["header"]["epk"]["x"]).size(),
                B64UrlDecodeStr(o["recipients"][i]["header"]["epk"]["x"]).size());
    }
  }
  // The Go text's epk member order is kty, crv, x, y like ours.
  EXPECT_NE(go.find("\"epk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\""), std::string::npos);
  EXPECT_NE(ours->find("\"epk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\""), std::string::npos);
  // Go's single-recipient protected header equals ours byte for byte.
  json g1 = json::parse(JweBlobs("enc-jwe-rsa2048")[0]);
  std::vector<PublicKey> one{Pub("rsa2048.pub.pem")};
  json o1 = json::parse(*jwe_encrypt(span_of(kOpts), one));
  EXPECT_EQ(g1["protected"], o1["protected"]);
}

TEST(jwe_encrypt, JwkAlgAndKid) {
  PrivateKey ec = Fresh("EC", "P-384");
  PublicKey pub = ec.public_key();
  pub.set_jwk_members("ECDH-ES+A128KW", "my-kid");
  std::vector<PublicKey> recips{pub};
  auto text = jwe_encrypt(span_of(kOpts), recips);
  ASSERT_TRUE(text.ok());
  std::string prot = B64UrlDecodeStr(json::parse(*text)["protected"]);
  EXPECT_EQ(prot.find("{\"alg\":\"ECDH-ES+A128KW\",\"enc\":\"A256GCM\",\"epk\":{"), 0u) << prot;
  EXPECT_NE(prot.find("},\"kid\":\"my-kid\"}"), std::string::npos) << prot;
  std::vector<PrivateKey> keys{ec};
  EXPECT_TRUE(jwe_decrypt(*text, keys).ok());

  PrivateKey rsa = Fresh("RSA", "2048");
  PublicKey rp = rsa.public_key();
  rp.set_jwk_members("RSA-OAEP-256", "");
  std::vector<PublicKey> r2{rp};
  auto t2 = jwe_encrypt(span_of(kOpts), r2);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(B64UrlDecodeStr(json::parse(*t2)["protected"]),
            "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\"}");
  std::vector<PrivateKey> k2{rsa};
  EXPECT_TRUE(jwe_decrypt(*t2, k2).ok());

  rp.set_jwk_members("RSA1_5", "");
  std::vector<PublicKey> r3{rp};
  EXPECT_EQ(jwe_encrypt(span_of(kOpts), r3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(jwe_encrypt(span_of(kOpts), {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
TEST(jwk_thumbprint, Rfc7638Example) {
  // RFC 7638 section 3.1.
  const std::string jwk =
      "{\"kty\":\"RSA\",\"n\":"
      "\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
      "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
      "65YGjQR0_FDW2Qvzq"
      "Y368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
      "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr"
      "3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\",\"alg\":\"RS256\","
      "\"kid\":\"2011-04-29\"}";
  auto pub = parse_public_key(span_of(jwk));
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  auto t = jwk_thumbprint(*pub);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  // An EC key's thumbprint is stable and differs between keys.
  PrivateKey a = Fresh("EC", "P-256"), b = Fresh("EC", "P-256");
  EXPECT_EQ(*jwk_thumbprint(a.public_key()), *jwk_thumbprint(a.public_key()));
  EXPECT_NE(*jwk_thumbprint(a.public_key()), *jwk_thumbprint(b.public_key()));
}

TEST(jwe_remove_recipients, KeepsTheOthersOpenable) {
  std::vector<PrivateKey> privs{Fresh("RSA", "2048"), Fresh("EC", "P-256"), Fresh("EC", "P-384")};
  std::vector<PublicKey> pubs;
  for (auto& p : privs) pubs.push_back(p.public_key());
  auto text = jwe_encrypt(span_of(kOpts), pubs);
  ASSERT_TRUE(text.ok());
  auto fewer = jwe_remove_recipients(*text, {0});
  ASSERT_TRUE(fewer.ok() && fewer->has_value());
  auto s = jwe_describe(**fewer);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->recipient_algs, (std::vector<std::string>{"ECDH-ES+A256KW", "ECDH-ES+A256KW"}));
  json j = json::parse(**fewer);
  EXPECT_EQ(j["encrypted_key"], j["recipients"][0]["encrypted_key"]);
  std::vector<PrivateKey> gone{privs[0]}, kept{privs[2]};
  EXPECT_EQ(jwe_decrypt(**fewer, gone).status().code(), StatusCode::kKeyError);
  auto back = jwe_decrypt(**fewer, kept);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::string(back->begin(), back->end()), kOpts);
  auto none = jwe_remove_recipients(*text, {0, 1, 2});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  std::vector<PublicKey> one{pubs[1]};
  auto single = jwe_encrypt(span_of(kOpts), one);
  EXPECT_EQ(**jwe_remove_recipients(*single, {1}), *single);
  EXPECT_FALSE(jwe_remove_recipients(*single, {0})->has_value());
}

}  // namespace layercrypt
