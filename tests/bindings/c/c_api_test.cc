// Tests for the C API (bindings/c/layercrypt.h), linked against
// liblayercrypt.so as a C caller links it: round trips, the Go-made vectors,
// tampering, wrong keys, callbacks that fail midway, descriptor-only calls,
// whole images, and every entry point with NULL and invalid arguments.
#include "bindings/c/layercrypt.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace {

namespace fs = std::filesystem;
using layercrypt::testing::Bytes;
using layercrypt::testing::ocicrypt_vectors_dir;
using layercrypt::testing::read_file;
using layercrypt::testing::read_text;
using layercrypt::testing::ScopedEnv;
using layercrypt::testing::TempDir;
using nlohmann::json;

std::string V(const std::string& rel) { return ocicrypt_vectors_dir() + rel; }

// Memory streams with an optional failure after `fail_after` bytes.
struct MemIn {
  const Bytes* data;
  size_t pos = 0;
  size_t fail_after = SIZE_MAX;
  size_t chunk = 4096;  // return at most this much per call
  static int64_t read(void* ctx, uint8_t* buf, size_t cap) {
    auto* s = static_cast<MemIn*>(ctx);
    if (s->pos >= s->fail_after) return -1;
    size_t n = std::min({cap, s->chunk, s->data->size() - s->pos, s->fail_after - s->pos});
    std::memcpy(buf, s->data->data() + s->pos, n);
    s->pos += n;
    return static_cast<int64_t>(n);
  }
  lc_reader reader() { return {this, &MemIn::read}; }
};

struct MemOut {
  Bytes data;
  size_t fail_after = SIZE_MAX;
  size_t calls = 0;
  static int write(void* ctx, const uint8_t* buf, size_t len) {
    auto* s = static_cast<MemOut*>(ctx);
    ++s->calls;
    if (s->data.size() + len > s->fail_after) return -1;
    s->data.insert(s->data.end(), buf, buf + len);
    return 0;
  }
  lc_writer writer() { return {this, &MemOut::write}; }
};

struct EncCfg {
  lc_encrypt_config* p = lc_encrypt_config_new();
  ~EncCfg() { lc_encrypt_config_free(p); }
};
struct DecCfg {
  lc_decrypt_config* p = lc_decrypt_config_new();
  ~DecCfg() { lc_decrypt_config_free(p); }
};
struct Layer {
  lc_layer* p = nullptr;
  ~Layer() { lc_layer_free(p); }
};
struct CStr {
  char* p = nullptr;
  ~CStr() { lc_free(p); }
};

// The plain layers of the Go-made images: layer 0 is tar+gzip, 1 a tar.
json expected() { return layercrypt::testing::read_json(V("expected.json")); }
Bytes plain_blob(const std::string& digest) {
  return read_file(V("images/plain/blobs/sha256/" + digest.substr(7)));
}

// vector_tar is the uncompressed tar layer of the Go-made vector images.
Bytes vector_tar() {
  return plain_blob(expected()["images"]["enc-jwe-rsa2048"]["layers"][1]["expected_output_digest"]);
}

// encrypt_tar encrypts the tar layer `tar` for `config`'s recipients into
// `out`.
lc_status encrypt_tar(const lc_encrypt_config* config, const Bytes& tar, MemOut* out,
                      lc_layer** layer) {
  MemIn in{&tar};
  return lc_encrypt_layer(config, "application/vnd.oci.image.layer.v1.tar", in.reader(),
                          out->writer(), layer);
}

TEST(CApi, VersionAndNames) {
  EXPECT_STREQ(lc_version(), "0.1.0");
  EXPECT_NE(std::string(lc_cpu_paths()).find("AES"), std::string::npos);
  EXPECT_STREQ(lc_status_name(LC_ERR_KEY), "LC_ERR_KEY");
  EXPECT_STREQ(lc_status_name(static_cast<lc_status>(99)), "LC_ERR_UNKNOWN");
  lc_free(nullptr);
  lc_layer_free(nullptr);
  lc_encrypt_config_free(nullptr);
  lc_decrypt_config_free(nullptr);
}

TEST(CApi, RoundTripEveryCompression) {
  const json e = expected();
  const json& tar_layer = e["images"]["enc-jwe-rsa2048"]["layers"][1];  // an uncompressed tar
  const Bytes tar = plain_blob(tar_layer["expected_output_digest"]);
  for (const char* compression : {"none", "gzip", "gzip:3", "zstd", "zstd:5"}) {
    SCOPED_TRACE(compression);
    EncCfg enc;
    ASSERT_EQ(lc_encrypt_config_add_recipient(enc.p, V("keys/rsa2048.pub.pem").c_str()), LC_OK)
        << lc_last_error();
    ASSERT_EQ(lc_encrypt_config_add_recipient(enc.p, ("pkcs7:" + V("keys/pkcs7.cert.pem")).c_str()),
              LC_OK);
    ASSERT_EQ(lc_encrypt_config_set_compression(enc.p, compression), LC_OK);
    MemIn in{&tar};
    MemOut out;
    Layer layer;
    ASSERT_EQ(lc_encrypt_layer(enc.p, nullptr, in.reader(), out.writer(), &layer.p), LC_OK)
        << lc_last_error();
    const json desc = json::parse(lc_layer_descriptor_json(layer.p));
    EXPECT_EQ(desc["size"], out.data.size());
    EXPECT_EQ(lc_layer_size(layer.p), out.data.size());
    EXPECT_EQ(desc["digest"], lc_layer_digest(layer.p));
    EXPECT_EQ(std::string(lc_layer_diff_id(layer.p)), tar_layer["expected_diff_id"]);
    const std::string want_type =
        std::string(compression) == "none" ? "application/vnd.oci.image.layer.v1.tar+encrypted"
        : compression[0] == 'g'            ? "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"
                                : "application/vnd.oci.image.layer.v1.tar+zstd+encrypted";
    EXPECT_EQ(desc["mediaType"], want_type);
    EXPECT_TRUE(desc["annotations"].contains("org.opencontainers.image.enc.keys.jwe"));
    EXPECT_TRUE(desc["annotations"].contains("org.opencontainers.image.enc.keys.pkcs7"));

    // Either recipient decrypts; with DECOMPRESS the tar comes back.
    for (const std::string key : {"keys/rsa2048.pem", "keys/pkcs7.key.pem"}) {
      DecCfg dec;
      ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, V(key).c_str(), nullptr), LC_OK)
          << lc_last_error();
      if (key == "keys/pkcs7.key.pem") {
        ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/pkcs7.cert.pem").c_str(), nullptr),
                  LC_OK);
      }
      MemIn cin{&out.data};
      MemOut plain;
      Layer pl;
      ASSERT_EQ(lc_decrypt_layer(dec.p, lc_layer_descriptor_json(layer.p), cin.reader(),
                                 plain.writer(), LC_DECRYPT_DECOMPRESS, &pl.p),
                LC_OK)
          << lc_last_error();
      EXPECT_EQ(plain.data, tar);
    }
  }
}

TEST(CApi, DecryptsGoMadeLayers) {
  const json e = expected();
  int runs = 0;
  for (const char* image : {"enc-jwe-rsa2048", "enc-jwe-ecp256", "enc-pkcs7"}) {
    const json& img = e["images"][image];
    for (const json& l : img["layers"]) {
      SCOPED_TRACE(std::string(image) + " " + std::string(l["digest"]));
      const std::string desc = read_text(V(l["payloads"]["desc"]));
      const Bytes blob = read_file(V(std::string("images/") + image + "/blobs/sha256/" +
                                     std::string(l["digest"]).substr(7)));
      DecCfg dec;
      ASSERT_EQ(lc_decrypt_config_add_keys_dir(dec.p, V(img["key_dirs_that_decrypt"][0]).c_str()),
                LC_OK)
          << lc_last_error();
      ASSERT_EQ(lc_check_layer_keys(dec.p, desc.c_str()), LC_OK) << lc_last_error();
      CStr plain_digest;
      ASSERT_EQ(lc_layer_plain_digest(dec.p, desc.c_str(), &plain_digest.p), LC_OK);
      EXPECT_EQ(std::string(plain_digest.p), l["expected_output_digest"]);
      MemIn in{&blob};
      MemOut out;
      Layer pl;
      ASSERT_EQ(lc_decrypt_layer(dec.p, desc.c_str(), in.reader(), out.writer(), 0, &pl.p), LC_OK)
          << lc_last_error();
      EXPECT_EQ(out.data, plain_blob(l["expected_output_digest"]));
      EXPECT_EQ(std::string(lc_layer_digest(pl.p)), l["expected_output_digest"]);
      EXPECT_EQ(std::string(lc_layer_media_type(pl.p)), l["expected_output_mediaType"]);
      ++runs;
    }
  }
  EXPECT_EQ(runs, 12);
}

class GoLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    const json l = expected()["images"]["enc-jwe-rsa2048"]["layers"][0];
    desc = read_text(V(l["payloads"]["desc"]));
    blob =
        read_file(V("images/enc-jwe-rsa2048/blobs/sha256/" + std::string(l["digest"]).substr(7)));
    plain = plain_blob(l["expected_output_digest"]);
    ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/rsa2048.pem").c_str(), nullptr), LC_OK);
  }
  std::string desc;
  Bytes blob, plain;
  DecCfg dec;
};

TEST_F(GoLayer, TamperedBlobReleasesNothing) {
  Bytes bad = blob;
  bad[bad.size() / 2] ^= 1;
  MemIn in{&bad};
  MemOut out;
  EXPECT_EQ(lc_decrypt_layer(dec.p, desc.c_str(), in.reader(), out.writer(), 0, nullptr),
            LC_ERR_INTEGRITY);
  EXPECT_NE(std::string(lc_last_error()).find("HMAC"), std::string::npos) << lc_last_error();
  EXPECT_EQ(out.calls, 0u);
  // Streaming writes first and fails at the end.
  MemIn in2{&bad};
  MemOut out2;
  EXPECT_EQ(lc_decrypt_layer(dec.p, desc.c_str(), in2.reader(), out2.writer(), LC_DECRYPT_STREAM,
                             nullptr),
            LC_ERR_INTEGRITY);
  EXPECT_GT(out2.calls, 0u);
}

TEST_F(GoLayer, WrongKeyAndBadDescriptors) {
  DecCfg other;
  ASSERT_EQ(lc_decrypt_config_add_key_file(other.p, V("keys/ecp256.pem").c_str(), nullptr), LC_OK);
  MemIn in{&blob};
  MemOut out;
  EXPECT_EQ(lc_decrypt_layer(other.p, desc.c_str(), in.reader(), out.writer(), 0, nullptr),
            LC_ERR_KEY);
  EXPECT_NE(std::string(lc_last_error()).find("jwe"), std::string::npos) << lc_last_error();
  EXPECT_EQ(lc_check_layer_keys(other.p, desc.c_str()), LC_ERR_KEY);
  for (const char* bad : {"", "{", "[]", "{\"annotations\":{\"x\":1}}",
                          "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+encrypted\"}"}) {
    SCOPED_TRACE(bad);
    MemIn i{&blob};
    MemOut o;
    const lc_status st = lc_decrypt_layer(dec.p, bad, i.reader(), o.writer(), 0, nullptr);
    EXPECT_NE(st, LC_OK);
    EXPECT_STRNE(lc_last_error(), "");
    EXPECT_EQ(std::string(lc_last_error()).find('\n'), std::string::npos);
    EXPECT_EQ(o.calls, 0u);
  }
}

TEST_F(GoLayer, ADescriptorWithoutWrappedKeysIsADataError) {
  const char* no_keys = "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+encrypted\"}";
  MemIn in{&blob};
  MemOut out;
  EXPECT_EQ(lc_decrypt_layer(dec.p, no_keys, in.reader(), out.writer(), 0, nullptr), LC_ERR_DATA);
  EXPECT_EQ(std::string(lc_last_error()),
            "the layer has no wrapped-key annotations (org.opencontainers.image.enc.keys.*): the "
            "descriptor is not that of an encrypted layer");
  EXPECT_EQ(out.calls, 0u);
  const char* not_encrypted = "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\"}";
  MemIn in2{&blob};
  EXPECT_EQ(lc_decrypt_layer(dec.p, not_encrypted, in2.reader(), out.writer(), 0, nullptr),
            LC_ERR_UNSUPPORTED);
}

TEST_F(GoLayer, CallbacksThatFailMidway) {
  {  // the reader fails halfway: nothing is written
    MemIn in{&blob};
    in.fail_after = blob.size() / 2;
    MemOut out;
    EXPECT_EQ(lc_decrypt_layer(dec.p, desc.c_str(), in.reader(), out.writer(), 0, nullptr),
              LC_ERR_CALLBACK);
    EXPECT_NE(std::string(lc_last_error()).find("reader callback"), std::string::npos)
        << lc_last_error();
    EXPECT_EQ(out.calls, 0u);
  }
  {  // the writer fails after 1000 bytes
    MemIn in{&blob};
    MemOut out;
    out.fail_after = 1000;
    EXPECT_EQ(lc_decrypt_layer(dec.p, desc.c_str(), in.reader(), out.writer(), 0, nullptr),
              LC_ERR_CALLBACK);
    EXPECT_NE(std::string(lc_last_error()).find("writer callback"), std::string::npos)
        << lc_last_error();
  }
  {  // encrypting: the reader fails
    EncCfg enc;
    ASSERT_EQ(lc_encrypt_config_add_recipient(enc.p, V("keys/rsa2048.pub.pem").c_str()), LC_OK);
    MemIn in{&plain};
    in.fail_after = 70000;
    MemOut out;
    Layer layer;
    EXPECT_EQ(lc_encrypt_layer(enc.p, nullptr, in.reader(), out.writer(), &layer.p),
              LC_ERR_CALLBACK);
    EXPECT_EQ(layer.p, nullptr);
  }
  {  // a reader that claims more than it was asked for
    struct Liar {
      static int64_t read(void*, uint8_t*, size_t cap) { return static_cast<int64_t>(cap) + 1; }
    };
    MemOut out;
    EXPECT_EQ(lc_decrypt_layer(dec.p, desc.c_str(), lc_reader{nullptr, &Liar::read}, out.writer(),
                               0, nullptr),
              LC_ERR_CALLBACK);
  }
}

TEST_F(GoLayer, AddRecipientsToADescriptor) {
  EncCfg more;
  ASSERT_EQ(lc_encrypt_config_add_recipient(more.p, ("jwe:" + V("keys/ecp256.pub.pem")).c_str()),
            LC_OK);
  CStr out;
  ASSERT_EQ(lc_add_recipients(dec.p, more.p, desc.c_str(), &out.p), LC_OK) << lc_last_error();
  const json before = json::parse(desc), after = json::parse(out.p);
  EXPECT_EQ(after["digest"], before["digest"]);
  EXPECT_EQ(after["size"], before["size"]);
  DecCfg ec;
  ASSERT_EQ(lc_decrypt_config_add_key_file(ec.p, V("keys/ecp256.pem").c_str(), nullptr), LC_OK);
  EXPECT_EQ(lc_check_layer_keys(ec.p, desc.c_str()), LC_ERR_KEY);
  EXPECT_EQ(lc_check_layer_keys(ec.p, out.p), LC_OK) << lc_last_error();
  MemIn in{&blob};
  MemOut plain_out;
  ASSERT_EQ(lc_decrypt_layer(ec.p, out.p, in.reader(), plain_out.writer(), 0, nullptr), LC_OK);
  EXPECT_EQ(plain_out.data, plain);
  // Without a key that opens it: LC_ERR_KEY, nothing returned.
  CStr none;
  EXPECT_EQ(lc_add_recipients(ec.p, more.p, desc.c_str(), &none.p), LC_ERR_KEY);
  EXPECT_EQ(none.p, nullptr);
}

TEST(CApi, KeysAndPasswords) {
  DecCfg dec;
  const std::string pw = read_text(V("keys/rsa2048.enc.password"));
  const std::string pass = pw.substr(0, pw.find_first_of("\r\n"));
  EXPECT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/rsa2048.enc.pem").c_str(), nullptr),
            LC_ERR_KEY);
  EXPECT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/rsa2048.enc.pem").c_str(), "wrong"),
            LC_ERR_KEY);
  EXPECT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/rsa2048.enc.pem").c_str(), pass.c_str()),
            LC_OK)
      << lc_last_error();
  const Bytes jwk = read_file(V("keys/ecp256.jwk.json"));
  EXPECT_EQ(lc_decrypt_config_add_key(dec.p, jwk.data(), jwk.size(), nullptr, 0), LC_OK)
      << lc_last_error();
  const Bytes pub = read_file(V("keys/rsa2048.pub.pem"));
  EXPECT_EQ(lc_decrypt_config_add_key(dec.p, pub.data(), pub.size(), nullptr, 0),
            LC_ERR_INVALID_ARGUMENT);
  const char junk[] = "not a key";
  EXPECT_NE(lc_decrypt_config_add_key(dec.p, reinterpret_cast<const uint8_t*>(junk), sizeof junk,
                                      nullptr, 0),
            LC_OK);
  EXPECT_EQ(lc_decrypt_config_add_key_file(dec.p, "/nonexistent/key.pem", nullptr), LC_ERR_IO);
  EXPECT_NE(std::string(lc_last_error()).find("/nonexistent/key.pem"), std::string::npos);
  EXPECT_EQ(lc_decrypt_config_add_keys_dir(dec.p, "/nonexistent/dir"), LC_ERR_IO);
  EncCfg enc;
  EXPECT_EQ(lc_encrypt_config_add_recipient(enc.p, V("keys/rsa2048.pem").c_str()),
            LC_ERR_INVALID_ARGUMENT);
  // A pgp recipient needs a public keyring to be looked up in.
  EXPECT_NE(lc_encrypt_config_add_recipient(enc.p, "pgp:someone"), LC_OK);
  EXPECT_EQ(lc_encrypt_config_add_recipient(enc.p, "openpgp:someone"), LC_ERR_UNSUPPORTED);
  EXPECT_EQ(lc_encrypt_config_set_compression(enc.p, "gzip:9"), LC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(lc_encrypt_config_set_compression(enc.p, "brotli"), LC_ERR_INVALID_ARGUMENT);
}

// The pgp scheme: recipients looked up in a public keyring, OpenPGP secret
// keyrings as keys (tests/vectors/pgp/).
TEST(CApi, PgpKeyrings) {
  const std::string dir = std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/pgp/";
  EncCfg enc;
  const lc_status set = lc_encrypt_config_set_gpg_pubring(enc.p, (dir + "pubring.gpg").c_str());
  if (set == LC_ERR_UNSUPPORTED) GTEST_SKIP() << "built without the pgp scheme";
  ASSERT_EQ(set, LC_OK) << lc_last_error();
  EXPECT_EQ(lc_encrypt_config_add_recipient(enc.p, "pgp:alice@example.com"), LC_OK)
      << lc_last_error();
  EXPECT_EQ(lc_encrypt_config_add_recipient(enc.p, "pgp:nobody@example.com"), LC_ERR_KEY);
  EXPECT_NE(std::string(lc_last_error()).find("no key matches pgp recipient"), std::string::npos)
      << lc_last_error();
  EXPECT_EQ(lc_encrypt_config_set_gpg_pubring(enc.p, (dir + "missing.gpg").c_str()), LC_ERR_IO);
  DecCfg dec;
  EXPECT_EQ(lc_decrypt_config_add_key_file(dec.p, (dir + "bob.sec.gpg").c_str(), "bob passphrase"),
            LC_OK)
      << lc_last_error();
  EXPECT_EQ(lc_decrypt_config_add_key_file(dec.p, (dir + "alice.sec.asc").c_str(), nullptr), LC_OK)
      << lc_last_error();
  EXPECT_EQ(lc_decrypt_config_add_key_file(dec.p, (dir + "pubring.gpg").c_str(), nullptr),
            LC_ERR_KEY);
  EXPECT_NE(std::string(lc_last_error()).find("no secret key"), std::string::npos)
      << lc_last_error();
}

// The public keyring as bytes (Go's gpg-pubkeyringfile), the secret
// keyrings as bytes with their passphrases (Go's gpg-privatekeys): a round
// trip for pgp:Bob, and a wrong passphrase named without the passphrase.
TEST(CApi, PgpKeyringsAsBytes) {
  const std::string dir = std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/pgp/";
  EncCfg enc;
  const lc_status st = lc_encrypt_config_set_gpg_pubring_data(enc.p, nullptr, 0);
  if (st == LC_ERR_UNSUPPORTED) GTEST_SKIP() << "built without the pgp scheme";
  ASSERT_EQ(st, LC_OK) << lc_last_error();
  EXPECT_EQ(lc_encrypt_config_add_recipient(enc.p, "pgp:Bob"), LC_ERR_KEY);
  EXPECT_NE(std::string(lc_last_error()).find("no OpenPGP public keyring"), std::string::npos)
      << lc_last_error();
  const Bytes pubring = read_file(dir + "pubring.gpg");
  ASSERT_EQ(lc_encrypt_config_set_gpg_pubring_data(enc.p, pubring.data(), pubring.size()), LC_OK)
      << lc_last_error();
  ASSERT_EQ(lc_encrypt_config_add_recipient(enc.p, "pgp:Bob"), LC_OK) << lc_last_error();
  // A recipient keeps the keyring it was found in.
  ASSERT_EQ(lc_encrypt_config_set_gpg_pubring_data(enc.p, nullptr, 0), LC_OK);
  const Bytes tar = vector_tar();
  MemOut blob;
  Layer layer;
  ASSERT_EQ(encrypt_tar(enc.p, tar, &blob, &layer.p), LC_OK) << lc_last_error();
  const char* desc = lc_layer_descriptor_json(layer.p);
  EXPECT_TRUE(json::parse(desc)["annotations"].contains("org.opencontainers.image.enc.keys.pgp"));

  const Bytes bob = read_file(dir + "bob.sec.gpg");
  auto add_bob = [&](lc_decrypt_config* dec, const std::string& passphrase) {
    return lc_decrypt_config_add_key(dec, bob.data(), bob.size(),
                                     reinterpret_cast<const uint8_t*>(passphrase.data()),
                                     passphrase.size());
  };
  const std::string wrong = "not-bobs-passphrase-52";
  DecCfg bad;
  ASSERT_EQ(add_bob(bad.p, wrong), LC_OK) << lc_last_error();
  EXPECT_EQ(lc_check_layer_keys(bad.p, desc), LC_ERR_KEY);
  const std::string msg = lc_last_error();
  EXPECT_NE(msg.find("wrong passphrase for key 0x8ed46b7d6f9a9101"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(wrong), std::string::npos) << msg;

  DecCfg dec;
  ASSERT_EQ(add_bob(dec.p, "bob passphrase"), LC_OK) << lc_last_error();
  MemIn bin{&blob.data};
  MemOut out;
  ASSERT_EQ(lc_decrypt_layer(dec.p, desc, bin.reader(), out.writer(), 0, nullptr), LC_OK)
      << lc_last_error();
  EXPECT_EQ(out.data, tar);
}

TEST(CApi, RecipientsAsBytes) {
  const Bytes pub = read_file(V("keys/ecp256.pub.pem"));
  const Bytes jwk = read_file(V("keys/rsa2048.pub.jwk.json"));
  const Bytes cert = read_file(V("keys/pkcs7.cert.pem"));
  const Bytes priv = read_file(V("keys/ecp256.pem"));
  EncCfg enc;
  EXPECT_EQ(lc_encrypt_config_add_recipient_key(enc.p, "jwe", pub.data(), pub.size()), LC_OK)
      << lc_last_error();
  EXPECT_EQ(lc_encrypt_config_add_recipient_key(enc.p, nullptr, jwk.data(), jwk.size()), LC_OK)
      << lc_last_error();
  EXPECT_EQ(lc_encrypt_config_add_recipient_key(enc.p, "pkcs7", cert.data(), cert.size()), LC_OK);
  EXPECT_EQ(lc_encrypt_config_add_recipient_key(enc.p, "jwe", cert.data(), cert.size()),
            LC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(lc_encrypt_config_add_recipient_key(enc.p, "", priv.data(), priv.size()),
            LC_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lc_last_error()).find("recipient key 4"), std::string::npos)
      << lc_last_error();
  EXPECT_EQ(lc_encrypt_config_add_recipient_key(enc.p, "pgp", pub.data(), pub.size()),
            LC_ERR_UNSUPPORTED);
  EXPECT_EQ(lc_encrypt_config_add_recipient_key(enc.p, "jwe", pub.data(), 0), LC_ERR_DATA);
  EXPECT_EQ(lc_encrypt_config_add_recipient_key(enc.p, "jwe", nullptr, 0), LC_ERR_INVALID_ARGUMENT);
  // The three recipients each open the layer.
  MemOut out;
  Layer layer;
  ASSERT_EQ(encrypt_tar(enc.p, vector_tar(), &out, &layer.p), LC_OK);
  for (const char* key : {"keys/ecp256.pem", "keys/rsa2048.pem"}) {
    DecCfg dec;
    ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, V(key).c_str(), nullptr), LC_OK);
    EXPECT_EQ(lc_check_layer_keys(dec.p, lc_layer_descriptor_json(layer.p)), LC_OK) << key;
  }
}

TEST(CApi, WholeImages) {
  TempDir dir;
  EncCfg enc;
  ASSERT_EQ(lc_encrypt_config_add_recipient(enc.p, V("keys/ecp384.pub.pem").c_str()), LC_OK);
  const std::string src = "oci:" + V("images/plain") + ":v1";
  const std::string encd = "oci:" + dir.file("enc") + ":v1";
  CStr report;
  ASSERT_EQ(lc_encrypt_image(enc.p, src.c_str(), encd.c_str(), &report.p), LC_OK)
      << lc_last_error();
  const json rep = json::parse(report.p);
  EXPECT_EQ(rep["layers"].size(), 4u);
  EXPECT_TRUE(rep.contains("warnings"));
  CStr info;
  ASSERT_EQ(lc_layer_info(encd.c_str(), &info.p), LC_OK) << lc_last_error();
  const json rows = json::parse(info.p);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& r : rows) EXPECT_EQ(r["encryption"], "jwe");

  DecCfg dec;
  ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/ecp384.pem").c_str(), nullptr), LC_OK);
  const std::string decd = "oci:" + dir.file("dec") + ":v1";
  ASSERT_EQ(lc_decrypt_image(dec.p, encd.c_str(), decd.c_str(), nullptr), LC_OK) << lc_last_error();
  CStr plain_info;
  ASSERT_EQ(lc_layer_info(decd.c_str(), &plain_info.p), LC_OK);
  for (const auto& r : json::parse(plain_info.p)) EXPECT_EQ(r["encryption"], "");

  DecCfg wrong;
  ASSERT_EQ(lc_decrypt_config_add_key_file(wrong.p, V("keys/ecp256.pem").c_str(), nullptr), LC_OK);
  const std::string nowhere = "oci:" + dir.file("never") + ":v1";
  EXPECT_EQ(lc_decrypt_image(wrong.p, encd.c_str(), nowhere.c_str(), nullptr), LC_ERR_KEY);
  EXPECT_FALSE(fs::exists(dir.file("never")));  // nothing half-written
  CStr none;
  EXPECT_EQ(lc_layer_info("oci:/nonexistent/image:v1", &none.p), LC_ERR_IO);
  EXPECT_EQ(none.p, nullptr);
}

TEST(CApi, NullArguments) {
  EncCfg enc;
  DecCfg dec;
  Bytes empty;
  MemIn in{&empty};
  MemOut out;
  lc_layer* layer = nullptr;
  char* s = nullptr;
  const lc_reader no_reader{nullptr, nullptr};
  const lc_writer no_writer{nullptr, nullptr};
  const char* desc = "{}";
  struct Case {
    const char* name;
    lc_status st;
  } cases[] = {
      {"config", lc_encrypt_config_add_recipient(nullptr, "x")},
      {"recipient", lc_encrypt_config_add_recipient(enc.p, nullptr)},
      {"config", lc_encrypt_config_set_compression(nullptr, "gzip")},
      {"compression", lc_encrypt_config_set_compression(enc.p, nullptr)},
      {"config",
       lc_decrypt_config_add_key(nullptr, reinterpret_cast<const uint8_t*>("k"), 1, nullptr, 0)},
      {"key", lc_decrypt_config_add_key(dec.p, nullptr, 0, nullptr, 0)},
      {"password",
       lc_decrypt_config_add_key(dec.p, reinterpret_cast<const uint8_t*>("k"), 1, nullptr, 3)},
      {"config", lc_decrypt_config_add_key_file(nullptr, "f", nullptr)},
      {"path", lc_decrypt_config_add_key_file(dec.p, nullptr, nullptr)},
      {"config", lc_decrypt_config_add_keys_dir(nullptr, "d")},
      {"dir", lc_decrypt_config_add_keys_dir(dec.p, nullptr)},
      {"config", lc_encrypt_config_set_gpg_pubring_data(nullptr, nullptr, 0)},
      {"pubring", lc_encrypt_config_set_gpg_pubring_data(enc.p, nullptr, 3)},
      {"config", lc_encrypt_config_set_pkcs11_config(nullptr, "internal")},
      {"config", lc_decrypt_config_set_pkcs11_config(nullptr, "internal")},
      {"config", lc_encrypt_config_set_pkcs11_policy(nullptr, nullptr, 0)},
      {"config", lc_decrypt_config_set_pkcs11_policy(nullptr, nullptr, 0)},
      {"config", lc_encrypt_layer(nullptr, nullptr, in.reader(), out.writer(), &layer)},
      {"in.read", lc_encrypt_layer(enc.p, nullptr, no_reader, out.writer(), &layer)},
      {"out.write", lc_encrypt_layer(enc.p, nullptr, in.reader(), no_writer, &layer)},
      {"layer", lc_encrypt_layer(enc.p, nullptr, in.reader(), out.writer(), nullptr)},
      {"config", lc_decrypt_layer(nullptr, desc, in.reader(), out.writer(), 0, nullptr)},
      {"descriptor_json", lc_decrypt_layer(dec.p, nullptr, in.reader(), out.writer(), 0, nullptr)},
      {"in.read", lc_decrypt_layer(dec.p, desc, no_reader, out.writer(), 0, nullptr)},
      {"out.write", lc_decrypt_layer(dec.p, desc, in.reader(), no_writer, 0, nullptr)},
      {"flags", lc_decrypt_layer(dec.p, desc, in.reader(), out.writer(), 64, nullptr)},
      {"config", lc_check_layer_keys(nullptr, desc)},
      {"descriptor_json", lc_check_layer_keys(dec.p, nullptr)},
      {"config", lc_layer_plain_digest(nullptr, desc, &s)},
      {"descriptor_json", lc_layer_plain_digest(dec.p, nullptr, &s)},
      {"digest_out", lc_layer_plain_digest(dec.p, desc, nullptr)},
      {"keys", lc_add_recipients(nullptr, enc.p, desc, &s)},
      {"recipients", lc_add_recipients(dec.p, nullptr, desc, &s)},
      {"descriptor_json", lc_add_recipients(dec.p, enc.p, nullptr, &s)},
      {"descriptor_out", lc_add_recipients(dec.p, enc.p, desc, nullptr)},
      {"config", lc_encrypt_image(nullptr, "a", "b", nullptr)},
      {"src", lc_encrypt_image(enc.p, nullptr, "b", nullptr)},
      {"dst", lc_encrypt_image(enc.p, "a", nullptr, nullptr)},
      {"config", lc_decrypt_image(nullptr, "a", "b", nullptr)},
      {"src", lc_decrypt_image(dec.p, nullptr, "b", nullptr)},
      {"dst", lc_decrypt_image(dec.p, "a", nullptr, nullptr)},
      {"image", lc_layer_info(nullptr, &s)},
      {"json", lc_layer_info("x", nullptr)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(c.st, LC_ERR_INVALID_ARGUMENT);
  }
  EXPECT_EQ(layer, nullptr);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(out.calls, 0u);
  // The message names the argument; a later call replaces it.
  lc_layer_info(nullptr, &s);
  EXPECT_STREQ(lc_last_error(), "image is NULL");
  EXPECT_EQ(lc_encrypt_config_set_compression(enc.p, "zstd"), LC_OK);
  EXPECT_STREQ(lc_last_error(), "");
  // No recipients: an error, not an unreadable blob.
  EncCfg none;
  const Bytes tar =
      plain_blob(expected()["images"]["enc-jwe-rsa2048"]["layers"][1]["expected_output_digest"]);
  MemIn tin{&tar};
  EXPECT_EQ(lc_encrypt_layer(none.p, nullptr, tin.reader(), out.writer(), &layer),
            LC_ERR_INVALID_ARGUMENT);
}

TEST(CApi, DecryptFromARegularFileDescriptor) {
  // A regular file is read twice, not spooled: the output is right, and a
  // tampered file still releases nothing.
  TempDir dir;
  const json l = expected()["images"]["enc-jwe-ecp256"]["layers"][0];
  const Bytes blob =
      read_file(V("images/enc-jwe-ecp256/blobs/sha256/" + std::string(l["digest"]).substr(7)));
  const std::string desc = read_text(V(l["payloads"]["desc"]));
  DecCfg dec;
  ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/ecp256.pem").c_str(), nullptr), LC_OK);
  for (bool tamper : {false, true}) {
    SCOPED_TRACE(tamper);
    Bytes in_bytes = blob;
    if (tamper) in_bytes[in_bytes.size() - 1] ^= 1;
    layercrypt::testing::write_file(dir.file("in"), in_bytes);
    int in_fd = ::open(dir.file("in").c_str(), O_RDONLY);
    int out_fd = ::open(dir.file("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    Layer pl;
    const lc_status st = lc_decrypt_layer_fd(dec.p, desc.c_str(), in_fd, out_fd, 0, &pl.p);
    ::close(in_fd);
    ::close(out_fd);
    if (tamper) {
      EXPECT_EQ(st, LC_ERR_INTEGRITY);
      EXPECT_TRUE(read_file(dir.file("out")).empty());
    } else {
      ASSERT_EQ(st, LC_OK) << lc_last_error();
      EXPECT_EQ(read_file(dir.file("out")), plain_blob(l["expected_output_digest"]));
      EXPECT_EQ(lc_layer_size(pl.p), blob.size());
    }
  }
  EXPECT_EQ(lc_decrypt_layer_fd(dec.p, desc.c_str(), -1, 1, 0, nullptr), LC_ERR_INVALID_ARGUMENT);
  int major = -1, minor = -1;
  lc_api_version(&major, &minor);
  EXPECT_EQ(major, LC_API_VERSION_MAJOR);
  EXPECT_EQ(minor, LC_API_VERSION_MINOR);
}

TEST(CApi, FileDescriptorStreams) {
  TempDir dir;
  const json l = expected()["images"]["enc-jwe-rsa2048"]["layers"][0];
  const std::string blob_path =
      V("images/enc-jwe-rsa2048/blobs/sha256/" + std::string(l["digest"]).substr(7));
  int in_fd = ::open(blob_path.c_str(), O_RDONLY);
  int out_fd = ::open(dir.file("out").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(in_fd, 0);
  ASSERT_GE(out_fd, 0);
  DecCfg dec;
  ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/rsa2048.pem").c_str(), nullptr), LC_OK);
  const std::string desc = read_text(V(l["payloads"]["desc"]));
  EXPECT_EQ(lc_decrypt_layer(dec.p, desc.c_str(), lc_fd_reader(&in_fd), lc_fd_writer(&out_fd), 0,
                             nullptr),
            LC_OK)
      << lc_last_error();
  ::close(in_fd);
  ::close(out_fd);
  EXPECT_EQ(read_file(dir.file("out")), plain_blob(l["expected_output_digest"]));
}

}  // namespace

// Key providers through the C API: a cmd provider (a toy that reverses the
// options; it protects nothing) wraps and unwraps; a decrypt config without
// providers cannot open the layer; PARAMS reach the provider.
TEST(CApi, KeyProviders) {
  const std::string dir = std::filesystem::temp_directory_path() / "lc-capi-kp";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string prov = dir + "/prov.py";
  {
    std::ofstream f(prov);
    f << "#!/usr/bin/python3\n"
         "import base64, json, sys\n"
         "r = json.load(sys.stdin)\n"
         "open('"
      << dir
      << "/params', 'a').write(json.dumps(r['keyunwrapparams']['dc']) + '\\n'"
         " if r['op'] == 'keyunwrap' else '')\n"
         "if r['op'] == 'keywrap':\n"
         "    d = base64.b64decode(r['keywrapparams']['optsdata'])\n"
         "    print(json.dumps({'keywrapresults': {'annotation': list(d[::-1])}}))\n"
         "else:\n"
         "    a = base64.b64decode(r['keyunwrapparams']['annotation'])\n"
         "    print(json.dumps({'keyunwrapresults': {'optsdata': "
         "base64.b64encode(a[::-1]).decode()}}))\n";
  }
  std::filesystem::permissions(prov, std::filesystem::perms::owner_all);
  const std::string conf = dir + "/kp.json";
  std::ofstream(conf) << R"({"key-providers":{"toy":{"cmd":{"path":")" << prov << R"("}}}})";

  const json e = expected();
  const Bytes tar =
      plain_blob(e["images"]["enc-jwe-rsa2048"]["layers"][1]["expected_output_digest"]);
  EncCfg enc;
  // Not configured: the recipient is refused when the config is read.
  ASSERT_EQ(lc_encrypt_config_set_keyprovider_config(enc.p, (dir + "/none.json").c_str(), 0),
            LC_ERR_IO);
  ASSERT_EQ(lc_encrypt_config_set_keyprovider_config(enc.p, conf.c_str(), 5000), LC_OK)
      << lc_last_error();
  ASSERT_EQ(lc_encrypt_config_add_recipient(enc.p, "provider:toy:key=eu"), LC_OK)
      << lc_last_error();
  MemIn in{&tar};
  MemOut out;
  Layer layer;
  ASSERT_EQ(lc_encrypt_layer(enc.p, nullptr, in.reader(), out.writer(), &layer.p), LC_OK)
      << lc_last_error();
  const json desc = json::parse(lc_layer_descriptor_json(layer.p));
  ASSERT_TRUE(desc["annotations"].contains("org.opencontainers.image.enc.keys.provider.toy"));

  {  // No providers: nothing opens it.
    DecCfg dec;
    ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, V("keys/rsa2048.pem").c_str(), nullptr), LC_OK);
    MemIn cin{&out.data};
    MemOut plain;
    Layer pl;
    EXPECT_EQ(lc_decrypt_layer(dec.p, lc_layer_descriptor_json(layer.p), cin.reader(),
                               plain.writer(), 0, &pl.p),
              LC_ERR_KEY);
    EXPECT_TRUE(plain.data.empty());
  }
  DecCfg dec;
  ASSERT_EQ(lc_decrypt_config_set_keyprovider_config(dec.p, conf.c_str(), 0), LC_OK);
  ASSERT_EQ(lc_decrypt_config_add_provider(dec.p, "provider:toy:node-7"), LC_OK);
  ASSERT_EQ(lc_decrypt_config_add_provider(dec.p, "toy"), LC_ERR_INVALID_ARGUMENT);
  MemIn cin{&out.data};
  MemOut plain;
  Layer pl;
  ASSERT_EQ(lc_decrypt_layer(dec.p, lc_layer_descriptor_json(layer.p), cin.reader(), plain.writer(),
                             LC_DECRYPT_DECOMPRESS, &pl.p),
            LC_OK)
      << lc_last_error();
  EXPECT_EQ(plain.data, tar);
  // The provider got its own parameter only ("node-7"), as base64.
  std::ifstream params(dir + "/params");
  std::string line;
  std::getline(params, line);
  EXPECT_EQ(line, R"({"Parameters": {"toy": ["bm9kZS03"]}})");
  std::filesystem::remove_all(dir);
}

// PKCS#11 through the C API, with an RSA key pair in a SoftHSM2 token made
// by tests/tools/softhsm.py: a pkcs11 key YAML recipient encrypts; the key
// YAML decrypts as a file, as bytes and from a keys directory, under the
// policy set on the config (OCICRYPT_CONFIG, which allows nothing here, is
// not used then); a policy that does not allow the module fails naming it,
// never with the PIN. Skipped without SoftHSM2 or in a build without the
// pkcs11 scheme.
TEST(CApi, Pkcs11KeyYamls) {
  {
    DecCfg probe;
    if (lc_decrypt_config_set_pkcs11_config(probe.p, "internal") == LC_ERR_UNSUPPORTED)
      GTEST_SKIP() << "this build has no pkcs11 scheme";
  }
  if (!fs::exists("/usr/lib/softhsm/libsofthsm2.so") ||
      std::system("command -v softhsm2-util >/dev/null") != 0)
    GTEST_SKIP() << "SoftHSM2 is not installed (apt-get install softhsm2)";
  TempDir dir;
  const std::string pin = "27182818";
  const std::string tools = std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/../tools";
  const std::string make_token = "/usr/bin/python3 -c 'import sys; sys.path.insert(0, \"" + tools +
                                 "\"); import softhsm; softhsm.Token(\"" + dir.path() +
                                 "\", \"lc-capi\", \"" + pin + "\").write_yaml(\"" +
                                 dir.file("keys/node.yaml") + "\")'";
  ASSERT_EQ(std::system(make_token.c_str()), 0) << make_token;
  const std::string yaml = dir.file("keys/node.yaml"), policy = dir.file("ocicrypt.conf"),
                    strict = dir.file("strict.conf");
  ScopedEnv env_policy("OCICRYPT_CONFIG", strict.c_str());
  ScopedEnv env_hash("OCICRYPT_OAEP_HASHALG", "sha1");  // SoftHSM 2.6 does SHA-1 OAEP only

  const json e = expected();
  const Bytes tar =
      plain_blob(e["images"]["enc-jwe-rsa2048"]["layers"][1]["expected_output_digest"]);
  EncCfg enc;
  EXPECT_EQ(lc_encrypt_config_set_pkcs11_config(enc.p, dir.file("missing.conf").c_str()),
            LC_ERR_IO);
  ASSERT_EQ(lc_encrypt_config_set_pkcs11_config(enc.p, policy.c_str()), LC_OK) << lc_last_error();
  ASSERT_EQ(lc_encrypt_config_add_recipient(enc.p, ("pkcs11:" + yaml).c_str()), LC_OK)
      << lc_last_error();
  MemIn in{&tar};
  MemOut out;
  Layer layer;
  ASSERT_EQ(lc_encrypt_layer(enc.p, nullptr, in.reader(), out.writer(), &layer.p), LC_OK)
      << lc_last_error();
  const std::string desc = lc_layer_descriptor_json(layer.p);
  ASSERT_TRUE(
      json::parse(desc)["annotations"].contains("org.opencontainers.image.enc.keys.pkcs11"));

  auto decrypt = [&](const DecCfg& dec) {
    MemIn cin{&out.data};
    MemOut plain;
    Layer pl;
    const lc_status st =
        lc_decrypt_layer(dec.p, desc.c_str(), cin.reader(), plain.writer(), 0, &pl.p);
    if (st == LC_OK) {
      EXPECT_EQ(plain.data, tar);
    }
    return st;
  };
  {  // A key YAML file, under a config file's policy.
    DecCfg dec;
    ASSERT_EQ(lc_decrypt_config_set_pkcs11_config(dec.p, policy.c_str()), LC_OK);
    ASSERT_EQ(lc_decrypt_config_add_key_file(dec.p, yaml.c_str(), nullptr), LC_OK)
        << lc_last_error();
    EXPECT_EQ(decrypt(dec), LC_OK) << lc_last_error();
    EXPECT_EQ(lc_decrypt_config_add_key_file(dec.p, yaml.c_str(), "pw"), LC_ERR_INVALID_ARGUMENT);
  }
  {  // As bytes, under the bare policy Go puts in pkcs11-config.
    DecCfg dec;
    const std::string bare =
        "module-directories: [/usr/lib/softhsm/]\n"
        "allowed-module-paths: [/usr/lib/softhsm/libsofthsm2.so]\n";
    ASSERT_EQ(lc_decrypt_config_set_pkcs11_policy(
                  dec.p, reinterpret_cast<const uint8_t*>(bare.data()), bare.size()),
              LC_OK)
        << lc_last_error();
    EXPECT_EQ(lc_decrypt_config_set_pkcs11_policy(dec.p, nullptr, 3), LC_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(
        lc_decrypt_config_set_pkcs11_policy(dec.p, reinterpret_cast<const uint8_t*>("- a\n"), 4),
        LC_ERR_DATA);
    const Bytes key = read_file(yaml);
    ASSERT_EQ(lc_decrypt_config_add_key(dec.p, key.data(), key.size(), nullptr, 0), LC_OK)
        << lc_last_error();
    EXPECT_EQ(decrypt(dec), LC_OK) << lc_last_error();
  }
  {  // A keys directory under OCICRYPT_CONFIG's policy, which allows nothing;
     // then under a policy set on the config.
    DecCfg dec;
    ASSERT_EQ(lc_decrypt_config_add_keys_dir(dec.p, dir.file("keys").c_str()), LC_OK)
        << lc_last_error();
    EXPECT_EQ(decrypt(dec), LC_ERR_KEY);
    const std::string error = lc_last_error();
    EXPECT_NE(
        error.find("module /usr/lib/softhsm/libsofthsm2.so is not allowed by OCICRYPT_CONFIG (" +
                   strict + ")"),
        std::string::npos)
        << error;
    EXPECT_EQ(error.find(pin), std::string::npos) << error;
    ASSERT_EQ(lc_decrypt_config_set_pkcs11_config(dec.p, policy.c_str()), LC_OK);
    EXPECT_EQ(decrypt(dec), LC_OK) << lc_last_error();
  }
}
