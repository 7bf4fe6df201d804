// Tests for engine/ocicrypt/layer_options.h: Go encoding/json compatibility of the
// public/private layer options, against the Go-made vectors in
// tests/vectors/ocicrypt_ctr_hmac.txt, plus Go's leniency and our strictness.
#include "engine/ocicrypt/layer_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/core/base64.h"
#include "engine/core/go_json.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/vector_file.h"

namespace layercrypt {
namespace {

using testing::contains;
using testing::from_hex;

std::string S(const kernels::SecretBytes& v) { return {v.begin(), v.end()}; }
std::vector<uint8_t> V(const kernels::SecretBytes& v) { return {v.begin(), v.end()}; }

kernels::SecretBytes Secret(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }
kernels::SecretBytes Secret(size_t n, uint8_t fill) { return kernels::SecretBytes(n, fill); }

PublicLayerOptions GoodPublic() {
  PublicLayerOptions p;
  p.cipher = "AES_256_CTR_HMAC_SHA256";
  p.hmac.assign(32, 0xab);
  return p;
}
PrivateLayerOptions GoodPrivate() {
  PrivateLayerOptions p;
  p.symkey = Secret(32, 0x11);
  p.digest = "sha256:00";
  p.cipher_options["nonce"] = Secret(16, 0x22);
  return p;
}

TEST(LayerOptions, GoVectorsParseAndReserializeByteIdentically) {
  auto cases = testing::load_vectors("ocicrypt_ctr_hmac.txt");
  ASSERT_EQ(cases.size(), 7u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.where());
    (void)c.str("COUNT");
    (void)c.str("PT");
    (void)c.str("CT");
    const auto key = c.bytes("KEY");
    const auto nonce = c.bytes("NONCE");
    const auto mac = c.bytes("HMAC");
    const std::string pub_json = c.str("PUBOPTS");
    const std::string priv_json = c.str("PRIVOPTS");

    auto pub = parse_public_options(pub_json);
    ASSERT_TRUE(pub.ok()) << pub.status().message();
    EXPECT_EQ(pub->cipher, "AES_256_CTR_HMAC_SHA256");
    EXPECT_EQ(pub->hmac, mac);
    EXPECT_EQ(base64_encode(pub->hmac), c.str("HMAC_B64"));
    EXPECT_TRUE(pub->cipher_options.empty());
    EXPECT_EQ(serialize_public_options(*pub), pub_json);

    auto priv = parse_private_options(priv_json);
    ASSERT_TRUE(priv.ok()) << priv.status().message();
    EXPECT_EQ(V(priv->symkey), key);
    EXPECT_EQ(priv->digest, "");
    ASSERT_EQ(priv->cipher_options.count("nonce"), 1u);
    EXPECT_EQ(V(priv->cipher_options.at("nonce")), nonce);
    EXPECT_EQ(S(serialize_private_options(*priv)), priv_json);

    // The span overload sees the same bytes.
    kernels::SecretBytes raw(priv_json.begin(), priv_json.end());
    auto priv2 = parse_private_options(std::span<const uint8_t>(raw.data(), raw.size()));
    ASSERT_TRUE(priv2.ok());
    EXPECT_EQ(V(priv2->symkey), key);

    EXPECT_TRUE(validate_for_decryption(*pub, *priv).ok());
    c.check_all_consumed();
  }
}

TEST(LayerOptions, SerializeFromScratchMatchesGoShape) {
  PublicLayerOptions pub;
  pub.cipher = std::string(kLayerCipherName);
  pub.hmac = from_hex("bc404ab28e14962f4b82f3ba628db2f32412fc6c8ca3304b2ef9c56e8d904b40");
  EXPECT_EQ(serialize_public_options(pub),
            "{\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"hmac\":\"vEBKso4Uli9LgvO6Yo2y8yQS/"
            "GyMozBLLvnFbo2QS0A=\",\"cipheroptions\":{}}");
  PrivateLayerOptions priv;
  priv.symkey =
      Secret(from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  priv.digest = "sha256:9b1c80359f11563c22eda75bd33f73fa48c4865abe40514fe6cf168ddfa8fcc9";
  priv.cipher_options["nonce"] = Secret(from_hex("000102030405060708090a0b0c0d0e0f"));
  const std::string got = S(serialize_private_options(priv));
  EXPECT_EQ(got,
            "{\"symkey\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"digest\":\"sha256:"
            "9b1c80359f11563c22eda75bd33f73fa48c4865abe40514fe6cf168ddfa8fcc9\",\"cipheroptions\":{"
            "\"nonce\":\"AAECAwQFBgcICQoLDA0ODw==\"}}");
  EXPECT_EQ(got.size(), 193u);  // spec §2.1: a real example is 193 bytes
  // Map keys sorted; empty value is "" (Go's non-nil empty slice).
  pub.cipher_options["z"] = {};
  pub.cipher_options["a"] = {1};
  EXPECT_TRUE(
      contains(serialize_public_options(pub), "\"cipheroptions\":{\"a\":\"AQ==\",\"z\":\"\"}"));
}

TEST(LayerOptions, GoHtmlEscapingInStrings) {
  PrivateLayerOptions priv = GoodPrivate();
  priv.digest =
      "a<b>&c\"d\\e\n\r\t\b\f\x01\x1f\x7f"
      "\xe2\x80\xa8\xe2\x80\xa9"
      "\xff"
      "é";
  const std::string got = S(serialize_private_options(priv));
  EXPECT_TRUE(contains(got,
                       "\"digest\":\"a\\u003cb\\u003e\\u0026c\\\"d\\\\e\\n\\r\\t\\b\\f\\u0001"
                       "\\u001f\x7f\\u2028\\u2029\\ufffdé\""))
      << got;
  // And it parses back (invalid UTF-8 became U+FFFD).
  auto back = parse_private_options(got);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->digest,
            "a<b>&c\"d\\e\n\r\t\b\f\x01\x1f\x7f\xe2\x80\xa8\xe2\x80\xa9\xef\xbf\xbd"
            "é");
  PublicLayerOptions pub = GoodPublic();
  pub.cipher = "<x>";
  EXPECT_TRUE(contains(serialize_public_options(pub), "\"cipher\":\"\\u003cx\\u003e\""));
}

TEST(LayerOptions, GoLeniencyCaseInsensitiveNames) {
  auto pub = parse_public_options(
      "{\"CIPHER\":\"AES_256_CTR_HMAC_SHA256\",\"Hmac\":\"vEBKso4Uli9LgvO6Yo2y8yQS/"
      "GyMozBLLvnFbo2QS0A=\",\"CipherOptions\":{}}");
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  EXPECT_EQ(pub->cipher, "AES_256_CTR_HMAC_SHA256");
  EXPECT_EQ(pub->hmac.size(), 32u);
  auto priv = parse_private_options(
      "{\"SYMKEY\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"DiGeSt\":\"sha256:x\","
      "\"CIPHEROPTIONS\":{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw==\"}}");
  ASSERT_TRUE(priv.ok()) << priv.status().message();
  EXPECT_EQ(priv->symkey.size(), 32u);
  EXPECT_EQ(priv->digest, "sha256:x");
  EXPECT_EQ(priv->cipher_options.at("nonce").size(), 16u);
  // Map keys are exact: "NONCE" is a different key, so there is no nonce.
  auto p2 = parse_private_options("{\"cipheroptions\":{\"NONCE\":\"AAECAwQFBgcICQoLDA0ODw==\"}}");
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->cipher_options.count("nonce"), 0u);
  EXPECT_EQ(p2->cipher_options.count("NONCE"), 1u);
}

TEST(LayerOptions, GoFoldingOfLongSAndKelvin) {
  // Go's foldName maps U+017F (ſ) to 'S' and U+212A (Kelvin) to 'K'.
  auto priv = parse_private_options(
      "{\"\xc5\xbfym\xe2\x84\xaa"
      "ey\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}");
  ASSERT_TRUE(priv.ok()) << priv.status().message();
  EXPECT_EQ(priv->symkey.size(), 32u);
  EXPECT_TRUE(gojson::name_matches("symkey", "symkey"));
  EXPECT_TRUE(gojson::name_matches("SymKey", "symkey"));
  EXPECT_TRUE(gojson::name_matches("Descriptor", "Descriptor"));
  EXPECT_TRUE(gojson::name_matches("descriptor", "Descriptor"));
  EXPECT_TRUE(gojson::name_matches("OS.VERSION", "os.version"));
  EXPECT_FALSE(gojson::name_matches("symkey ", "symkey"));
  EXPECT_FALSE(gojson::name_matches("sym_key", "symkey"));
  EXPECT_FALSE(gojson::name_matches("symke", "symkey"));
  EXPECT_FALSE(gojson::name_matches("symk\xc3\xa9y", "symkey"));
  EXPECT_FALSE(gojson::name_matches("", "symkey"));
  // The Turkish dotless i is its own fold orbit in Go: no match.
  EXPECT_FALSE(gojson::name_matches("c\xc4\xb1pher", "cipher"));
  EXPECT_FALSE(gojson::name_matches("C\xc4\xb0PHER", "cipher"));
}

TEST(LayerOptions, GoLeniencyUnknownMembersNullsAndArrays) {
  // Unknown members of any shape are ignored.
  auto pub = parse_public_options(
      "{\"x\":{\"y\":[1,2,{\"z\":null}]},\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"n\":1.5e3,"
      "\"hmac\":[188,64,74,178,142,20,150,47,75,130,243,186,98,141,178,243,36,18,252,108,140,163,"
      "48,75,46,249,197,110,141,144,75,64],\"b\":true,\"cipheroptions\":null}");
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  EXPECT_EQ(base64_encode(pub->hmac), "vEBKso4Uli9LgvO6Yo2y8yQS/GyMozBLLvnFbo2QS0A=");
  EXPECT_TRUE(pub->cipher_options.empty());

  // Byte arrays everywhere (CoCo key providers emit these); null element → 0.
  auto priv = parse_private_options(
      "{\"symkey\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,"
      "29,30,31],\"digest\":null,\"cipheroptions\":{\"nonce\":[255,null,0,0,0,0,0,0,0,0,0,0,0,0,0,"
      "254]}}");
  ASSERT_TRUE(priv.ok()) << priv.status().message();
  EXPECT_EQ(V(priv->symkey),
            from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  EXPECT_EQ(V(priv->cipher_options.at("nonce")), from_hex("ff0000000000000000000000000000fe"));
  EXPECT_EQ(priv->digest, "");

  // null everywhere.
  auto n1 = parse_public_options("null");
  ASSERT_TRUE(n1.ok());
  EXPECT_TRUE(n1->cipher.empty());
  auto n2 = parse_private_options(" null ");
  ASSERT_TRUE(n2.ok());
  EXPECT_TRUE(n2->symkey.empty());
  auto n3 = parse_public_options("{\"cipher\":null,\"hmac\":null,\"cipheroptions\":null}");
  ASSERT_TRUE(n3.ok());
  auto n4 = parse_private_options("{}");
  ASSERT_TRUE(n4.ok());
  // Empty array and empty string give an empty []byte.
  auto e = parse_private_options("{\"symkey\":[],\"cipheroptions\":{\"nonce\":\"\"}}");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->symkey.empty());
  EXPECT_TRUE(e->cipher_options.at("nonce").empty());
}

TEST(LayerOptions, GoDuplicateMembersLaterWins) {
  auto p = parse_private_options(
      "{\"symkey\":\"AAAA\",\"SYMKEY\":\"AQEB\",\"digest\":\"a\",\"Digest\":\"b\",\"digest\":null,"
      "\"cipheroptions\":{\"nonce\":\"AA==\",\"x\":\"AA==\"},\"cipherOptions\":{\"nonce\":\"AQ==\"}"
      "}");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(V(p->symkey), std::vector<uint8_t>({1, 1, 1}));
  EXPECT_EQ(p->digest, "b");  // Go ignores null for a string
  // The second cipheroptions object merges into the first map (Go reuses it).
  EXPECT_EQ(V(p->cipher_options.at("nonce")), std::vector<uint8_t>({1}));
  EXPECT_EQ(p->cipher_options.count("x"), 1u);
  // ...and null resets it.
  auto q = parse_private_options("{\"cipheroptions\":{\"nonce\":\"AA==\"},\"cipheroptions\":null}");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->cipher_options.empty());
  // A later null []byte clears the earlier value.
  auto r = parse_public_options("{\"hmac\":\"AAAA\",\"HMAC\":null}");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->hmac.empty());
}

TEST(LayerOptions, StringEscapesDecodeLikeGo) {
  auto p = parse_private_options(
      "{\"digest\":\"\\u00e9\\ud83d\\ude00x\\/\\\"\\\\\\b\\f\\n\\r\\t\\u0041\"}");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->digest, "\xc3\xa9\xf0\x9f\x98\x80x/\"\\\b\f\n\r\tA");
  // U+FFFD itself, escaped or raw, is an ordinary character.
  auto q = parse_private_options("{\"digest\":\"\\ufffd\xef\xbf\xbd\"}");
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->digest, "\xef\xbf\xbd\xef\xbf\xbd");
}

// Deliberately stricter than Go: Go's decoder replaces invalid UTF-8 and
// unpaired surrogate escapes with U+FFFD; nlohmann's lexer (which gojson uses)
// rejects them. No conforming producer (Go's json.Marshal, serde_json) writes
// either, and a rejected document fails closed.
TEST(LayerOptions, InvalidUtf8AndLoneSurrogatesAreRejected) {
  const char* bad[] = {
      "{\"digest\":\"\\ud800x\"}",        // lone high surrogate
      "{\"digest\":\"\\udc00\"}",         // lone low surrogate
      "{\"digest\":\"\\ud800\\u0041\"}",  // high surrogate + non-surrogate
      "{\"digest\":\"a\xff(b\"}",         // invalid byte
      "{\"digest\":\"a\xc3(b\"}",         // truncated sequence
      "{\"digest\":\"\xed\xa0\x80\"}",    // UTF-8-encoded surrogate
      "{\"digest\":\"\xc0\xaf\"}",        // overlong
  };
  for (const char* in : bad) {
    auto r = parse_private_options(in);
    ASSERT_FALSE(r.ok()) << "accepted: " << in;
    EXPECT_EQ(r.status().code(), StatusCode::kDataError) << in;
    EXPECT_TRUE(contains(r.status().message(), "invalid JSON at offset ")) << r.status().message();
  }
  auto r = parse_private_options("{\"digest\":\"a\xff(b\"}");
  EXPECT_TRUE(contains(r.status().message(), "invalid UTF-8")) << r.status().message();
  auto s = parse_private_options("{\"digest\":\"\\ud800x\"}");
  EXPECT_TRUE(contains(s.status().message(), "surrogate")) << s.status().message();
}

TEST(LayerOptions, RejectsWhatGoRejects) {
  const char* bad_pub[] = {
      "",
      "{",
      "{\"cipher\":\"x\",}",
      "{\"cipher\":\"x\"} x",
      "[]",
      "\"str\"",
      "42",
      "{\"cipher\":1}",
      "{\"cipher\":[\"AES\"]}",
      "{\"hmac\":\"vEBKso4Uli9LgvO6Yo2y8yQS/GyMozBLLvnFbo2QS0A\"}",   // unpadded
      "{\"hmac\":\"vEBKso4Uli9LgvO6Yo2y8yQS_GyMozBLLvnFbo2QS0A=\"}",  // base64url
      "{\"hmac\":[256]}",
      "{\"hmac\":[-1]}",
      "{\"hmac\":[1.0]}",
      "{\"hmac\":[1e1]}",
      "{\"hmac\":[\"1\"]}",
      "{\"hmac\":[true]}",
      "{\"hmac\":{}}",
      "{\"hmac\":true}",
      "{\"hmac\":1}",
      "{\"cipheroptions\":[]}",
      "{\"cipheroptions\":\"\"}",
      "{\"cipheroptions\":{\"nonce\":5}}",
      "{'cipher':'x'}",
      "{\"cipher\":\"a\x01\"}",    // raw control character
      "{\"cipher\":\"\\x\"}",      // bad escape
      "{\"cipher\":\"\\u12G4\"}",  // bad \u
      "{\"n\":01}",
      "{\"n\":-}",
      "{\"n\":1.}",
      "{\"n\":.5}",
      "{\"n\":+1}",
      "{\"n\":NaN}",
      "{\"n\":tru}",
      "/*c*/{}",
      "\xef\xbb\xbf{}",   // byte order mark (nlohmann alone would skip it)
      "{\"hmac\":[-0]}",  // Go's ParseUint rejects a sign
      "{\"hmac\":[1E0]}",
      "{\"hmac\":[0255]}",
      "{\"hmac\":[18446744073709551616]}",
      "{\"n\":1e400}",  // stricter than Go: not finite as a double
  };
  for (const char* in : bad_pub) {
    auto r = parse_public_options(in);
    EXPECT_FALSE(r.ok()) << "accepted: " << in;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kDataError) << in;
    }
  }
}

TEST(LayerOptions, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto r = parse_public_options(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "nesting")) << r.status().message();
  // The outer object is level 1, so the 512th '[' (offset 5 + 511) is level 513.
  EXPECT_TRUE(contains(r.status().message(), "offset 516:")) << r.status().message();
  // 512 levels is fine.
  std::string ok = "{\"x\":" + std::string(511, '[') + std::string(511, ']') + "}";
  EXPECT_TRUE(parse_public_options(ok).ok());
}

TEST(GoJson, ParseKeepsDocumentOrderDuplicatesAndLiterals) {
  auto v = gojson::parse(
      " {\"b\":[0,-0,255,18446744073709551615,-9223372036854775808,-9223372036854775809,"
      "1.50,-1E-2,1e+2],\"a\":{},\"b\":null,\"B\":true} ");
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->kind, gojson::Value::Kind::kObject);
  ASSERT_EQ(v->members.size(), 4u);
  auto str = [](const gojson::String& t) { return std::string(t.data(), t.size()); };
  EXPECT_EQ(str(v->members[0].name), "b");
  EXPECT_EQ(str(v->members[1].name), "a");
  EXPECT_EQ(str(v->members[2].name), "b");
  EXPECT_EQ(str(v->members[3].name), "B");
  EXPECT_EQ(v->members[1].value.kind, gojson::Value::Kind::kObject);
  EXPECT_EQ(v->members[2].value.kind, gojson::Value::Kind::kNull);
  EXPECT_TRUE(v->members[3].value.boolean);
  const std::vector<std::string> want = {"0",
                                         "-0",
                                         "255",
                                         "18446744073709551615",
                                         "-9223372036854775808",
                                         "-9223372036854775809",
                                         "1.50",
                                         "-1E-2",
                                         "1e+2"};
  const auto& items = v->members[0].value.items;
  ASSERT_EQ(items.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(items[i].kind, gojson::Value::Kind::kNumber);
    EXPECT_EQ(str(items[i].text), want[i]);
  }
  // Scalars at the top level.
  auto s = gojson::parse("\"x\"");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(str(s->text), "x");
}

TEST(GoJson, SyntaxErrorsGiveAnOffsetAndNeverQuoteTheInput) {
  struct Case {
    const char* in;
    const char* offset;
  };
  const Case cases[] = {
      {"", "offset 0:"},
      {"{", "offset 1:"},
      {"{\"k\":\"SECRETSECRET", "offset 18:"},
      {"{\"k\":\"SECRET\x01\"}", "offset 12:"},
      {"{\"k\":SECRET}", "offset 5:"},
      {"{\"k\":1e999999}", "offset"},
      {"{\"k\":\"SECRET\"} SECRET", "offset"},
      {"[\"SECRET\",]", "offset"},
  };
  for (const Case& c : cases) {
    auto r = gojson::parse(c.in);
    ASSERT_FALSE(r.ok()) << "accepted: " << c.in;
    EXPECT_EQ(r.status().code(), StatusCode::kDataError) << c.in;
    const std::string& m = r.status().message();
    EXPECT_TRUE(contains(m, std::string("invalid JSON at ") + c.offset)) << c.in << ": " << m;
    EXPECT_FALSE(contains(m, "SECRET")) << m;
    EXPECT_FALSE(contains(m, "1e999999")) << m;
    EXPECT_FALSE(contains(m, "json.exception")) << m;
  }
}

TEST(LayerOptions, PrivateErrorsNeverContainKeyMaterial) {
  const std::string key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";  // unpadded: invalid
  auto r = parse_private_options("{\"symkey\":\"" + key_b64 + "\"}");
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(contains(r.status().message(), "AAECAwQF")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "symkey")) << r.status().message();
  auto t = parse_private_options("{\"symkey\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"");
  ASSERT_FALSE(t.ok());
  EXPECT_FALSE(contains(t.status().message(), "AAECAwQF")) << t.status().message();
}

TEST(LayerOptions, CipherOptionNamesInMessagesStayOnOneLine) {
  // A member name with a newline, a control byte and 200 more bytes.
  const std::string name = "a\\nb\\u0007" + std::string(200, 'x');
  for (bool priv : {false, true}) {
    const std::string json = "{\"cipheroptions\":{\"" + name + "\":5}}";
    const Status s =
        priv ? parse_private_options(json).status() : parse_public_options(json).status();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kDataError);
    EXPECT_EQ(s.message().find_first_of("\r\n\a"), std::string::npos) << s.message();
    EXPECT_TRUE(contains(s.message(), "cipheroptions[\"a?b?xxx")) << s.message();
    EXPECT_LT(s.message().size(), 200u) << s.message();
  }
}

TEST(LayerOptions, ValidateAcceptsGoodOptions) {
  EXPECT_TRUE(validate_for_decryption(GoodPublic(), GoodPrivate()).ok());
  // Other public cipher options (not a nonce) are tolerated.
  PublicLayerOptions pub = GoodPublic();
  pub.cipher_options["other"] = {1, 2};
  EXPECT_TRUE(validate_for_decryption(pub, GoodPrivate()).ok());
}

TEST(LayerOptions, ValidateCipher) {
  PublicLayerOptions pub = GoodPublic();
  pub.cipher.clear();
  Status s = validate_for_decryption(pub, GoodPrivate());
  EXPECT_EQ(s.code(), StatusCode::kDataError);
  EXPECT_TRUE(contains(s.message(), "no cipher type provided")) << s.message();
  pub.cipher = "AES_128_GCM";
  s = validate_for_decryption(pub, GoodPrivate());
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(s.message(), "unsupported cipher type \"AES_128_GCM\"")) << s.message();
  pub.cipher = "aes_256_ctr_hmac_sha256";  // the value is exact, not folded
  EXPECT_EQ(validate_for_decryption(pub, GoodPrivate()).code(), StatusCode::kUnsupported);
}

TEST(LayerOptions, ValidateHmac) {
  PublicLayerOptions pub = GoodPublic();
  pub.hmac.clear();
  Status s = validate_for_decryption(pub, GoodPrivate());
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "HMAC is not provided")) << s.message();
  pub.hmac.assign(31, 1);
  s = validate_for_decryption(pub, GoodPrivate());
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "31")) << s.message();
  pub.hmac.assign(33, 1);
  EXPECT_FALSE(validate_for_decryption(pub, GoodPrivate()).ok());
}

TEST(LayerOptions, ValidateKeyLength) {
  for (size_t n : {0, 16, 24, 31, 33, 64}) {
    PrivateLayerOptions priv = GoodPrivate();
    priv.symkey = Secret(n, 7);
    Status s = validate_for_decryption(GoodPublic(), priv);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.message(), "invalid key length of " + std::to_string(n) + " bytes; need 32 bytes");
  }
}

TEST(LayerOptions, ValidateNonce) {
  PrivateLayerOptions priv = GoodPrivate();
  priv.cipher_options.clear();
  Status s = validate_for_decryption(GoodPublic(), priv);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "nonce")) << s.message();
  for (size_t n : {0, 12, 15, 17, 32}) {
    priv.cipher_options["nonce"] = Secret(n, 3);
    s = validate_for_decryption(GoodPublic(), priv);
    EXPECT_FALSE(s.ok()) << n;
    EXPECT_TRUE(contains(s.message(), std::to_string(n) + " bytes")) << s.message();
  }
}

TEST(LayerOptions, PublicNonceIsRejected) {
  // spec §10.2: Go prefers a public nonce and decrypts to garbage that still
  // passes the HMAC. We refuse the layer.
  auto pub = parse_public_options(
      "{\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"hmac\":\"vEBKso4Uli9LgvO6Yo2y8yQS/"
      "GyMozBLLvnFbo2QS0A=\",\"cipheroptions\":{\"nonce\":\"AAECAwQFBgcICQoLDA0ODw==\"}}");
  ASSERT_TRUE(pub.ok());
  Status s = validate_for_decryption(*pub, GoodPrivate());
  EXPECT_EQ(s.code(), StatusCode::kIntegrityError);
  EXPECT_TRUE(contains(s.message(), "public layer options carry a nonce")) << s.message();
  // Even an identical nonce, and even a wrong-length one.
  PublicLayerOptions p2 = GoodPublic();
  p2.cipher_options["nonce"] = {};
  EXPECT_EQ(validate_for_decryption(p2, GoodPrivate()).code(), StatusCode::kIntegrityError);
}

TEST(LayerOptions, ValidateMessagesNeverContainKeyMaterial) {
  PrivateLayerOptions priv = GoodPrivate();
  priv.symkey = Secret(31, 'A');
  Status s = validate_for_decryption(GoodPublic(), priv);
  EXPECT_FALSE(contains(s.message(), "AAAA"));
}

}  // namespace
}  // namespace layercrypt
