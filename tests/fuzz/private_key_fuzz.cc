// tests/fuzz/private_key_fuzz.cc: hostile key files (PEM, DER, JWK) as
// `--key`, a keys directory, a payload or a `jwe:` recipient gives them.
//
// Property: for any bytes, parse_private_key (without and with a password),
// parse_public_key, parse_certificate and classify_key_file never crash,
// trip a sanitizer or leak, and every failure is a non-empty one-line
// message. classify_key_file agrees with the parsers: a file it calls a
// private key parses as one (and the key it hands back is valid), a public
// key parses with parse_public_key, a certificate with parse_certificate.
//
// Input: the bytes as a key file. The corpus holds the Go-made test keys:
// RSA and EC in PKCS#8, PKCS#1, SEC1, PEM and DER, JWK, an encrypted key,
// public keys and a certificate.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "engine/keywrap/keys/private_key.h"

namespace {

void check_message(const layercrypt::Status& st) {
  if (st.ok() || st.message().empty() || st.message().find('\n') != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using layercrypt::KeyFileKind;
  const std::span<const uint8_t> file(data, size);
  auto priv = layercrypt::parse_private_key(file, std::nullopt);
  if (!priv.ok()) check_message(priv.status());
  auto with_pw = layercrypt::parse_private_key(file, std::string_view("password"));
  if (!with_pw.ok()) check_message(with_pw.status());
  auto pub = layercrypt::parse_public_key(file);
  if (!pub.ok()) check_message(pub.status());
  auto cert = layercrypt::parse_certificate(file);
  if (!cert.ok()) check_message(cert.status());
  layercrypt::PrivateKey key;
  const KeyFileKind kind = layercrypt::classify_key_file(file, &key, nullptr);
  if (kind == KeyFileKind::kPrivateKey && (!priv.ok() || !key.valid())) std::abort();
  if (kind == KeyFileKind::kPublicKey && !pub.ok()) std::abort();
  if (kind == KeyFileKind::kCertificate && !cert.ok()) std::abort();
  if (priv.ok() && !priv->valid()) std::abort();
  if (priv.ok()) (void)priv->public_key().description();
  return 0;
}
