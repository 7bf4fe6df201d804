// tests/fuzz/jwe_fuzz.cc: hostile JWE text through jwe_describe and
// jwe_decrypt, with a fixed RSA-2048 and a fixed EC P-256 private key.
//
// Property: for any text, jwe_describe and jwe_decrypt never crash, trip a
// sanitizer or leak, and every failure is a non-empty one-line message. The
// two agree on what parses: where jwe_describe fails, jwe_decrypt fails with
// the same code and message; where it succeeds, jwe_decrypt either succeeds
// or reports kKeyError. A success holds up: decrypting again gives the same
// plaintext, the keys tried one at a time give it too (the first key that
// opens the JWE alone is the one that opened it; keys are tried in order),
// and jwe_encrypt of that plaintext for the two public keys decrypts back to
// it. Nothing is assumed about the plaintext or the header members: a
// mutation that keeps the authenticated parts (protected header, encrypted
// key, iv, ciphertext, tag, aad) is still a valid JWE for our key.
//
// Input: the JWE text (compact, flattened JSON or general JSON). The corpus
// holds the wrapped keys of the Go-made vectors (skopeo's go-jose v2 and
// ctr-enc's go-jose v3), the compact form of two of them, JWEs from our own
// jwe_encrypt, and JWEs for the algorithms ocicrypt does not write
// (RSA-OAEP-256, ECDH-ES+A128KW/A192KW, A128GCM, AxxxCBC-HSyyy, apu/apv,
// unprotected headers, aad).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/keywrap/jwe/jwe.h"
#include "engine/keywrap/keys/private_key.h"
#include "engine/ocicrypt/layer_options.h"

namespace {

using layercrypt::PrivateKey;
using layercrypt::PublicKey;
using layercrypt::Status;
using layercrypt::StatusCode;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "jwe_fuzz: %s\n", what);
  std::abort();
}

PrivateKey load_key(const char* name) {
  const std::string path = std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/ocicrypt/keys/" + name;
  std::ifstream f(path, std::ios::binary);
  const std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)),
                                  std::istreambuf_iterator<char>());
  auto key = layercrypt::parse_private_key(data);
  if (!key.ok()) fail("cannot load a test key from tests/vectors/ocicrypt/keys");
  return *key;
}

// keys returns the fixed private keys, loaded once: RSA-2048 then EC P-256.
const std::vector<PrivateKey>& keys() {
  static const std::vector<PrivateKey> k{load_key("rsa2048.pem"), load_key("ecp256.pem")};
  return k;
}

std::vector<PublicKey> public_keys() {
  std::vector<PublicKey> out;
  for (const PrivateKey& k : keys()) out.push_back(k.public_key());
  return out;
}

// check_message aborts unless `s` is a failure with a one-line message.
void check_message(const Status& s) {
  if (s.ok()) fail("a failure was reported with an OK status");
  if (s.message().empty()) fail("empty error message");
  if (s.message().find_first_of("\r\n") != std::string::npos) fail("multi-line error message");
}

bool same(const layercrypt::kernels::SecretBytes& a, const layercrypt::kernels::SecretBytes& b) {
  return std::string_view(reinterpret_cast<const char*>(a.data()), a.size()) ==
         std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// check_success re-derives a successful decryption of `text` to `plain`.
void check_success(std::string_view text, const layercrypt::kernels::SecretBytes& plain) {
  auto again = layercrypt::jwe_decrypt(text, keys());
  if (!again.ok() || !same(*again, plain)) fail("decrypting twice gave different results");
  bool opened = false;
  for (const PrivateKey& k : keys()) {
    auto alone = layercrypt::jwe_decrypt(text, std::span<const PrivateKey>(&k, 1));
    if (!alone.ok()) continue;
    if (!same(*alone, plain)) fail("the first key that opens the JWE alone gives other bytes");
    opened = true;
    break;
  }
  if (!opened) fail("no key opens alone what the keys opened together");
  auto ours = layercrypt::jwe_encrypt(plain, public_keys());
  if (!ours.ok()) fail("jwe_encrypt failed on a decrypted plaintext");
  auto back = layercrypt::jwe_decrypt(*ours, keys());
  if (!back.ok() || !same(*back, plain)) fail("our own JWE does not decrypt back");
  // The plaintext goes on to the private options parser, as the unwrappers do.
  auto opts =
      layercrypt::parse_private_options(std::span<const uint8_t>(plain.data(), plain.size()));
  if (!opts.ok()) check_message(opts.status());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto summary = layercrypt::jwe_describe(text);
  auto plain = layercrypt::jwe_decrypt(text, keys());
  if (!summary.ok()) {
    check_message(summary.status());
    if (plain.ok()) fail("a JWE that does not parse decrypted");
    if (plain.status().code() != summary.status().code() ||
        plain.status().message() != summary.status().message())
      fail("jwe_decrypt and jwe_describe disagree on a parse failure");
    return 0;
  }
  if (summary->recipient_algs.empty()) fail("a parsed JWE has no recipients");
  if (summary->to_string().find('\n') != std::string::npos) fail("multi-line JWE summary");
  if (!plain.ok()) {
    check_message(plain.status());
    if (plain.status().code() != StatusCode::kKeyError)
      fail("a parsed JWE failed other than kKeyError");
    return 0;
  }
  check_success(text, *plain);
  return 0;
}
