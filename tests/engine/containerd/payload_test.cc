// Tests for engine/containerd/payload.h against the fd-3 payloads in
// tests/vectors/ocicrypt/payloads/ (byte-checked against a real containerd).
#include "engine/containerd/payload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/base64.h"
#include "engine/ocicrypt/annotations.h"
#include "engine/ocicrypt/media_types.h"
#include "tests/support/ocicrypt_vectors.h"

namespace layercrypt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::contains;
using testing::ocicrypt_vectors_dir;
using testing::read_text;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string S(const kernels::SecretBytes& v) { return {v.begin(), v.end()}; }
kernels::SecretBytes Secret(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<fs::path> Files(const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(ocicrypt_vectors_dir() + "payloads"))
    if (e.is_regular_file() && e.path().string().ends_with(suffix)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Builds an Any by hand: field 1 type_url, field 2 value.
std::vector<uint8_t> Any(std::string_view type_url, std::string_view value) {
  auto varint = [](std::vector<uint8_t>& o, uint64_t v) {
    while (v >= 0x80) {
      o.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    o.push_back(static_cast<uint8_t>(v));
  };
  std::vector<uint8_t> o;
  o.push_back(0x0a);
  varint(o, type_url.size());
  o.insert(o.end(), type_url.begin(), type_url.end());
  o.push_back(0x12);
  varint(o, value.size());
  o.insert(o.end(), value.begin(), value.end());
  return o;
}

const char kMinimalJson[] =
    "{\"DecryptConfig\":{\"Parameters\":null},\"Descriptor\":{\"mediaType\":\"application/"
    "vnd.oci.image.layer.v1.tar+encrypted\",\"digest\":\"sha256:00\",\"size\":1}}";

TEST(Payload, EveryPayloadParsesAndReencodesByteIdentically) {
  const auto files = Files(".payload");
  ASSERT_EQ(files.size(), 77u);
  size_t keyed = 0, node = 0;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::string raw = read_text(f.string());
    auto p = parse_payload(Bytes(raw));
    ASSERT_TRUE(p.ok()) << p.status().message();

    // The descriptor is the layer's desc.json.
    const std::string name = f.filename().string();
    const std::string layer = name.substr(0, name.find('.'));
    std::string desc = read_text((f.parent_path() / (layer + ".desc.json")).string());
    while (!desc.empty() && desc.back() == '\n') desc.pop_back();
    EXPECT_EQ(encode_descriptor(p->descriptor), desc);
    EXPECT_TRUE(p->descriptor.annotations.count(std::string(kPubOptsAnnotation)));
    auto pub = read_public_options(p->descriptor.annotations);
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(pub->cipher, "AES_256_CTR_HMAC_SHA256");

    // Re-encoding gives containerd's exact bytes.
    EXPECT_EQ(S(encode_payload(*p)), raw);

    if (name.find(".node.") != std::string::npos) {
      ++node;
      EXPECT_TRUE(p->parameters.is_null());
      EXPECT_TRUE(p->parameters.entries().empty());
      EXPECT_TRUE(p->parameters.privkeys().empty());
      continue;
    }
    ++keyed;
    ASSERT_FALSE(p->parameters.is_null());
    ASSERT_EQ(p->parameters.privkeys().size(), 1u);
    ASSERT_EQ(p->parameters.privkeys_passwords().size(), 1u);
    ASSERT_TRUE(p->parameters.privkeys()[0].has_value());
    const std::string key = S(*p->parameters.privkeys()[0]);
    EXPECT_TRUE(key.starts_with("-----BEGIN")) << key.substr(0, 20);
    const auto& pw = p->parameters.privkeys_passwords()[0];
    if (name.find("encpem-password") != std::string::npos) {
      ASSERT_TRUE(pw.has_value());
      EXPECT_EQ(S(*pw), "vectors-pass-1");
      EXPECT_EQ(key, read_text(ocicrypt_vectors_dir() + "keys/rsa2048.enc.pem"));
    } else {
      EXPECT_FALSE(pw.has_value());
    }
    const bool pkcs7_with_cert = name.find("key-pkcs7.") != std::string::npos;
    EXPECT_EQ(p->parameters.x509s().size(), pkcs7_with_cert ? 1u : 0u);
    if (pkcs7_with_cert) {
      EXPECT_EQ(S(*p->parameters.x509s()[0]),
                read_text(ocicrypt_vectors_dir() + "keys/dirs/pkcs7/pkcs7.cert.pem"));
      EXPECT_EQ(key, read_text(ocicrypt_vectors_dir() + "keys/dirs/pkcs7/pkcs7.key.pem"));
    }
    // "key-<dir>.payload" carries keys/dirs/<dir>/<dir>.pem.
    const std::string dir =
        name.substr(name.find(".key-") + 5, name.size() - 8 - name.find(".key-") - 5);
    if (fs::exists(ocicrypt_vectors_dir() + "keys/dirs/" + dir + "/" + dir + ".pem")) {
      EXPECT_EQ(key, read_text(ocicrypt_vectors_dir() + "keys/dirs/" + dir + "/" + dir + ".pem"))
          << dir;
    }
  }
  EXPECT_EQ(node, 37u);
  EXPECT_EQ(keyed, 40u);
}

TEST(Payload, EncodeFromScratchMatchesGo) {
  Payload p;
  p.descriptor.media_type = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted";
  p.descriptor.digest = "sha256:ab";
  p.descriptor.size = 42;
  p.parameters.append("x509s", Secret("C"));
  p.parameters.append("privkeys", Secret("K1"));
  p.parameters.append("privkeys", Secret("K2"));
  p.parameters.append("privkeys-passwords", std::nullopt);
  p.parameters.append("privkeys-passwords", Secret(""));
  const std::string want =
      "{\"DecryptConfig\":{\"Parameters\":{\"privkeys\":[\"SzE=\",\"SzI=\"],\"privkeys-passwords\":"
      "[null,\"\"],\"x509s\":[\"Qw==\"]}},\"Descriptor\":{\"mediaType\":\"application/"
      "vnd.oci.image.layer.v1.tar+gzip+encrypted\",\"digest\":\"sha256:ab\",\"size\":42}}";
  EXPECT_EQ(S(encode_payload_json(p)), want);
  const auto any = encode_payload(p);
  const std::vector<uint8_t> want_any = Any(kPayloadTypeUrl, want);
  EXPECT_EQ(S(any), std::string(want_any.begin(), want_any.end()));
  auto back = parse_payload(std::span<const uint8_t>(any.data(), any.size()));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(S(encode_payload(*back)), S(any));
  ASSERT_EQ(back->parameters.privkeys_passwords().size(), 2u);
  EXPECT_FALSE(back->parameters.privkeys_passwords()[0].has_value());
  EXPECT_TRUE(back->parameters.privkeys_passwords()[1].has_value());
  EXPECT_TRUE(back->parameters.privkeys_passwords()[1]->empty());
  // An empty (non-nil) Parameters map is {} and round-trips.
  Payload e;
  e.parameters.make_empty();
  EXPECT_TRUE(contains(S(encode_payload_json(e)), "{\"DecryptConfig\":{\"Parameters\":{}},"));
}

TEST(Payload, GoLeniency) {
  const std::string j =
      "{\"decryptconfig\":{\"PARAMETERS\":{\"privkeys\":[\"SzE=\",[75,50],null],\"Privkeys\":null,"
      "\"x509s\":[]}},\"DESCRIPTOR\":{\"MediaType\":\"application/vnd.oci.image.layer.v1.tar+"
      "encrypted\",\"Digest\":\"sha256:00\",\"SIZE\":-5,\"unknown\":{\"a\":[1,2]},\"annotations\":"
      "{\"k\":null},\"urls\":null,\"platform\":null,\"data\":[1,2]},\"Extra\":true}";
  auto p = parse_payload(Any(kPayloadTypeUrl, j));
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->parameters.privkeys().size(), 3u);
  EXPECT_EQ(S(*p->parameters.privkeys()[0]), "K1");
  EXPECT_EQ(S(*p->parameters.privkeys()[1]), "K2");
  EXPECT_FALSE(p->parameters.privkeys()[2].has_value());
  // Parameter names are map keys: exact, so "Privkeys" is a separate entry.
  ASSERT_NE(p->parameters.find("Privkeys"), nullptr);
  EXPECT_TRUE(p->parameters.find("Privkeys")->empty());
  EXPECT_TRUE(p->parameters.x509s().empty());
  EXPECT_EQ(p->descriptor.media_type, "application/vnd.oci.image.layer.v1.tar+encrypted");
  EXPECT_EQ(p->descriptor.size, -5);
  EXPECT_EQ(p->descriptor.annotations.at("k"), "");
  EXPECT_EQ(p->descriptor.data, std::vector<uint8_t>({1, 2}));
  // Null DecryptConfig / Descriptor are no-ops, as for Go structs.
  auto q = parse_payload(Any(kPayloadTypeUrl, "{\"DecryptConfig\":null,\"Descriptor\":null}"));
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->parameters.is_null());
  // Fields in reverse order, unknown fields of every valid wire type skipped.
  // Any("", json) minus its empty field 1 is "12 <len> json".
  std::vector<uint8_t> rev = Any("", kMinimalJson);
  rev.erase(rev.begin(), rev.begin() + 2);
  ASSERT_EQ(rev[0], 0x12);
  const std::string t(kPayloadTypeUrl);
  for (uint8_t b : {0x18, 0x96, 0x01}) rev.push_back(b);              // field 3 varint 150
  for (uint8_t b : {0x21, 1, 2, 3, 4, 5, 6, 7, 8}) rev.push_back(b);  // field 4 fixed64
  for (uint8_t b : {0x2d, 1, 2, 3, 4}) rev.push_back(b);              // field 5 fixed32
  for (uint8_t b : {0x32, 0x02, 0x68, 0x69}) rev.push_back(b);        // field 6 bytes
  rev.push_back(0x0a);
  rev.push_back(static_cast<uint8_t>(t.size()));
  rev.insert(rev.end(), t.begin(), t.end());
  auto r = parse_payload(rev);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->descriptor.size, 1);
  // The last occurrence of a field wins (proto3).
  auto twice = Any("wrong", kMinimalJson);
  const auto good = Any(kPayloadTypeUrl, kMinimalJson);
  twice.insert(twice.end(), good.begin(), good.end());
  EXPECT_TRUE(parse_payload(twice).ok());
}

TEST(Payload, WrongTypeUrl) {
  for (const char* t : {"", "io.containerd.ocicrypt.v1.payload",
                        "type.googleapis.com/io.containerd.ocicrypt.v1.Payload",
                        "io.containerd.ocicrypt.v1.Payload ", "google.protobuf.Empty"}) {
    auto p = parse_payload(Any(t, kMinimalJson));
    ASSERT_FALSE(p.ok()) << t;
    EXPECT_EQ(p.status().code(), StatusCode::kUnsupported);
    EXPECT_TRUE(contains(p.status().message(), std::string("\"") + t + "\""))
        << p.status().message();
    EXPECT_TRUE(contains(p.status().message(), "io.containerd.ocicrypt.v1.Payload"));
  }
  // Binary junk in the type_url is not echoed raw.
  auto p = parse_payload(Any("\x01\x02zz", kMinimalJson));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().find('\x01'), std::string::npos);
}

TEST(Payload, TruncatedAtEveryLengthIsAnErrorNotACrash) {
  const std::string raw =
      read_text(ocicrypt_vectors_dir() + "payloads/enc-pkcs7/layer0.key-pkcs7.payload");
  ASSERT_GT(raw.size(), 1000u);
  for (size_t n = 0; n < raw.size(); ++n) {
    auto p =
        parse_payload(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()), n));
    ASSERT_FALSE(p.ok()) << n;
    EXPECT_EQ(p.status().code(), StatusCode::kDataError) << n << ": " << p.status().message();
    // Key material never appears in a message.
    EXPECT_FALSE(contains(p.status().message(), "LS0tLS1CRUdJTi")) << n;
  }
  auto p = parse_payload(std::span<const uint8_t>());
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(contains(p.status().message(), "empty"));
}

TEST(Payload, MalformedProtobuf) {
  struct Case {
    std::vector<uint8_t> bytes;
    const char* why;
  };
  std::vector<uint8_t> overlong = {0x0a};
  for (int i = 0; i < 10; ++i) overlong.push_back(0xff);
  overlong.push_back(0x01);
  const std::vector<Case> cases = {
      {{0x0a}, "type_url length missing"},
      {{0x0a, 0x05, 'a'}, "type_url shorter than its length"},
      {{0x0a, 0x80}, "truncated length varint"},
      {overlong, "varint longer than 10 bytes"},
      {{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "huge length"},
      {{0x0b, 0x00}, "group wire type 3"},
      {{0x0c}, "group end wire type 4"},
      {{0x0e, 0x00}, "wire type 6"},
      {{0x0f, 0x00}, "wire type 7"},
      {{0x02, 0x00}, "field number 0"},
      {{0x08, 0x01}, "field 1 as varint"},
      {{0x15, 0x01, 0x02, 0x03, 0x04}, "field 2 as fixed32"},
      {{0x19, 0x01}, "truncated fixed64"},
      {{0x18}, "truncated varint value"},
      {{0x80}, "truncated tag"},
  };
  for (const Case& c : cases) {
    auto p = parse_payload(c.bytes);
    ASSERT_FALSE(p.ok()) << c.why;
    EXPECT_EQ(p.status().code(), StatusCode::kDataError) << c.why;
    EXPECT_TRUE(contains(p.status().message(), "protobuf"))
        << c.why << ": " << p.status().message();
  }
  // The right type_url and no value.
  std::vector<uint8_t> no_value = Any(kPayloadTypeUrl, "");
  ASSERT_GE(no_value.size(), 2u);
  no_value.erase(no_value.end() - 2, no_value.end());  // drop the empty field 2
  auto p = parse_payload(no_value);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(contains(p.status().message(), "no value")) << p.status().message();
}

TEST(Payload, BadJson) {
  const char* cases[] = {
      "{",
      "not json",
      "{\"DecryptConfig\":{\"Parameters\":null},}",
      "{\"DecryptConfig\":{\"Parameters\":null}} trailing",
      "[]",
      "null",
      "\"string\"",
      "42",
      "{\"DecryptConfig\":[]}",
      "{\"DecryptConfig\":{\"Parameters\":[]}}",
      "{\"DecryptConfig\":{\"Parameters\":{\"privkeys\":\"SzE=\"}}}",
      "{\"DecryptConfig\":{\"Parameters\":{\"privkeys\":[\"SzE\"]}}}",  // unpadded
      "{\"DecryptConfig\":{\"Parameters\":{\"privkeys\":[1]}}}",
      "{\"DecryptConfig\":{\"Parameters\":{\"privkeys\":[[300]]}}}",
      "{\"Descriptor\":[]}",
      "{\"Descriptor\":{\"mediaType\":5}}",
      "{\"Descriptor\":{\"size\":\"5\"}}",
      "{\"Descriptor\":{\"size\":1.0}}",
      "{\"Descriptor\":{\"size\":1e3}}",
      "{\"Descriptor\":{\"size\":9223372036854775808}}",
      "{\"Descriptor\":{\"size\":-9223372036854775809}}",
      "{\"Descriptor\":{\"urls\":\"x\"}}",
      "{\"Descriptor\":{\"urls\":[1]}}",
      "{\"Descriptor\":{\"annotations\":[]}}",
      "{\"Descriptor\":{\"annotations\":{\"a\":1}}}",
      "{\"Descriptor\":{\"data\":\"!!\"}}",
      "{\"Descriptor\":{\"platform\":\"linux\"}}",
      "{\"Descriptor\":{\"platform\":{\"os.features\":\"x\"}}}",
  };
  for (const char* j : cases) {
    auto p = parse_payload(Any(kPayloadTypeUrl, j));
    ASSERT_FALSE(p.ok()) << "accepted: " << j;
    EXPECT_EQ(p.status().code(), StatusCode::kDataError) << j;
    EXPECT_TRUE(contains(p.status().message(), "payload JSON"))
        << j << ": " << p.status().message();
  }
  auto n = parse_payload(Any(kPayloadTypeUrl, "null"));
  EXPECT_TRUE(contains(n.status().message(), "expected an object")) << n.status().message();
  // Extremes of int64 are fine.
  auto mx = parse_payload(Any(kPayloadTypeUrl, "{\"Descriptor\":{\"size\":9223372036854775807}}"));
  ASSERT_TRUE(mx.ok());
  EXPECT_EQ(mx->descriptor.size, INT64_MAX);
  auto mn = parse_payload(Any(kPayloadTypeUrl, "{\"Descriptor\":{\"size\":-9223372036854775808}}"));
  ASSERT_TRUE(mn.ok());
  EXPECT_EQ(mn->descriptor.size, INT64_MIN);
}

TEST(Payload, DecryptParametersAccessors) {
  DecryptParameters p;
  EXPECT_TRUE(p.is_null());
  EXPECT_EQ(p.find("privkeys"), nullptr);
  EXPECT_TRUE(p.privkeys().empty());
  EXPECT_TRUE(p.x509s().empty());
  p.set("gpg-privatekeys", {Secret("g")});
  EXPECT_FALSE(p.is_null());
  EXPECT_EQ(p.get("gpg-privatekeys").size(), 1u);
  p.append(kParamPrivKeys, Secret("k"));
  p.append(kParamPrivKeysPasswords, std::nullopt);
  p.append(kParamX509s, Secret("c"));
  EXPECT_EQ(S(*p.privkeys()[0]), "k");
  EXPECT_FALSE(p.privkeys_passwords()[0].has_value());
  EXPECT_EQ(S(*p.x509s()[0]), "c");
  EXPECT_EQ(p.entries().size(), 4u);
  EXPECT_EQ(p.entries().begin()->first, "gpg-privatekeys");
}

}  // namespace
}  // namespace layercrypt
