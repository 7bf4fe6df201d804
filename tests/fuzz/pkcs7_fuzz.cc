// tests/fuzz/pkcs7_fuzz.cc: hostile `keys.pkcs7` blobs through the
// hand-written DER reader and writer (engine/keywrap/pkcs7/pkcs7.h).
//
// Property: for any bytes, pkcs7_describe, pkcs7_decrypt (with the Go-made
// test key and certificate) and pkcs7_remove_recipients never crash, trip a
// sanitizer or leak, and fail with a non-empty one-line message. Whatever
// describes also survives removing each recipient in turn: the result is
// nothing (the last one went) or a blob that describes with one recipient
// fewer, and whose remaining recipients decrypt exactly as they did.
//
// Input: the bytes as the DER blob. The corpus holds the PKCS7 blobs of the
// skopeo-made vector images and blobs made by pkcs7_encrypt.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "engine/keywrap/keys/private_key.h"
#include "engine/keywrap/pkcs7/pkcs7.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace {

void check_message(const layercrypt::Status& st) {
  if (st.ok() || st.message().empty() || st.message().find('\n') != std::string::npos) std::abort();
}

struct Keys {
  std::vector<layercrypt::PrivateKey> keys;
  std::vector<layercrypt::Certificate> certs;
};

const Keys& keys() {
  static const Keys* k = [] {
    auto* out = new Keys;
    const std::string dir = layercrypt::testing::ocicrypt_vectors_dir() + "keys/";
    const auto key = layercrypt::testing::read_file(dir + "pkcs7.key.pem");
    const auto cert = layercrypt::testing::read_file(dir + "pkcs7.cert.pem");
    out->keys.push_back(layercrypt::parse_private_key(key, std::nullopt).value());
    out->certs.push_back(layercrypt::parse_certificate(cert).value());
    return out;
  }();
  return *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> blob(data, size);
  auto summary = layercrypt::pkcs7_describe(blob);
  auto plain = layercrypt::pkcs7_decrypt(blob, keys().keys, keys().certs);
  if (!plain.ok()) check_message(plain.status());
  if (!summary.ok()) {
    check_message(summary.status());
    if (layercrypt::pkcs7_remove_recipients(blob, {0}).ok()) std::abort();
    return 0;
  }
  const size_t n = summary->recipient_kinds.size();
  if (summary->recipient_ids.size() != n) std::abort();
  for (size_t i = 0; i < n && i < 4; ++i) {
    auto fewer = layercrypt::pkcs7_remove_recipients(blob, {i});
    if (!fewer.ok()) std::abort();  // what describes can be rewritten
    if (!fewer->has_value()) {
      if (n != 1) std::abort();
      continue;
    }
    auto again = layercrypt::pkcs7_describe(**fewer);
    if (!again.ok() || again->recipient_kinds.size() != n - 1) std::abort();
    if (plain.ok() &&
        summary->recipient_ids[i] != layercrypt::pkcs7_recipient_id(keys().certs[0])) {
      auto back = layercrypt::pkcs7_decrypt(**fewer, keys().keys, keys().certs);
      if (!back.ok() || *back != *plain) std::abort();
    }
  }
  return 0;
}
