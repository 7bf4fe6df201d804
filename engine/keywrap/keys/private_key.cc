// engine/keywrap/keys/private_key.cc: see private_key.h.
#include "engine/keywrap/keys/private_key.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/base64.h"
#include "engine/core/go_json.h"
#include "kernels/secure_memory.h"

namespace layercrypt {
namespace {

using kernels::SecretBytes;

using kernels::UniquePtr;
using PkeyPtr = UniquePtr<EVP_PKEY>;
using BnPtr = UniquePtr<BIGNUM>;

// Drops OpenSSL's thread-local error queue so failed attempts do not leak
// into unrelated later calls.
struct ErrClear {
  ~ErrClear() { ERR_clear_error(); }
};

// PasswordCb is the only PEM callback we ever pass: it hands over the given
// password or fails; it never reads a terminal.
struct PasswordArg {
  std::optional<std::string_view> password;
  bool asked = false;
};
int PasswordCb(char* buf, int size, int /*rwflag*/, void* u) {
  auto* arg = static_cast<PasswordArg*>(u);
  if (arg == nullptr) return -1;
  arg->asked = true;
  if (!arg->password.has_value()) return -1;
  if (arg->password->size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, arg->password->data(), arg->password->size());
  return static_cast<int>(arg->password->size());
}

std::string_view AsView(std::span<const uint8_t> d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

bool LooksLikeJson(std::span<const uint8_t> d) {
  for (uint8_t c : d) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

bool LooksLikePem(std::span<const uint8_t> d) {
  return AsView(d).find("-----BEGIN ") != std::string_view::npos;
}

// ---- algorithm checks ------------------------------------------------------

std::optional<KeyAlgorithm> AlgorithmOf(EVP_PKEY* pkey) {
  if (pkey == nullptr) return std::nullopt;
  if (EVP_PKEY_is_a(pkey, "RSA")) return KeyAlgorithm::kRsa;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
      return std::nullopt;
    }
    std::string_view g(group, len);
    if (g == "prime256v1" || g == "P-256" || g == "secp256r1") return KeyAlgorithm::kEcP256;
    if (g == "secp384r1" || g == "P-384") return KeyAlgorithm::kEcP384;
    if (g == "secp521r1" || g == "P-521") return KeyAlgorithm::kEcP521;
  }
  return std::nullopt;
}

bool HasPrivatePart(EVP_PKEY* pkey, KeyAlgorithm alg) {
  BIGNUM* bn = nullptr;
  const char* name = alg == KeyAlgorithm::kRsa ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return false;
  BN_clear_free(bn);
  return true;
}

const char* kUnsupportedKeyMsg =
    "key type is not supported; use an RSA key or an EC key on P-256, P-384 or P-521";

// ---- fast DER key parsing ----------------------------------------------------
//
// OpenSSL 3.0's generic private-key parsers (EVP_PKCS82PKEY, d2i_PrivateKey)
// go through its decoder framework, whose first use enumerates every decoder
// and key manager of every provider: ~5 M instructions, 1.5-2 ms, more than
// the rest of a small layer's decryption. The decoders end in the
// type-specific parsers d2i_RSAPrivateKey and d2i_ECPrivateKey; calling them
// directly gives the same key. They are deprecated in 3.0 (legacy key
// objects), so the result is imported into a provider-native key at once,
// the same kind of object the generic path returns. Anything unusual
// (multi-prime RSA, explicit EC parameters, other algorithms, trailing bytes)
// returns null and takes the generic path.
#ifndef OPENSSL_NO_DEPRECATED_3_0
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

// NativeKey returns a provider-native copy of the key `legacy` of `type`
// ("RSA" or "EC"), or null.
PkeyPtr NativeKey(EVP_PKEY* legacy, const char* type) {
  OSSL_PARAM* raw = nullptr;
  if (EVP_PKEY_todata(legacy, EVP_PKEY_KEYPAIR, &raw) != 1) return nullptr;
  kernels::ClearingParamPtr params(raw);  // the array holds the private key
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEYPAIR, params.get()) != 1)
    return nullptr;
  return PkeyPtr(pkey);
}

// FastRsa parses a whole PKCS#1 RSAPrivateKey (two primes).
PkeyPtr FastRsa(const unsigned char* der, long len) {
  const unsigned char* p = der;
  RSA* rsa = d2i_RSAPrivateKey(nullptr, &p, len);
  if (rsa == nullptr) return nullptr;
  PkeyPtr legacy(EVP_PKEY_new());
  if (!legacy || EVP_PKEY_assign_RSA(legacy.get(), rsa) != 1) {
    RSA_free(rsa);
    return nullptr;
  }
  if (p != der + len || RSA_get_multi_prime_extra_count(rsa) != 0) return nullptr;
  return NativeKey(legacy.get(), "RSA");
}

// FastEc parses a whole SEC1 ECPrivateKey on a named P-256/384/521 curve;
// `curve_nid` is the curve of the enclosing PKCS#8 (NID_undef for bare
// SEC1, whose own parameters must then name the curve).
PkeyPtr FastEc(const unsigned char* der, long len, int curve_nid) {
  EC_KEY* ec = nullptr;
  if (curve_nid != NID_undef && (ec = EC_KEY_new_by_curve_name(curve_nid)) == nullptr)
    return nullptr;
  const unsigned char* p = der;
  EC_KEY* parsed = d2i_ECPrivateKey(&ec, &p, len);
  if (parsed == nullptr) {
    EC_KEY_free(ec);
    return nullptr;
  }
  PkeyPtr legacy(EVP_PKEY_new());
  if (!legacy || EVP_PKEY_assign_EC_KEY(legacy.get(), parsed) != 1) {
    EC_KEY_free(parsed);
    return nullptr;
  }
  const EC_GROUP* group = EC_KEY_get0_group(parsed);
  const int nid = group ? EC_GROUP_get_curve_name(group) : NID_undef;
  if (p != der + len ||
      (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 && nid != NID_secp521r1) ||
      (curve_nid != NID_undef && nid != curve_nid) ||
      !(EC_GROUP_get_asn1_flag(group) & OPENSSL_EC_NAMED_CURVE))
    return nullptr;
  return NativeKey(legacy.get(), "EC");
}

// FastPkcs8 parses an unencrypted PKCS#8 RSA or named-curve EC key.
PkeyPtr FastPkcs8(const PKCS8_PRIV_KEY_INFO* p8) {
  const ASN1_OBJECT* oid = nullptr;
  const unsigned char* key = nullptr;
  int key_len = 0;
  const X509_ALGOR* alg = nullptr;
  if (PKCS8_pkey_get0(&oid, &key, &key_len, &alg, p8) != 1) return nullptr;
  switch (OBJ_obj2nid(oid)) {
    case NID_rsaEncryption:
      return FastRsa(key, key_len);
    case NID_X9_62_id_ecPublicKey: {
      int ptype = 0;
      const void* pval = nullptr;
      X509_ALGOR_get0(nullptr, &ptype, &pval, alg);
      if (ptype != V_ASN1_OBJECT) return nullptr;
      const int curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(pval));
      return curve == NID_undef ? nullptr : FastEc(key, key_len, curve);
    }
    default:
      return nullptr;
  }
}

// FastTyped parses PKCS#1 RSA (EVP_PKEY_RSA) or SEC1 EC (EVP_PKEY_EC) DER.
PkeyPtr FastTyped(int type, std::span<const uint8_t> der) {
  const long len = static_cast<long>(der.size());
  return type == EVP_PKEY_RSA ? FastRsa(der.data(), len) : FastEc(der.data(), len, NID_undef);
}

#pragma GCC diagnostic pop
#else
PkeyPtr FastPkcs8(const PKCS8_PRIV_KEY_INFO*) { return nullptr; }
PkeyPtr FastTyped(int, std::span<const uint8_t>) { return nullptr; }
#endif

// ---- DER attempts ----------------------------------------------------------

// TryDerPkcs8 parses unencrypted PKCS#8 DER (must consume all input).
PkeyPtr TryDerPkcs8(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  UniquePtr<PKCS8_PRIV_KEY_INFO> p8(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (!p8 || p != der.data() + der.size()) return nullptr;
  if (PkeyPtr k = FastPkcs8(p8.get())) return k;
  return PkeyPtr(EVP_PKCS82PKEY(p8.get()));
}

// TryDerTyped parses type-specific DER (PKCS#1 RSA or SEC1 EC).
PkeyPtr TryDerTyped(int type, std::span<const uint8_t> der) {
  if (PkeyPtr k = FastTyped(type, der)) return k;
  const unsigned char* p = der.data();
  PkeyPtr k(d2i_PrivateKey(type, nullptr, &p, static_cast<long>(der.size())));
  if (!k || p != der.data() + der.size()) return nullptr;
  return k;
}

bool IsDerEncryptedPkcs8(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  UniquePtr<X509_SIG> sig(d2i_X509_SIG(nullptr, &p, static_cast<long>(der.size())));
  return sig && p == der.data() + der.size();
}

PkeyPtr TryDerSpki(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  PkeyPtr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!k || p != der.data() + der.size()) return nullptr;
  return k;
}

bool IsDerRsaPublicPkcs1(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  PkeyPtr k(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
  return k && p == der.data() + der.size();
}

UniquePtr<X509> TryDerX509(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != der.data() + der.size()) return nullptr;
  return x;
}

// DerSecondTag returns the tag of the second element inside the outer DER
// SEQUENCE that spans all of `der` (0x02 INTEGER for PKCS#1 RSA, 0x04 OCTET
// STRING for SEC1 EC), or -1 if `der` is not such a SEQUENCE.
int DerSecondTag(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  long len = 0;
  int tag = 0, cls = 0;
  const long total = static_cast<long>(der.size());
  if ((ASN1_get_object(&p, &len, &tag, &cls, total) & 0x80) || tag != V_ASN1_SEQUENCE ||
      p + len != der.data() + der.size())
    return -1;
  const unsigned char* end = p + len;
  long first_len = 0;
  if ((ASN1_get_object(&p, &first_len, &tag, &cls, end - p) & 0x80) || tag != V_ASN1_INTEGER)
    return -1;
  p += first_len;
  long second_len = 0;
  if (p >= end || (ASN1_get_object(&p, &second_len, &tag, &cls, end - p) & 0x80)) return -1;
  return tag;
}

// TryDerPrivate tries PKCS#8, PKCS#1, SEC1 in Go's order. Each typed
// d2i_PrivateKey goes through OpenSSL 3's decoder framework, which costs
// milliseconds, so the structure is checked first: not DER at all (a PEM or
// JWK file), or a SEQUENCE whose second element says RSA or EC.
PkeyPtr TryDerPrivate(std::span<const uint8_t> der) {
  if (der.empty() || der[0] != 0x30) return nullptr;
  if (auto k = TryDerPkcs8(der)) return k;
  const int second = DerSecondTag(der);
  if (second == V_ASN1_INTEGER) return TryDerTyped(EVP_PKEY_RSA, der);
  if (second == V_ASN1_OCTET_STRING) return TryDerTyped(EVP_PKEY_EC, der);
  return nullptr;
}

// DecryptPkcs8 decrypts a DER EncryptedPrivateKeyInfo with `password`.
PkeyPtr DecryptPkcs8(std::span<const uint8_t> der, std::string_view password) {
  const unsigned char* p = der.data();
  UniquePtr<X509_SIG> sig(d2i_X509_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return nullptr;
  UniquePtr<PKCS8_PRIV_KEY_INFO> p8(
      PKCS8_decrypt(sig.get(), password.data(), static_cast<int>(password.size())));
  if (!p8) return nullptr;
  return PkeyPtr(EVP_PKCS82PKEY(p8.get()));
}

// ---- PEM ------------------------------------------------------------------

struct PemBlock {
  std::string name;
  std::string header;
  SecretBytes body;
};

// ReadFirstPem returns the first PEM block of `data`, or nullopt.
std::optional<PemBlock> ReadFirstPem(std::span<const uint8_t> data) {
  UniquePtr<BIO> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return std::nullopt;
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* body = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &body, &len) != 1) return std::nullopt;
  UniquePtr<char> n(name), h(header);
  PemBlock b;
  b.name = name;
  b.header = header;
  b.body.assign(body, body + len);
  OPENSSL_clear_free(body, static_cast<size_t>(len));
  return b;
}

bool IsCertPemName(std::string_view n) {
  return n == "CERTIFICATE" || n == "X509 CERTIFICATE" || n == "TRUSTED CERTIFICATE";
}
bool IsPublicPemName(std::string_view n) {
  return n == "PUBLIC KEY" || n == "RSA PUBLIC KEY" || n == "EC PUBLIC KEY";
}
bool IsPrivatePemName(std::string_view n) {
  return n == "PRIVATE KEY" || n == "RSA PRIVATE KEY" || n == "EC PRIVATE KEY";
}

Status NeedPasswordStatus() {
  return InvalidArgument(
      "encrypted private key needs a password; supply it with the key (file:password)");
}
Status WrongPasswordStatus() {
  return KeyError("wrong password: could not decrypt the encrypted private key");
}
Status PublicGivenStatus() {
  return InvalidArgument(
      "a public key was given where a private key is needed; use the private key file");
}
Status CertGivenStatus() {
  return InvalidArgument(
      "an X.509 certificate was given where a private key is needed; pass it as a "
      "certificate (pkcs7 recipient) and supply the private key as well");
}
Status UnrecognisedStatus() {
  return DataError(
      "unrecognised private key data; expected PEM, DER (PKCS#8, PKCS#1, SEC1) or a JWK");
}

StatusOr<PkeyPtr> ParsePemPrivate(std::span<const uint8_t> data,
                                  std::optional<std::string_view> password) {
  auto block = ReadFirstPem(data);
  if (!block) return DataError("malformed PEM data; expected a private key in PEM format");
  const std::string& name = block->name;
  if (IsCertPemName(name)) return CertGivenStatus();
  if (IsPublicPemName(name)) return PublicGivenStatus();
  if (name == "ENCRYPTED PRIVATE KEY") {
    if (!password.has_value()) return NeedPasswordStatus();
    PkeyPtr k = DecryptPkcs8(block->body, *password);
    if (!k) return WrongPasswordStatus();
    return k;
  }
  if (!IsPrivatePemName(name)) {
    return DataError("PEM block \"" + name + "\" is not a private key");
  }
  SecretBytes body = std::move(block->body);
  if (block->header.find("ENCRYPTED") != std::string::npos) {
    EVP_CIPHER_INFO cipher;
    if (PEM_get_EVP_CIPHER_INFO(block->header.data(), &cipher) != 1) {
      return Unsupported("encrypted PEM uses an unsupported DEK-Info cipher");
    }
    if (!password.has_value()) return NeedPasswordStatus();
    PasswordArg arg{password};
    long len = static_cast<long>(body.size());
    if (PEM_do_header(&cipher, body.data(), &len, PasswordCb, &arg) != 1) {
      return WrongPasswordStatus();
    }
    body.resize(static_cast<size_t>(len));
    PkeyPtr k = TryDerPrivate(body);
    if (!k) return WrongPasswordStatus();  // padding passed by chance, body garbage
    return k;
  }
  PkeyPtr k = TryDerPrivate(body);
  if (!k) return DataError("PEM \"" + name + "\" body is not a valid private key");
  return k;
}

// ---- JWK ------------------------------------------------------------------

// JWKs are read with engine/core/go_json.h, whose strings live in wiping
// memory: a private JWK's d, p, q, dp, dq and qi never sit in ordinary heap.
// Member names match as go-jose's encoding/json matches them (exact or
// case-folded, a later duplicate wins).
const gojson::Value* JwkMember(const gojson::Value& jwk, std::string_view name) {
  const gojson::Value* found = nullptr;
  for (const gojson::Member& m : jwk.members)
    if (gojson::name_matches(std::string_view(m.name.data(), m.name.size()), name))
      found = &m.value;
  return found;
}

// JwkString returns the string member `name`, or nullopt.
std::optional<std::string_view> JwkString(const gojson::Value& jwk, std::string_view name) {
  const gojson::Value* v = JwkMember(jwk, name);
  if (v == nullptr || v->kind != gojson::Value::Kind::kString) return std::nullopt;
  return std::string_view(v->text.data(), v->text.size());
}

StatusOr<BnPtr> JwkBn(const gojson::Value& j, const char* member, size_t want_len, bool secret) {
  const auto text = JwkString(j, member);
  if (!text) return DataError(std::string("JWK is missing member \"") + member + "\"");
  auto bytes = base64url_decode_secret(*text);
  if (!bytes.ok()) return DataError(std::string("JWK member \"") + member + "\" is not base64url");
  if (want_len != 0 && bytes->size() != want_len) {
    return DataError(std::string("JWK member \"") + member +
                     "\" has the wrong length for the curve");
  }
  BIGNUM* bn = secret ? BN_secure_new() : BN_new();
  if (bn == nullptr) return Internal("out of memory");
  if (BN_bin2bn(bytes->data(), static_cast<int>(bytes->size()), bn) == nullptr) {
    BN_clear_free(bn);
    return Internal("BN_bin2bn failed");
  }
  return BnPtr(bn);
}

struct CurveInfo {
  const char* group;
  size_t size;
  KeyAlgorithm alg;
};
std::optional<CurveInfo> CurveByJwkName(std::string_view crv) {
  if (crv == "P-256") return CurveInfo{"prime256v1", 32, KeyAlgorithm::kEcP256};
  if (crv == "P-384") return CurveInfo{"secp384r1", 48, KeyAlgorithm::kEcP384};
  if (crv == "P-521") return CurveInfo{"secp521r1", 66, KeyAlgorithm::kEcP521};
  return std::nullopt;
}

StatusOr<PkeyPtr> FromData(const char* type, OSSL_PARAM_BLD* bld, int selection) {
  UniquePtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return Internal("OSSL_PARAM_BLD_to_param failed");
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1)
    return Internal("EVP_PKEY_fromdata_init failed");
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params.get()) != 1) {
    return DataError(std::string("JWK does not describe a valid ") + type + " key");
  }
  return PkeyPtr(pkey);
}

bool PairwiseOk(EVP_PKEY* pkey) {
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  return ctx && EVP_PKEY_pairwise_check(ctx.get()) == 1;
}

bool PublicOk(EVP_PKEY* pkey) {
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  return ctx && EVP_PKEY_public_check(ctx.get()) == 1;
}

}  // namespace

namespace internal {

StatusOr<EvpPkeyOwner> jwk_to_pkey(std::string_view jwk_json, bool want_private) {
  auto parsed = gojson::parse(jwk_json);
  if (!parsed.ok()) return DataError("JWK is not valid JSON");
  const gojson::Value& j = *parsed;
  if (j.kind != gojson::Value::Kind::kObject) return DataError("JWK is not a JSON object");
  const auto kty_text = JwkString(j, "kty");
  if (!kty_text) return DataError("JWK has no \"kty\" member");
  const std::string kty(*kty_text);
  const bool has_d = JwkMember(j, "d") != nullptr;
  if (want_private && !has_d) {
    if (kty == "RSA" || kty == "EC") return PublicGivenStatus();
  }
  UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld) return Internal("out of memory");
  if (kty == "RSA") {
    LC_ASSIGN_OR_RETURN(BnPtr n, JwkBn(j, "n", 0, false));
    LC_ASSIGN_OR_RETURN(BnPtr e, JwkBn(j, "e", 0, false));
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    std::vector<BnPtr> keep;
    if (!want_private) {
      LC_ASSIGN_OR_RETURN(auto pk, FromData("RSA", bld.get(), EVP_PKEY_PUBLIC_KEY));
      return EvpPkeyOwner(pk.release());
    }
    // go-jose requires n, e, d, p, q; dp, dq, qi are computed when absent.
    LC_ASSIGN_OR_RETURN(BnPtr d, JwkBn(j, "d", 0, true));
    LC_ASSIGN_OR_RETURN(BnPtr p, JwkBn(j, "p", 0, true));
    LC_ASSIGN_OR_RETURN(BnPtr q, JwkBn(j, "q", 0, true));
    UniquePtr<BN_CTX> bctx(BN_CTX_secure_new());
    if (!bctx) return Internal("out of memory");
    auto opt = [&](const char* m) -> StatusOr<BnPtr> {
      if (JwkMember(j, m) == nullptr) return BnPtr(nullptr);
      return JwkBn(j, m, 0, true);
    };
    LC_ASSIGN_OR_RETURN(BnPtr dp, opt("dp"));
    LC_ASSIGN_OR_RETURN(BnPtr dq, opt("dq"));
    LC_ASSIGN_OR_RETURN(BnPtr qi, opt("qi"));
    if (!dp || !dq || !qi) {
      BnPtr one(BN_new()), pm1(BN_secure_new()), qm1(BN_secure_new());
      dp.reset(BN_secure_new());
      dq.reset(BN_secure_new());
      qi.reset(BN_secure_new());
      if (!one || !pm1 || !qm1 || !dp || !dq || !qi || !BN_one(one.get()) ||
          !BN_sub(pm1.get(), p.get(), one.get()) || !BN_sub(qm1.get(), q.get(), one.get()) ||
          !BN_mod(dp.get(), d.get(), pm1.get(), bctx.get()) ||
          !BN_mod(dq.get(), d.get(), qm1.get(), bctx.get()) ||
          BN_mod_inverse(qi.get(), q.get(), p.get(), bctx.get()) == nullptr) {
        return DataError("JWK RSA key has inconsistent p/q values");
      }
    }
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi.get());
    LC_ASSIGN_OR_RETURN(auto pk, FromData("RSA", bld.get(), EVP_PKEY_KEYPAIR));
    if (!PairwiseOk(pk.get()))
      return DataError("JWK RSA private key is inconsistent (n != p*q or bad d)");
    return EvpPkeyOwner(pk.release());
  }
  if (kty == "EC") {
    const auto crv = JwkString(j, "crv");
    if (!crv) return DataError("EC JWK has no \"crv\" member");
    auto curve = CurveByJwkName(*crv);
    if (!curve) return Unsupported("EC JWK curve is not supported; use P-256, P-384 or P-521");
    // go-jose requires x, y (and d) to be exactly the curve's byte size.
    LC_ASSIGN_OR_RETURN(BnPtr x, JwkBn(j, "x", curve->size, false));
    LC_ASSIGN_OR_RETURN(BnPtr y, JwkBn(j, "y", curve->size, false));
    std::vector<uint8_t> point(1 + 2 * curve->size);
    point[0] = 0x04;
    if (BN_bn2binpad(x.get(), point.data() + 1, static_cast<int>(curve->size)) < 0 ||
        BN_bn2binpad(y.get(), point.data() + 1 + curve->size, static_cast<int>(curve->size)) < 0) {
      return DataError("EC JWK coordinates are too large");
    }
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                     point.size());
    BnPtr d;
    if (want_private) {
      LC_ASSIGN_OR_RETURN(d, JwkBn(j, "d", curve->size, true));
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get());
    }
    LC_ASSIGN_OR_RETURN(
        auto pk, FromData("EC", bld.get(), want_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY));
    if (!PublicOk(pk.get())) return DataError("EC JWK point is not on the curve");
    if (want_private && !PairwiseOk(pk.get())) {
      return DataError("EC JWK private key does not match its public point");
    }
    return EvpPkeyOwner(pk.release());
  }
  return Unsupported("JWK key type " + quoted_for_message(kty) +
                     " is not supported; use RSA or EC");
}

}  // namespace internal

// ---- handles ----------------------------------------------------------------

const char* key_algorithm_name(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::kRsa:
      return "RSA";
    case KeyAlgorithm::kEcP256:
      return "EC P-256";
    case KeyAlgorithm::kEcP384:
      return "EC P-384";
    case KeyAlgorithm::kEcP521:
      return "EC P-521";
  }
  return "?";
}

KeyHandle::KeyHandle(const KeyHandle& other) : pkey_(other.pkey_), alg_(other.alg_) {
  if (pkey_ != nullptr) EVP_PKEY_up_ref(pkey_);
}
KeyHandle& KeyHandle::operator=(const KeyHandle& other) {
  if (this != &other) {
    if (other.pkey_ != nullptr) EVP_PKEY_up_ref(other.pkey_);
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
    alg_ = other.alg_;
  }
  return *this;
}
KeyHandle::KeyHandle(KeyHandle&& other) noexcept : pkey_(other.pkey_), alg_(other.alg_) {
  other.pkey_ = nullptr;
}
KeyHandle& KeyHandle::operator=(KeyHandle&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
    alg_ = other.alg_;
    other.pkey_ = nullptr;
  }
  return *this;
}
KeyHandle::~KeyHandle() { EVP_PKEY_free(pkey_); }

int KeyHandle::bits() const { return pkey_ ? EVP_PKEY_get_bits(pkey_) : 0; }

std::string KeyHandle::description() const {
  if (!pkey_) return "no key";
  if (alg_ == KeyAlgorithm::kRsa) return "RSA-" + std::to_string(bits());
  return key_algorithm_name(alg_);
}

StatusOr<PrivateKey> PrivateKey::from_evp(EVP_PKEY* pkey) {
  PkeyPtr owner(pkey);
  auto alg = AlgorithmOf(pkey);
  if (!alg) return Unsupported(kUnsupportedKeyMsg);
  if (!HasPrivatePart(pkey, *alg)) return PublicGivenStatus();
  return PrivateKey(owner.release(), *alg);
}

PublicKey PrivateKey::public_key() const {
  if (!valid()) return PublicKey();
  // Re-export only the public half so the copy cannot leak the private part.
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(evp(), &der);
  if (len <= 0) return PublicKey();
  const unsigned char* p = der;
  EVP_PKEY* pub = d2i_PUBKEY(nullptr, &p, len);
  OPENSSL_free(der);
  if (pub == nullptr) return PublicKey();
  return PublicKey(pub, algorithm());
}

StatusOr<PublicKey> PublicKey::from_evp(EVP_PKEY* pkey) {
  PkeyPtr owner(pkey);
  auto alg = AlgorithmOf(pkey);
  if (!alg) return Unsupported(kUnsupportedKeyMsg);
  return PublicKey(owner.release(), *alg);
}

Certificate::Certificate(const Certificate& other) : x509_(other.x509_) {
  if (x509_) X509_up_ref(x509_);
}
Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    if (other.x509_) X509_up_ref(other.x509_);
    X509_free(x509_);
    x509_ = other.x509_;
  }
  return *this;
}
Certificate::Certificate(Certificate&& other) noexcept : x509_(other.x509_) {
  other.x509_ = nullptr;
}
Certificate& Certificate::operator=(Certificate&& other) noexcept {
  if (this != &other) {
    X509_free(x509_);
    x509_ = other.x509_;
    other.x509_ = nullptr;
  }
  return *this;
}
Certificate::~Certificate() { X509_free(x509_); }

Certificate Certificate::from_x509(X509* x509) {
  Certificate c;
  c.x509_ = x509;
  return c;
}

std::string Certificate::subject() const {
  if (!x509_) return "";
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio) return "";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(x509_), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// ---- parse functions ----------------------------------------------------------

StatusOr<PrivateKey> parse_private_key(std::span<const uint8_t> data,
                                       std::optional<std::string_view> password) {
  ErrClear clear;
  if (data.empty()) return DataError("private key data is empty");
  // 1. DER, in Go's order. Every DER form here is a SEQUENCE; text (PEM,
  // JWK) skips the attempts, each of which costs an OpenSSL error trail.
  if (data[0] == 0x30) {
    if (PkeyPtr k = TryDerPrivate(data)) return PrivateKey::from_evp(k.release());
    if (IsDerEncryptedPkcs8(data)) {
      if (!password.has_value()) return NeedPasswordStatus();
      PkeyPtr k = DecryptPkcs8(data, *password);
      if (!k) return WrongPasswordStatus();
      return PrivateKey::from_evp(k.release());
    }
    if (TryDerX509(data)) return CertGivenStatus();
    if (TryDerSpki(data) || IsDerRsaPublicPkcs1(data)) return PublicGivenStatus();
  }
  // 2. PEM.
  if (LooksLikePem(data)) {
    LC_ASSIGN_OR_RETURN(PkeyPtr k, ParsePemPrivate(data, password));
    return PrivateKey::from_evp(k.release());
  }
  // 3. JWK.
  if (LooksLikeJson(data)) {
    LC_ASSIGN_OR_RETURN(internal::EvpPkeyOwner k,
                        internal::jwk_to_pkey(AsView(data), /*want_private=*/true));
    return PrivateKey::from_evp(k.release());
  }
  return UnrecognisedStatus();
}

StatusOr<PublicKey> parse_public_key(std::span<const uint8_t> data) {
  ErrClear clear;
  if (data.empty()) return DataError("public key data is empty");
  if (PkeyPtr k = TryDerSpki(data)) return PublicKey::from_evp(k.release());
  if (LooksLikePem(data)) {
    auto block = ReadFirstPem(data);
    if (!block) return DataError("malformed PEM data; expected a BEGIN PUBLIC KEY block");
    if (block->name == "PUBLIC KEY") {
      PkeyPtr k = TryDerSpki(block->body);
      if (!k) return DataError("PEM PUBLIC KEY body is not a valid SubjectPublicKeyInfo");
      return PublicKey::from_evp(k.release());
    }
    if (block->name == "RSA PUBLIC KEY") {
      return InvalidArgument(
          "PKCS#1 RSA PUBLIC KEY is not accepted as a recipient (like Go); convert it with "
          "`openssl rsa -RSAPublicKey_in -pubout`");
    }
    if (IsCertPemName(block->name)) {
      return InvalidArgument(
          "an X.509 certificate is not accepted as a jwe recipient (like Go); extract its key "
          "with `openssl x509 -pubkey -noout` or use it as a pkcs7 recipient");
    }
    if (IsPrivatePemName(block->name) || block->name == "ENCRYPTED PRIVATE KEY") {
      return InvalidArgument("a private key was given where a public key is needed");
    }
    return DataError("PEM block \"" + block->name + "\" is not a public key");
  }
  if (LooksLikeJson(data)) {
    // Parsed into wiping memory: a private JWK given here by mistake is not
    // left in ordinary heap.
    auto parsed = gojson::parse(AsView(data));
    if (!parsed.ok() || parsed->kind != gojson::Value::Kind::kObject)
      return DataError("public key JSON does not parse as a JWK");
    const gojson::Value& j = *parsed;
    if (JwkMember(j, "d") != nullptr)
      return InvalidArgument("a private JWK was given where a public key is needed");
    LC_ASSIGN_OR_RETURN(internal::EvpPkeyOwner k,
                        internal::jwk_to_pkey(AsView(data), /*want_private=*/false));
    LC_ASSIGN_OR_RETURN(PublicKey pub, PublicKey::from_evp(k.release()));
    std::string alg(JwkString(j, "alg").value_or(""));
    std::string kid(JwkString(j, "kid").value_or(""));
    pub.set_jwk_members(std::move(alg), std::move(kid));
    return pub;
  }
  if (TryDerX509(data)) {
    return InvalidArgument("an X.509 certificate is not accepted as a jwe recipient (like Go)");
  }
  if (IsDerRsaPublicPkcs1(data)) {
    return InvalidArgument("PKCS#1 RSA public key is not accepted as a recipient (like Go)");
  }
  if (TryDerPrivate(data) || IsDerEncryptedPkcs8(data)) {
    return InvalidArgument("a private key was given where a public key is needed");
  }
  return DataError("unrecognised public key data; expected SubjectPublicKeyInfo PEM/DER or a JWK");
}

StatusOr<Certificate> parse_certificate(std::span<const uint8_t> data) {
  ErrClear clear;
  if (data.empty()) return DataError("certificate data is empty");
  if (LooksLikePem(data)) {
    UniquePtr<BIO> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) return Internal("out of memory");
    // Walk the blocks and take the first certificate, like Go's helpers.
    for (;;) {
      char* name = nullptr;
      char* header = nullptr;
      unsigned char* body = nullptr;
      long len = 0;
      if (PEM_read_bio(bio.get(), &name, &header, &body, &len) != 1) break;
      UniquePtr<char> n(name), h(header);
      UniquePtr<unsigned char> b(body);
      std::string_view nm(name);
      if (IsCertPemName(nm) && nm != "TRUSTED CERTIFICATE") {
        auto x = TryDerX509({body, static_cast<size_t>(len)});
        if (!x) return DataError("PEM CERTIFICATE body is not a valid X.509 certificate");
        return Certificate::from_x509(x.release());
      }
      if (IsPrivatePemName(nm) || nm == "ENCRYPTED PRIVATE KEY" || IsPublicPemName(nm)) {
        return InvalidArgument("a key was given where an X.509 certificate is needed");
      }
    }
    return DataError("no CERTIFICATE block found in PEM data");
  }
  if (auto x = TryDerX509(data)) return Certificate::from_x509(x.release());
  if (TryDerPrivate(data) || TryDerSpki(data)) {
    return InvalidArgument("a key was given where an X.509 certificate is needed");
  }
  return DataError("unrecognised certificate data; expected PEM or DER X.509");
}

const char* key_file_kind_name(KeyFileKind kind) {
  switch (kind) {
    case KeyFileKind::kPrivateKey:
      return "private key";
    case KeyFileKind::kEncryptedPrivateKey:
      return "encrypted private key";
    case KeyFileKind::kCertificate:
      return "certificate";
    case KeyFileKind::kPublicKey:
      return "public key";
    case KeyFileKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

KeyFileKind classify_key_file(std::span<const uint8_t> data, PrivateKey* out_key,
                              Certificate* out_cert) {
  ErrClear clear;
  if (data.empty()) return KeyFileKind::kUnknown;
  auto priv = parse_private_key(data, std::nullopt);
  if (priv.ok()) {
    if (out_key != nullptr) *out_key = std::move(priv).value();
    return KeyFileKind::kPrivateKey;
  }
  const std::string& m = priv.status().message();
  if (m.rfind("encrypted private key needs a password", 0) == 0) {
    return KeyFileKind::kEncryptedPrivateKey;
  }
  if (auto cert = parse_certificate(data); cert.ok()) {
    if (out_cert != nullptr) *out_cert = std::move(cert).value();
    return KeyFileKind::kCertificate;
  }
  if (parse_public_key(data).ok()) return KeyFileKind::kPublicKey;
  if (LooksLikePem(data)) {
    auto block = ReadFirstPem(data);
    if (block && block->name == "RSA PUBLIC KEY") return KeyFileKind::kPublicKey;
  } else if (IsDerRsaPublicPkcs1(data)) {
    return KeyFileKind::kPublicKey;
  }
  return KeyFileKind::kUnknown;
}

}  // namespace layercrypt
