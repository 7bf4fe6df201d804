// engine/keywrap/jwe/jwe.cc: see jwe.h.
#include "engine/keywrap/jwe/jwe.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/core/base64.h"
#include "engine/core/go_json.h"
#include "kernels/aes_gcm.h"
#include "kernels/openssl_ptr.h"
#include "kernels/sha256.h"

namespace layercrypt {
namespace {

using json = nlohmann::json;
using kernels::SecretBytes;

using kernels::UniquePtr;
using PkeyCtxPtr = UniquePtr<EVP_PKEY_CTX>;
using CipherCtxPtr = UniquePtr<EVP_CIPHER_CTX>;

struct ErrClear {
  ~ErrClear() { ERR_clear_error(); }
};

// ---- algorithms -----------------------------------------------------------

enum class KeyAlg { kRsaOaep, kRsaOaep256, kEcdhEsA128Kw, kEcdhEsA192Kw, kEcdhEsA256Kw };
enum class EncAlg { kA128Gcm, kA192Gcm, kA256Gcm, kA128CbcHs256, kA192CbcHs384, kA256CbcHs512 };

std::optional<KeyAlg> KeyAlgByName(std::string_view n) {
  if (n == "RSA-OAEP") return KeyAlg::kRsaOaep;
  if (n == "RSA-OAEP-256") return KeyAlg::kRsaOaep256;
  if (n == "ECDH-ES+A128KW") return KeyAlg::kEcdhEsA128Kw;
  if (n == "ECDH-ES+A192KW") return KeyAlg::kEcdhEsA192Kw;
  if (n == "ECDH-ES+A256KW") return KeyAlg::kEcdhEsA256Kw;
  return std::nullopt;
}

std::optional<EncAlg> EncAlgByName(std::string_view n) {
  if (n == "A128GCM") return EncAlg::kA128Gcm;
  if (n == "A192GCM") return EncAlg::kA192Gcm;
  if (n == "A256GCM") return EncAlg::kA256Gcm;
  if (n == "A128CBC-HS256") return EncAlg::kA128CbcHs256;
  if (n == "A192CBC-HS384") return EncAlg::kA192CbcHs384;
  if (n == "A256CBC-HS512") return EncAlg::kA256CbcHs512;
  return std::nullopt;
}

size_t CekSize(EncAlg e) {
  switch (e) {
    case EncAlg::kA128Gcm:
      return 16;
    case EncAlg::kA192Gcm:
      return 24;
    case EncAlg::kA256Gcm:
      return 32;
    case EncAlg::kA128CbcHs256:
      return 32;
    case EncAlg::kA192CbcHs384:
      return 48;
    case EncAlg::kA256CbcHs512:
      return 64;
  }
  return 0;
}

bool IsEcdh(KeyAlg a) { return a != KeyAlg::kRsaOaep && a != KeyAlg::kRsaOaep256; }

size_t KwKeySize(KeyAlg a) {
  switch (a) {
    case KeyAlg::kEcdhEsA128Kw:
      return 16;
    case KeyAlg::kEcdhEsA192Kw:
      return 24;
    default:
      return 32;
  }
}

const char* JwkCurveName(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::kEcP256:
      return "P-256";
    case KeyAlgorithm::kEcP384:
      return "P-384";
    case KeyAlgorithm::kEcP521:
      return "P-521";
    default:
      return "";
  }
}

size_t CurveBytes(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::kEcP256:
      return 32;
    case KeyAlgorithm::kEcP384:
      return 48;
    case KeyAlgorithm::kEcP521:
      return 66;
    default:
      return 0;
  }
}

// ---- parsing ----------------------------------------------------------------

struct Recipient {
  json header;  // object or null
  std::vector<uint8_t> encrypted_key;
};

struct ParsedJwe {
  std::string serialization;
  json protected_hdr = json::object();
  json unprotected;       // object or null
  std::string auth_data;  // go-jose's computeAuthData
  std::vector<Recipient> recipients;
  std::vector<uint8_t> iv, ciphertext, tag;
};

// HeaderGet returns the merged-header value of `key` for `r`: protected
// first, then unprotected, then the recipient header (go-jose's merge keeps
// the first value set).
const json* HeaderGet(const ParsedJwe& p, const Recipient& r, const char* key) {
  for (const json* h : {&p.protected_hdr, &p.unprotected, &r.header}) {
    if (h->is_object()) {
      auto it = h->find(key);
      if (it != h->end() && !it->is_null()) return &*it;
    }
  }
  return nullptr;
}

std::string HeaderString(const ParsedJwe& p, const Recipient& r, const char* key) {
  const json* v = HeaderGet(p, r, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

StatusOr<std::vector<uint8_t>> DecodeMember(std::string_view text, const char* what) {
  auto r = base64url_decode(text);
  if (!r.ok()) return DataError(std::string("JWE member \"") + what + "\" is not valid base64url");
  return std::move(r).value();
}

StatusOr<std::vector<uint8_t>> OptionalStringMember(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::vector<uint8_t>();
  if (!it->is_string())
    return DataError(std::string("JWE member \"") + name + "\" is not a string");
  return DecodeMember(it->get_ref<const std::string&>(), name);
}

Status ParseProtected(ParsedJwe& p, const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) {
    p.protected_hdr = json::object();
    p.auth_data.clear();
    return Status::Ok();
  }
  json h = json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (h.is_discarded() || !h.is_object()) {
    return DataError("JWE protected header is not a JSON object");
  }
  p.protected_hdr = std::move(h);
  // go-jose re-encodes the decoded protected bytes for the AAD.
  p.auth_data = base64url_encode(bytes);
  return Status::Ok();
}

StatusOr<ParsedJwe> ParseJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return DataError("JWE JSON does not parse as an object");
  ParsedJwe p;
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> prot, OptionalStringMember(j, "protected"));
  LC_RETURN_IF_ERROR(ParseProtected(p, prot));
  if (auto it = j.find("unprotected"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return DataError("JWE \"unprotected\" is not an object");
    p.unprotected = *it;
  }
  json top_header;
  if (auto it = j.find("header"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return DataError("JWE \"header\" is not an object");
    top_header = *it;
  }
  auto rit = j.find("recipients");
  if (rit != j.end() && !rit->is_null() && !(rit->is_array() && rit->empty())) {
    if (!rit->is_array()) return DataError("JWE \"recipients\" is not an array");
    p.serialization = "general JSON";
    for (const json& rj : *rit) {
      if (!rj.is_object()) return DataError("JWE recipient is not an object");
      Recipient r;
      if (auto h = rj.find("header"); h != rj.end() && !h->is_null()) {
        if (!h->is_object()) return DataError("JWE recipient \"header\" is not an object");
        r.header = *h;
      }
      LC_ASSIGN_OR_RETURN(r.encrypted_key, OptionalStringMember(rj, "encrypted_key"));
      p.recipients.push_back(std::move(r));
    }
  } else {
    p.serialization = "flattened JSON";
    Recipient r;
    r.header = top_header;
    LC_ASSIGN_OR_RETURN(r.encrypted_key, OptionalStringMember(j, "encrypted_key"));
    p.recipients.push_back(std::move(r));
  }
  if (auto it = j.find("aad"); it != j.end() && !it->is_null()) {
    LC_ASSIGN_OR_RETURN(std::vector<uint8_t> aad, OptionalStringMember(j, "aad"));
    p.auth_data += "." + base64url_encode(aad);
  }
  LC_ASSIGN_OR_RETURN(p.iv, OptionalStringMember(j, "iv"));
  LC_ASSIGN_OR_RETURN(p.ciphertext, OptionalStringMember(j, "ciphertext"));
  LC_ASSIGN_OR_RETURN(p.tag, OptionalStringMember(j, "tag"));
  return p;
}

StatusOr<ParsedJwe> ParseCompact(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') s.push_back(c);
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    parts.emplace_back(std::string_view(s).substr(
        start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 5) {
    return DataError(
        "JWE is neither JSON nor compact (compact needs five '.'-separated parts, found " +
        std::to_string(parts.size()) + ")");
  }
  ParsedJwe p;
  p.serialization = "compact";
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> prot, DecodeMember(parts[0], "protected"));
  LC_RETURN_IF_ERROR(ParseProtected(p, prot));
  Recipient r;
  LC_ASSIGN_OR_RETURN(r.encrypted_key, DecodeMember(parts[1], "encrypted_key"));
  p.recipients.push_back(std::move(r));
  LC_ASSIGN_OR_RETURN(p.iv, DecodeMember(parts[2], "iv"));
  LC_ASSIGN_OR_RETURN(p.ciphertext, DecodeMember(parts[3], "ciphertext"));
  LC_ASSIGN_OR_RETURN(p.tag, DecodeMember(parts[4], "tag"));
  return p;
}

// Parse parses like go-jose ParseEncrypted and validates algorithms like
// ocicrypt's call (allowed key and content algorithm lists).
StatusOr<ParsedJwe> Parse(std::string_view text) {
  size_t i = 0;
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
    ++i;
  if (i == text.size()) return DataError("JWE text is empty");
  StatusOr<ParsedJwe> parsed = text[i] == '{' ? ParseJson(text.substr(i)) : ParseCompact(text);
  if (!parsed.ok()) return parsed.status();
  ParsedJwe& p = *parsed;
  if (p.recipients.empty()) return DataError("JWE has no recipients");
  for (const Recipient& r : p.recipients) {
    std::string alg = HeaderString(p, r, "alg");
    std::string enc = HeaderString(p, r, "enc");
    if (alg.empty() || enc.empty()) return DataError("JWE is missing its alg/enc headers");
    if (!KeyAlgByName(alg)) {
      return Unsupported(
          "JWE key algorithm " + quoted_for_message(alg) +
          " is not supported (RSA-OAEP, RSA-OAEP-256, ECDH-ES+A128KW/A192KW/A256KW)");
    }
    if (!EncAlgByName(enc)) {
      return Unsupported(
          "JWE content algorithm " + quoted_for_message(enc) +
          " is not supported (A128GCM/A192GCM/A256GCM, A128CBC-HS256/A192CBC-HS384/A256CBC-HS512)");
    }
    if (HeaderGet(p, r, "zip"))
      return Unsupported("JWE uses \"zip\" compression, which ocicrypt never writes");
    if (HeaderGet(p, r, "crit"))
      return Unsupported("JWE has a \"crit\" header with extensions we do not support");
  }
  return parsed;
}

JweSummary Summarize(const ParsedJwe& p) {
  JweSummary s;
  s.serialization = p.serialization;
  if (!p.recipients.empty()) s.enc = HeaderString(p, p.recipients[0], "enc");
  for (const Recipient& r : p.recipients) {
    s.recipient_algs.push_back(HeaderString(p, r, "alg"));
    s.recipient_kids.push_back(HeaderString(p, r, "kid"));
    uint8_t d[32];
    kernels::sha256(r.encrypted_key.data(), r.encrypted_key.size(), d, sizeof d);
    s.recipient_key_digests.push_back(base64url_encode(std::span<const uint8_t>(d, sizeof d)));
  }
  return s;
}

// ---- key unwrapping ------------------------------------------------------------

StatusOr<SecretBytes> RsaOaepDecrypt(const PrivateKey& key, bool sha256,
                                     std::span<const uint8_t> in) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.evp(), nullptr));
  const char* md = sha256 ? "SHA256" : "SHA1";
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), md, nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx.get(), md, nullptr) != 1) {
    return Internal("OpenSSL RSA-OAEP setup failed");
  }
  size_t out_len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &out_len, in.data(), in.size()) != 1) {
    return KeyError("unwrap failed");
  }
  SecretBytes out(out_len);
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &out_len, in.data(), in.size()) != 1) {
    return KeyError("unwrap failed");
  }
  out.resize(out_len);
  return out;
}

// ConcatKdf is NIST SP 800-56A's single-step KDF with SHA-256 as JWE
// ECDH-ES uses it (RFC 7518 §4.6.2), via OpenSSL's SSKDF.
StatusOr<SecretBytes> ConcatKdf(std::span<const uint8_t> z, std::string_view alg_id,
                                std::span<const uint8_t> apu, std::span<const uint8_t> apv,
                                size_t key_len) {
  std::vector<uint8_t> other;
  other.reserve(16 + alg_id.size() + apu.size() + apv.size());
  auto put32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) other.push_back(static_cast<uint8_t>(v >> s));
  };
  put32(static_cast<uint32_t>(alg_id.size()));
  other.insert(other.end(), alg_id.begin(), alg_id.end());
  put32(static_cast<uint32_t>(apu.size()));
  other.insert(other.end(), apu.begin(), apu.end());
  put32(static_cast<uint32_t>(apv.size()));
  other.insert(other.end(), apv.begin(), apv.end());
  put32(static_cast<uint32_t>(key_len * 8));

  UniquePtr<EVP_KDF> kdf(EVP_KDF_fetch(nullptr, "SSKDF", nullptr));
  if (!kdf) return Internal("OpenSSL has no SSKDF");
  UniquePtr<EVP_KDF_CTX> kctx(EVP_KDF_CTX_new(kdf.get()));
  if (!kctx) return Internal("out of memory");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(z.data()),
                                        z.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, other.data(), other.size()),
      OSSL_PARAM_construct_end()};
  SecretBytes out(key_len);
  if (EVP_KDF_derive(kctx.get(), out.data(), out.size(), params) != 1) {
    return Internal("OpenSSL SSKDF derivation failed");
  }
  return out;
}

const EVP_CIPHER* WrapCipher(size_t key_len) {
  switch (key_len) {
    case 16:
      return EVP_aes_128_wrap();
    case 24:
      return EVP_aes_192_wrap();
    case 32:
      return EVP_aes_256_wrap();
    default:
      return nullptr;
  }
}

StatusOr<SecretBytes> AesKw(bool wrap, std::span<const uint8_t> kek, std::span<const uint8_t> in) {
  const EVP_CIPHER* cipher = WrapCipher(kek.size());
  if (cipher == nullptr) return Internal("bad AES key wrap key size");
  if (in.size() < 16 || in.size() % 8 != 0) return KeyError("unwrap failed");
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return Internal("out of memory");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, kek.data(), nullptr, wrap ? 1 : 0) != 1) {
    return Internal("OpenSSL AES key wrap init failed");
  }
  SecretBytes out(in.size() + 16);
  int len = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1 ||
      len < 0) {
    return KeyError("unwrap failed");
  }
  int fin = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin) != 1) return KeyError("unwrap failed");
  out.resize(static_cast<size_t>(len + fin));
  return out;
}

// EcdhZ returns the ECDH shared secret of `mine` and `peer`. OpenSSL checks
// that `peer` is a valid point of the curve unless `peer_checked` says the
// caller already did (a full public-key check costs a scalar multiplication).
StatusOr<SecretBytes> EcdhZ(EVP_PKEY* mine, EVP_PKEY* peer, bool peer_checked = false) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) return Internal("OpenSSL ECDH init failed");
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, peer_checked ? 0 : 1) != 1)
    return KeyError("unwrap failed");
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) return KeyError("unwrap failed");
  SecretBytes z(len);
  if (EVP_PKEY_derive(ctx.get(), z.data(), &len) != 1) return KeyError("unwrap failed");
  z.resize(len);
  return z;
}

StatusOr<std::vector<uint8_t>> OptionalB64Header(const ParsedJwe& p, const Recipient& r,
                                                 const char* k) {
  const json* v = HeaderGet(p, r, k);
  if (!v) return std::vector<uint8_t>();
  if (!v->is_string()) return DataError(std::string("JWE header \"") + k + "\" is not a string");
  return DecodeMember(v->get_ref<const std::string&>(), k);
}

// UnwrapCek returns the CEK of recipient `r` for `key`, or an error (whose
// text is never shown to users for RSA failures).
StatusOr<SecretBytes> UnwrapCek(const ParsedJwe& p, const Recipient& r, KeyAlg alg,
                                const std::string& alg_name, const PrivateKey& key) {
  if (!IsEcdh(alg)) {
    if (key.algorithm() != KeyAlgorithm::kRsa) return KeyError("key type does not match");
    return RsaOaepDecrypt(key, alg == KeyAlg::kRsaOaep256, r.encrypted_key);
  }
  if (key.algorithm() == KeyAlgorithm::kRsa) return KeyError("key type does not match");
  const json* epk = HeaderGet(p, r, "epk");
  if (!epk || !epk->is_object()) return DataError("JWE ECDH-ES recipient has no epk header");
  auto crv = epk->find("crv");
  if (crv == epk->end() || !crv->is_string() || *crv != JwkCurveName(key.algorithm())) {
    return KeyError("epk curve does not match the key");
  }
  if (epk->contains("d")) return DataError("JWE epk header contains a private key");
  // jwk_to_pkey has checked the point (EVP_PKEY_public_check).
  LC_ASSIGN_OR_RETURN(internal::EvpPkeyOwner peer, internal::jwk_to_pkey(epk->dump(), false));
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> apu, OptionalB64Header(p, r, "apu"));
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> apv, OptionalB64Header(p, r, "apv"));
  LC_ASSIGN_OR_RETURN(SecretBytes z, EcdhZ(key.evp(), peer.get(), /*peer_checked=*/true));
  if (z.size() != CurveBytes(key.algorithm())) return Internal("unexpected ECDH secret size");
  LC_ASSIGN_OR_RETURN(SecretBytes kek, ConcatKdf(z, alg_name, apu, apv, KwKeySize(alg)));
  return AesKw(/*wrap=*/false, kek, r.encrypted_key);
}

// ---- content ------------------------------------------------------------------

const EVP_CIPHER* CbcCipher(size_t key_len) {
  switch (key_len) {
    case 16:
      return EVP_aes_128_cbc();
    case 24:
      return EVP_aes_192_cbc();
    case 32:
      return EVP_aes_256_cbc();
    default:
      return nullptr;
  }
}

const char* CbcMd(EncAlg e) {
  switch (e) {
    case EncAlg::kA128CbcHs256:
      return "SHA256";
    case EncAlg::kA192CbcHs384:
      return "SHA384";
    default:
      return "SHA512";
  }
}

// CbcHmacTag computes the RFC 7518 §5.2.2.1 tag T (first half of the HMAC).
StatusOr<std::vector<uint8_t>> CbcHmacTag(EncAlg enc, std::span<const uint8_t> mac_key,
                                          std::string_view aad, std::span<const uint8_t> iv,
                                          std::span<const uint8_t> ct) {
  std::vector<uint8_t> input;
  input.reserve(aad.size() + iv.size() + ct.size() + 8);
  input.insert(input.end(), aad.begin(), aad.end());
  input.insert(input.end(), iv.begin(), iv.end());
  input.insert(input.end(), ct.begin(), ct.end());
  uint64_t al = static_cast<uint64_t>(aad.size()) * 8;
  for (int s = 56; s >= 0; s -= 8) input.push_back(static_cast<uint8_t>(al >> s));
  const EVP_MD* md = EVP_get_digestbyname(CbcMd(enc));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (md == nullptr || HMAC(md, mac_key.data(), static_cast<int>(mac_key.size()), input.data(),
                            input.size(), mac, &mac_len) == nullptr) {
    return Internal("OpenSSL HMAC failed");
  }
  std::vector<uint8_t> t(mac, mac + mac_len / 2);
  kernels::secure_wipe(mac, sizeof(mac));
  return t;
}

StatusOr<SecretBytes> AesCbc(bool encrypt, std::span<const uint8_t> key,
                             std::span<const uint8_t> iv, std::span<const uint8_t> in) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), CbcCipher(key.size()), nullptr, key.data(), iv.data(),
                                encrypt ? 1 : 0) != 1) {
    return Internal("OpenSSL AES-CBC init failed");
  }
  SecretBytes out(in.size() + 16);
  int len = 0, fin = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return KeyError("content decryption failed");
  }
  out.resize(static_cast<size_t>(len + fin));
  return out;
}

// DecryptContent authenticates and decrypts the content with `cek`.
StatusOr<SecretBytes> DecryptContent(const ParsedJwe& p, EncAlg enc, std::span<const uint8_t> cek) {
  if (cek.size() != CekSize(enc)) return KeyError("CEK has the wrong size");
  const auto* aad = reinterpret_cast<const uint8_t*>(p.auth_data.data());
  if (enc == EncAlg::kA128Gcm || enc == EncAlg::kA192Gcm || enc == EncAlg::kA256Gcm) {
    if (p.iv.size() != 12 || p.tag.size() != 16) return KeyError("bad GCM iv/tag length");
    kernels::AesGcmKey gk(cek.data(), cek.size());
    if (!gk.ok()) return Internal("AES-GCM key setup failed");
    SecretBytes out(p.ciphertext.size());
    if (!gk.open(p.iv.data(), p.iv.size(), aad, p.auth_data.size(), p.ciphertext.data(),
                 p.ciphertext.size(), p.tag.data(), p.tag.size(), out.data())) {
      return IntegrityError("tag mismatch");
    }
    return out;
  }
  const size_t half = cek.size() / 2;
  if (p.iv.size() != 16 || p.tag.size() != half) return KeyError("bad CBC iv/tag length");
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> t,
                      CbcHmacTag(enc, cek.first(half), p.auth_data, p.iv, p.ciphertext));
  if (!kernels::constant_time_equal(t.data(), p.tag.data(), half))
    return IntegrityError("tag mismatch");
  return AesCbc(false, cek.subspan(half), p.iv, p.ciphertext);
}

// ---- encryption helpers ------------------------------------------------------

// GoJsonString writes `s` as Go's encoding/json would (HTML-safe escaping).
std::string GoJsonString(std::string_view s) {
  std::string out;
  gojson::append_string(out, s);
  return out;
}

// EcPoint returns the base64url x and y coordinates of an EC key, padded to
// the curve's size as JWK wants them.
StatusOr<std::pair<std::string, std::string>> EcPoint(EVP_PKEY* key, KeyAlgorithm alg) {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
    BN_free(x);
    return Internal("OpenSSL could not export the EC key");
  }
  size_t n = CurveBytes(alg);
  std::vector<uint8_t> xb(n), yb(n);
  BN_bn2binpad(x, xb.data(), static_cast<int>(n));
  BN_bn2binpad(y, yb.data(), static_cast<int>(n));
  BN_free(x);
  BN_free(y);
  return std::make_pair(base64url_encode(xb), base64url_encode(yb));
}

StatusOr<std::string> EpkJson(EVP_PKEY* eph, KeyAlgorithm alg) {
  LC_ASSIGN_OR_RETURN(auto xy, EcPoint(eph, alg));
  // go-jose's rawJSONWebKey member order: kty, crv, x, y.
  return std::string("{\"kty\":\"EC\",\"crv\":\"") + JwkCurveName(alg) + "\",\"x\":\"" + xy.first +
         "\",\"y\":\"" + xy.second + "\"}";
}

struct WrappedRecipient {
  // Header members in Go map (sorted) order: alg, epk, kid.
  std::string alg;
  std::string epk_json;  // empty if none
  std::string kid;
  std::vector<uint8_t> encrypted_key;
};

StatusOr<WrappedRecipient> WrapFor(const PublicKey& pub, std::span<const uint8_t> cek) {
  WrappedRecipient w;
  std::string alg_name = pub.jwk_alg();
  if (alg_name.empty())
    alg_name = pub.algorithm() == KeyAlgorithm::kRsa ? "RSA-OAEP" : "ECDH-ES+A256KW";
  auto alg = KeyAlgByName(alg_name);
  if (!alg) {
    return InvalidArgument("JWK alg \"" + alg_name +
                           "\" is not a supported JWE key algorithm (RSA-OAEP, RSA-OAEP-256, "
                           "ECDH-ES+A128KW/A192KW/A256KW)");
  }
  if (IsEcdh(*alg) == (pub.algorithm() == KeyAlgorithm::kRsa)) {
    return InvalidArgument("JWK alg \"" + alg_name + "\" does not match the " + pub.description() +
                           " key");
  }
  w.alg = alg_name;
  w.kid = pub.jwk_kid();
  if (!IsEcdh(*alg)) {
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pub.evp(), nullptr));
    const char* md = *alg == KeyAlg::kRsaOaep256 ? "SHA256" : "SHA1";
    size_t len = 0;
    if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), md, nullptr) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx.get(), md, nullptr) != 1 ||
        EVP_PKEY_encrypt(ctx.get(), nullptr, &len, cek.data(), cek.size()) != 1) {
      return Internal("OpenSSL RSA-OAEP encryption setup failed");
    }
    w.encrypted_key.resize(len);
    if (EVP_PKEY_encrypt(ctx.get(), w.encrypted_key.data(), &len, cek.data(), cek.size()) != 1) {
      return Internal("OpenSSL RSA-OAEP encryption failed");
    }
    w.encrypted_key.resize(len);
    return w;
  }
  // Ephemeral key on the recipient's curve.
  PkeyCtxPtr gctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pub.evp(), nullptr));
  EVP_PKEY* eph_raw = nullptr;
  if (!gctx || EVP_PKEY_keygen_init(gctx.get()) != 1 ||
      EVP_PKEY_generate(gctx.get(), &eph_raw) != 1) {
    return Internal("OpenSSL could not generate an ephemeral EC key");
  }
  internal::EvpPkeyOwner eph(eph_raw);
  LC_ASSIGN_OR_RETURN(w.epk_json, EpkJson(eph.get(), pub.algorithm()));
  LC_ASSIGN_OR_RETURN(SecretBytes z, EcdhZ(eph.get(), pub.evp()));
  LC_ASSIGN_OR_RETURN(SecretBytes kek, ConcatKdf(z, alg_name, {}, {}, KwKeySize(*alg)));
  LC_ASSIGN_OR_RETURN(SecretBytes wrapped, AesKw(/*wrap=*/true, kek, cek));
  w.encrypted_key.assign(wrapped.begin(), wrapped.end());
  return w;
}

std::string HeaderMembers(const WrappedRecipient& w, bool with_enc) {
  // Sorted keys: alg, enc, epk, kid.
  std::string s = "\"alg\":" + GoJsonString(w.alg);
  if (with_enc) s += ",\"enc\":\"A256GCM\"";
  if (!w.epk_json.empty()) s += ",\"epk\":" + w.epk_json;
  if (!w.kid.empty()) s += ",\"kid\":" + GoJsonString(w.kid);
  return s;
}

}  // namespace

std::string JweSummary::to_string() const {
  std::string s = serialization + " JWE, enc " + (enc.empty() ? "?" : enc) + ", " +
                  std::to_string(recipient_algs.size()) +
                  (recipient_algs.size() == 1 ? " recipient (" : " recipients (");
  for (size_t i = 0; i < recipient_algs.size(); ++i) {
    if (i) s += ", ";
    s += recipient_algs[i];
  }
  return s + ")";
}

StatusOr<JweSummary> jwe_describe(std::string_view jwe_text) {
  LC_ASSIGN_OR_RETURN(ParsedJwe p, Parse(jwe_text));
  return Summarize(p);
}

StatusOr<kernels::SecretBytes> jwe_decrypt(std::string_view jwe_text,
                                           std::span<const PrivateKey> keys) {
  ErrClear clear;
  LC_ASSIGN_OR_RETURN(ParsedJwe p, Parse(jwe_text));
  for (const PrivateKey& key : keys) {
    if (!key.valid()) continue;
    for (const Recipient& r : p.recipients) {
      std::string alg_name = HeaderString(p, r, "alg");
      auto alg = KeyAlgByName(alg_name);
      auto enc = EncAlgByName(HeaderString(p, r, "enc"));
      if (!alg || !enc) continue;
      StatusOr<SecretBytes> cek = UnwrapCek(p, r, *alg, alg_name, key);
      ERR_clear_error();
      if (!cek.ok()) continue;  // uniform: no unwrap/content distinction leaks
      StatusOr<SecretBytes> plain = DecryptContent(p, *enc, *cek);
      if (plain.ok()) return std::move(plain).value();
    }
  }
  return KeyError("no key could unwrap the " + Summarize(p).to_string() + "; tried " +
                  std::to_string(keys.size()) +
                  (keys.size() == 1 ? " private key" : " private keys"));
}

StatusOr<std::string> jwe_encrypt(std::span<const uint8_t> plaintext,
                                  std::span<const PublicKey> recipients) {
  ErrClear clear;
  if (recipients.empty())
    return InvalidArgument("JWE encryption needs at least one recipient public key");
  SecretBytes cek(32);
  std::vector<uint8_t> iv(12);
  if (RAND_bytes(cek.data(), static_cast<int>(cek.size())) != 1 ||
      RAND_bytes(iv.data(), static_cast<int>(iv.size())) != 1) {
    return Internal("OpenSSL RAND_bytes failed");
  }
  std::vector<WrappedRecipient> wrapped;
  for (const PublicKey& pub : recipients) {
    if (!pub.valid()) return InvalidArgument("JWE recipient public key is empty");
    LC_ASSIGN_OR_RETURN(WrappedRecipient w, WrapFor(pub, cek));
    wrapped.push_back(std::move(w));
  }
  const bool single = wrapped.size() == 1;
  std::string protected_json = single ? "{" + HeaderMembers(wrapped[0], /*with_enc=*/true) + "}"
                                      : std::string("{\"enc\":\"A256GCM\"}");
  std::string protected_b64 = base64url_encode(
      {reinterpret_cast<const uint8_t*>(protected_json.data()), protected_json.size()});
  kernels::AesGcmKey gk(cek.data(), cek.size());
  if (!gk.ok()) return Internal("AES-GCM key setup failed");
  std::vector<uint8_t> ct(plaintext.size());
  std::vector<uint8_t> tag(16);
  if (!gk.seal(iv.data(), iv.size(), reinterpret_cast<const uint8_t*>(protected_b64.data()),
               protected_b64.size(), plaintext.data(), plaintext.size(), ct.data(), tag.data())) {
    return Internal("AES-GCM seal failed");
  }
  // go-jose rawJSONWebEncryption member order: protected, unprotected, header,
  // recipients, aad, encrypted_key, iv, ciphertext, tag (omitempty).
  std::string out = "{\"protected\":\"" + protected_b64 + "\"";
  if (!single) {
    out += ",\"recipients\":[";
    for (size_t i = 0; i < wrapped.size(); ++i) {
      if (i) out += ",";
      out += "{\"header\":{" + HeaderMembers(wrapped[i], false) + "},\"encrypted_key\":\"" +
             base64url_encode(wrapped[i].encrypted_key) + "\"}";
    }
    out += "]";
  }
  if (!wrapped[0].encrypted_key.empty()) {
    out += ",\"encrypted_key\":\"" + base64url_encode(wrapped[0].encrypted_key) + "\"";
  }
  out += ",\"iv\":\"" + base64url_encode(iv) + "\"";
  if (!ct.empty()) out += ",\"ciphertext\":\"" + base64url_encode(ct) + "\"";
  out += ",\"tag\":\"" + base64url_encode(tag) + "\"}";
  return out;
}

StatusOr<std::string> jwk_thumbprint(const PublicKey& key) {
  if (!key.valid()) return InvalidArgument("no key to take the thumbprint of");
  std::string members;
  if (key.algorithm() == KeyAlgorithm::kRsa) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    if (EVP_PKEY_get_bn_param(key.evp(), OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(key.evp(), OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
      BN_free(n);
      return Internal("OpenSSL could not export the RSA key");
    }
    std::vector<uint8_t> nb(static_cast<size_t>(BN_num_bytes(n))),
        eb(static_cast<size_t>(BN_num_bytes(e)));
    BN_bn2bin(n, nb.data());
    BN_bn2bin(e, eb.data());
    BN_free(n);
    BN_free(e);
    members = "{\"e\":\"" + base64url_encode(eb) + "\",\"kty\":\"RSA\",\"n\":\"" +
              base64url_encode(nb) + "\"}";
  } else {
    LC_ASSIGN_OR_RETURN(auto xy, EcPoint(key.evp(), key.algorithm()));
    members = std::string("{\"crv\":\"") + JwkCurveName(key.algorithm()) +
              "\",\"kty\":\"EC\",\"x\":\"" + xy.first + "\",\"y\":\"" + xy.second + "\"}";
  }
  uint8_t d[32];
  if (!kernels::sha256(reinterpret_cast<const uint8_t*>(members.data()), members.size(), d,
                       sizeof d))
    return Internal("sha256 failed");
  return base64url_encode(std::span<const uint8_t>(d, sizeof d));
}

StatusOr<std::optional<std::string>> jwe_remove_recipients(std::string_view jwe_text,
                                                           const std::vector<size_t>& drop) {
  LC_ASSIGN_OR_RETURN(ParsedJwe p, Parse(jwe_text));
  auto dropped = [&](size_t i) { return std::find(drop.begin(), drop.end(), i) != drop.end(); };
  if (p.serialization != "general JSON") {
    if (dropped(0)) return std::optional<std::string>();
    return std::optional<std::string>(std::string(jwe_text));
  }
  auto j = nlohmann::ordered_json::parse(jwe_text.begin(), jwe_text.end(), nullptr, false);
  if (j.is_discarded() || !j.contains("recipients") || !j["recipients"].is_array() ||
      j["recipients"].size() != p.recipients.size())
    return DataError("JWE is not JSON with recipients");
  nlohmann::ordered_json kept = nlohmann::ordered_json::array();
  for (size_t i = 0; i < p.recipients.size(); ++i)
    if (!dropped(i)) kept.push_back(j["recipients"][i]);
  if (kept.empty()) return std::optional<std::string>();
  if (kept.size() == p.recipients.size()) return std::optional<std::string>(std::string(jwe_text));
  if (j.contains("encrypted_key") && kept[0].contains("encrypted_key"))
    j["encrypted_key"] = kept[0]["encrypted_key"];
  j["recipients"] = std::move(kept);
  return std::optional<std::string>(j.dump());
}

}  // namespace layercrypt
