// engine/keywrap/pkcs7/pkcs7.cc: see pkcs7.h.
#include "engine/keywrap/pkcs7/pkcs7.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>

#include "kernels/aes_gcm.h"
#include "kernels/openssl_ptr.h"

namespace layercrypt {
namespace {

using kernels::SecretBytes;

struct ErrClear {
  ~ErrClear() { ERR_clear_error(); }
};

// Tlv is one DER element: tag/class, whether constructed, and its bytes.
struct Tlv {
  int tag = 0;
  int cls = 0;
  bool constructed = false;
  std::span<const uint8_t> whole;    // header + contents
  std::span<const uint8_t> content;  // contents only
};

// ReadTlv reads one definite-length element from the front of `in` with
// OpenSSL's ASN1_get_object and advances `in` past it.
std::optional<Tlv> ReadTlv(std::span<const uint8_t>& in) {
  if (in.empty()) return std::nullopt;
  const unsigned char* p = in.data();
  long len = 0;
  int tag = 0, cls = 0;
  int r = ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(in.size()));
  if (r & 0x80) return std::nullopt;  // error or length beyond the input
  if (r & 0x01) return std::nullopt;  // indefinite length (BER) not supported
  size_t hdr = static_cast<size_t>(p - in.data());
  if (len < 0 || hdr + static_cast<size_t>(len) > in.size()) return std::nullopt;
  Tlv t;
  t.tag = tag;
  t.cls = cls;
  t.constructed = (r & V_ASN1_CONSTRUCTED) != 0;
  t.whole = in.first(hdr + static_cast<size_t>(len));
  t.content = in.subspan(hdr, static_cast<size_t>(len));
  in = in.subspan(hdr + static_cast<size_t>(len));
  return t;
}

bool IsUniversal(const Tlv& t, int tag) { return t.cls == V_ASN1_UNIVERSAL && t.tag == tag; }

// Nid returns the OpenSSL NID of an OBJECT IDENTIFIER element, or NID_undef.
int Nid(const Tlv& t) {
  if (!IsUniversal(t, V_ASN1_OBJECT)) return NID_undef;
  const unsigned char* p = t.whole.data();
  ASN1_OBJECT* obj = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(t.whole.size()));
  if (obj == nullptr) return NID_undef;
  int nid = OBJ_obj2nid(obj);
  ASN1_OBJECT_free(obj);
  return nid;
}

std::string NidName(int nid, const Tlv& oid) {
  if (nid != NID_undef) return OBJ_nid2sn(nid);
  const unsigned char* p = oid.whole.data();
  ASN1_OBJECT* obj = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(oid.whole.size()));
  if (obj == nullptr) return "?";
  char buf[128];
  OBJ_obj2txt(buf, sizeof(buf), obj, 1);
  ASN1_OBJECT_free(obj);
  return buf;
}

struct KeyTrans {
  std::span<const uint8_t> issuer;  // whole Name TLV
  std::span<const uint8_t> serial;  // whole INTEGER TLV
  int key_alg_nid = NID_undef;
  std::string key_alg_name;
  std::span<const uint8_t> encrypted_key;
};

struct Envelope {
  // The parts copied unchanged when recipients are removed.
  std::span<const uint8_t> content_type, version, originator, encrypted_content_info;
  std::vector<std::span<const uint8_t>> recipient_infos;  // every RecipientInfo, in order
  std::vector<KeyTrans> recipients;
  size_t other_recipients = 0;  // kari/kekri/pwri/ori: not usable here
  int content_nid = NID_undef;
  std::string content_name;
  Tlv content_params;  // may be empty
  bool has_params = false;
  std::vector<uint8_t> ciphertext;
};

Status Malformed(const char* what) {
  return DataError(std::string("pkcs7 blob is not a valid DER EnvelopedData (") + what + ")");
}

// AppendOctets collects the encryptedContent: [0] primitive (older
// layercrypt), or [0] constructed holding OCTET STRINGs (Go's writers and
// ours write one; CMS allows several, possibly nested constructed ones).
bool AppendOctets(std::span<const uint8_t> in, std::vector<uint8_t>& out, int depth) {
  if (depth > 8) return false;
  while (!in.empty()) {
    auto t = ReadTlv(in);
    if (!t || !IsUniversal(*t, V_ASN1_OCTET_STRING)) return false;
    if (t->constructed) {
      if (!AppendOctets(t->content, out, depth + 1)) return false;
    } else {
      out.insert(out.end(), t->content.begin(), t->content.end());
    }
  }
  return true;
}

StatusOr<Envelope> ParseEnvelope(std::span<const uint8_t> der) {
  std::span<const uint8_t> in = der;
  auto ci = ReadTlv(in);
  if (!ci || !IsUniversal(*ci, V_ASN1_SEQUENCE) || !ci->constructed)
    return Malformed("ContentInfo");
  if (!in.empty()) return Malformed("trailing data");
  std::span<const uint8_t> c = ci->content;
  auto type = ReadTlv(c);
  if (!type || Nid(*type) != NID_pkcs7_enveloped)
    return Malformed("content type is not envelopedData");
  Envelope env;
  env.content_type = type->whole;
  auto explicit0 = ReadTlv(c);
  if (!explicit0 || explicit0->cls != V_ASN1_CONTEXT_SPECIFIC || explicit0->tag != 0)
    return Malformed("[0]");
  std::span<const uint8_t> e0 = explicit0->content;
  auto ed = ReadTlv(e0);
  if (!ed || !IsUniversal(*ed, V_ASN1_SEQUENCE)) return Malformed("EnvelopedData");
  std::span<const uint8_t> e = ed->content;
  auto version = ReadTlv(e);
  if (!version || !IsUniversal(*version, V_ASN1_INTEGER)) return Malformed("version");
  env.version = version->whole;
  auto next = ReadTlv(e);
  if (next && next->cls == V_ASN1_CONTEXT_SPECIFIC && next->tag == 0) {  // originatorInfo
    env.originator = next->whole;
    next = ReadTlv(e);
  }
  if (!next || !IsUniversal(*next, V_ASN1_SET)) return Malformed("recipientInfos");
  std::span<const uint8_t> ris = next->content;
  while (!ris.empty()) {
    auto ri = ReadTlv(ris);
    if (!ri) return Malformed("RecipientInfo");
    env.recipient_infos.push_back(ri->whole);
    if (!IsUniversal(*ri, V_ASN1_SEQUENCE)) {
      ++env.other_recipients;
      continue;
    }
    std::span<const uint8_t> r = ri->content;
    auto rv = ReadTlv(r);
    auto rid = ReadTlv(r);
    auto kalg = ReadTlv(r);
    auto ek = ReadTlv(r);
    if (!rv || !rid || !kalg || !ek || !IsUniversal(*kalg, V_ASN1_SEQUENCE) ||
        !IsUniversal(*ek, V_ASN1_OCTET_STRING)) {
      return Malformed("KeyTransRecipientInfo");
    }
    KeyTrans kt;
    if (IsUniversal(*rid, V_ASN1_SEQUENCE)) {
      std::span<const uint8_t> ias = rid->content;
      auto issuer = ReadTlv(ias);
      auto serial = ReadTlv(ias);
      if (!issuer || !serial || !IsUniversal(*serial, V_ASN1_INTEGER))
        return Malformed("IssuerAndSerialNumber");
      kt.issuer = issuer->whole;
      kt.serial = serial->whole;
    }  // else SubjectKeyIdentifier: never matches a certificate here
    std::span<const uint8_t> ka = kalg->content;
    auto koid = ReadTlv(ka);
    if (!koid) return Malformed("keyEncryptionAlgorithm");
    kt.key_alg_nid = Nid(*koid);
    kt.key_alg_name = NidName(kt.key_alg_nid, *koid);
    kt.encrypted_key = ek->content;
    env.recipients.push_back(kt);
  }
  auto eci = ReadTlv(e);
  if (!eci || !IsUniversal(*eci, V_ASN1_SEQUENCE)) return Malformed("EncryptedContentInfo");
  env.encrypted_content_info = eci->whole;
  std::span<const uint8_t> ec = eci->content;
  auto ctype = ReadTlv(ec);
  auto calg = ReadTlv(ec);
  if (!ctype || !calg || !IsUniversal(*calg, V_ASN1_SEQUENCE))
    return Malformed("contentEncryptionAlgorithm");
  std::span<const uint8_t> ca = calg->content;
  auto coid = ReadTlv(ca);
  if (!coid) return Malformed("content algorithm OID");
  env.content_nid = Nid(*coid);
  env.content_name = NidName(env.content_nid, *coid);
  if (!ca.empty()) {
    auto params = ReadTlv(ca);
    if (!params) return Malformed("content algorithm parameters");
    env.content_params = *params;
    env.has_params = true;
  }
  if (!ec.empty()) {
    auto content = ReadTlv(ec);
    if (!content || content->cls != V_ASN1_CONTEXT_SPECIFIC || content->tag != 0) {
      return Malformed("encryptedContent");
    }
    if (content->constructed) {
      if (!AppendOctets(content->content, env.ciphertext, 0))
        return Malformed("encryptedContent octets");
    } else {
      env.ciphertext.assign(content->content.begin(), content->content.end());
    }
  }
  return env;
}

struct GcmParams {
  std::vector<uint8_t> nonce;
  long icv_len = 12;  // RFC 5084 default
};

// ParseGcmParams accepts smallstep's form (primitive tag 16 whose contents
// are a whole SEQUENCE { [4] nonce, INTEGER }) and RFC 5084's (SEQUENCE {
// OCTET STRING nonce, INTEGER icvLen DEFAULT 12 }).
std::optional<GcmParams> ParseGcmParams(const Tlv& params) {
  if (params.cls != V_ASN1_UNIVERSAL || params.tag != V_ASN1_SEQUENCE) return std::nullopt;
  std::span<const uint8_t> body = params.content;
  if (!params.constructed) {
    auto inner = ReadTlv(body);
    if (!inner || !IsUniversal(*inner, V_ASN1_SEQUENCE) || !body.empty()) return std::nullopt;
    body = inner->content;
  }
  auto nonce = ReadTlv(body);
  if (!nonce || nonce->constructed) return std::nullopt;
  bool ok_tag = IsUniversal(*nonce, V_ASN1_OCTET_STRING) ||
                (nonce->cls == V_ASN1_CONTEXT_SPECIFIC && nonce->tag == 4);
  if (!ok_tag) return std::nullopt;
  GcmParams g;
  g.nonce.assign(nonce->content.begin(), nonce->content.end());
  if (!body.empty()) {
    auto icv = ReadTlv(body);
    if (!icv || !IsUniversal(*icv, V_ASN1_INTEGER) || !body.empty()) return std::nullopt;
    const unsigned char* p = icv->whole.data();
    ASN1_INTEGER* ai = d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(icv->whole.size()));
    if (ai == nullptr) return std::nullopt;
    long v = ASN1_INTEGER_get(ai);
    ASN1_INTEGER_free(ai);
    g.icv_len = v;
  }
  return g;
}

struct ContentAlg {
  bool gcm;
  size_t key_len;
};

std::optional<ContentAlg> ContentAlgOf(int nid) {
  switch (nid) {
    case NID_aes_128_gcm:
      return ContentAlg{true, 16};
    case NID_aes_192_gcm:
      return ContentAlg{true, 24};
    case NID_aes_256_gcm:
      return ContentAlg{true, 32};
    case NID_aes_128_cbc:
      return ContentAlg{false, 16};
    case NID_aes_192_cbc:
      return ContentAlg{false, 24};
    case NID_aes_256_cbc:
      return ContentAlg{false, 32};
    default:
      return std::nullopt;
  }
}

bool RecipientMatches(const KeyTrans& kt, const Certificate& cert) {
  if (kt.issuer.empty() || kt.serial.empty() || cert.x509() == nullptr) return false;
  unsigned char* issuer_der = nullptr;
  int n = i2d_X509_NAME(X509_get_issuer_name(cert.x509()), &issuer_der);
  bool issuer_ok = n > 0 && static_cast<size_t>(n) == kt.issuer.size() &&
                   std::memcmp(issuer_der, kt.issuer.data(), kt.issuer.size()) == 0;
  OPENSSL_free(issuer_der);
  if (!issuer_ok) return false;
  const unsigned char* p = kt.serial.data();
  ASN1_INTEGER* serial = d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(kt.serial.size()));
  if (serial == nullptr) return false;
  bool ok = ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert.x509())) == 0;
  ASN1_INTEGER_free(serial);
  return ok;
}

// RsaPkcs1Decrypt returns the transported key, or a random key of
// `want_len` bytes if PKCS#1 v1.5 decryption fails (RFC 3218 §2.3.2).
SecretBytes RsaPkcs1Decrypt(const PrivateKey& key, std::span<const uint8_t> in, size_t want_len) {
  SecretBytes fallback(want_len);
  RAND_bytes(fallback.data(), static_cast<int>(fallback.size()));
  kernels::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.evp(), nullptr));
  size_t out_len = static_cast<size_t>(EVP_PKEY_get_size(key.evp()));
  SecretBytes out(out_len);
  bool ok = ctx && EVP_PKEY_decrypt_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_decrypt(ctx.get(), out.data(), &out_len, in.data(), in.size()) == 1 &&
            out_len == want_len;
  ERR_clear_error();
  if (!ok) return fallback;
  out.resize(out_len);
  return out;
}

StatusOr<SecretBytes> DecryptContent(const Envelope& env, const ContentAlg& alg,
                                     std::span<const uint8_t> cek) {
  if (alg.gcm) {
    auto params = ParseGcmParams(env.content_params);
    if (!env.has_params || !params) return DataError("pkcs7 GCM parameters are malformed");
    // smallstep requires a 12-byte nonce and a 16-byte ICV.
    if (params->nonce.size() != 12 || params->icv_len != 16) {
      return DataError("pkcs7 GCM parameters are not nonce 12 / ICV 16 bytes");
    }
    if (env.ciphertext.size() < 16) return KeyError("content too short");
    size_t ct_len = env.ciphertext.size() - 16;
    kernels::AesGcmKey gk(cek.data(), cek.size());
    if (!gk.ok()) return Internal("AES-GCM key setup failed");
    SecretBytes out(ct_len);
    if (!gk.open(params->nonce.data(), params->nonce.size(), nullptr, 0, env.ciphertext.data(),
                 ct_len, env.ciphertext.data() + ct_len, 16, out.data())) {
      return KeyError("content authentication failed");
    }
    return out;
  }
  // AES-CBC: parameters are the 16-byte IV as an OCTET STRING.
  if (!env.has_params || !IsUniversal(env.content_params, V_ASN1_OCTET_STRING) ||
      env.content_params.content.size() != 16) {
    return DataError("pkcs7 CBC IV parameter is malformed");
  }
  const EVP_CIPHER* cipher = alg.key_len == 16   ? EVP_aes_128_cbc()
                             : alg.key_len == 24 ? EVP_aes_192_cbc()
                                                 : EVP_aes_256_cbc();
  kernels::UniquePtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  SecretBytes out(env.ciphertext.size() + 16);
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, cek.data(),
                         env.content_params.content.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, env.ciphertext.data(),
                        static_cast<int>(env.ciphertext.size())) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return KeyError("content decryption failed");
  }
  out.resize(static_cast<size_t>(len + fin));
  return out;
}

// RecipientId is pkcs7_recipient_id from a RecipientInfo's issuer and serial.
std::string RecipientId(std::span<const uint8_t> issuer_der, std::span<const uint8_t> serial_der) {
  if (issuer_der.empty() || serial_der.empty()) return "";
  const unsigned char* p = issuer_der.data();
  X509_NAME* name = d2i_X509_NAME(nullptr, &p, static_cast<long>(issuer_der.size()));
  p = serial_der.data();
  ASN1_INTEGER* serial = d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(serial_der.size()));
  std::string id;
  if (name != nullptr && serial != nullptr) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    char* text = nullptr;
    const long n = BIO_get_mem_data(bio, &text);
    id.assign(text, static_cast<size_t>(n));
    BIO_free(bio);
    BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
    char* hex = bn != nullptr ? BN_bn2hex(bn) : nullptr;
    id += "/serial=" + std::string(hex != nullptr ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
  }
  X509_NAME_free(name);
  ASN1_INTEGER_free(serial);
  return id;
}

Pkcs7Summary Summarize(const Envelope& env) {
  Pkcs7Summary s;
  s.content_alg = env.content_name;
  for (const KeyTrans& kt : env.recipients) {
    s.recipient_kinds.push_back(kt.key_alg_name);
    s.recipient_ids.push_back(RecipientId(kt.issuer, kt.serial));
  }
  for (size_t i = 0; i < env.other_recipients; ++i) {
    s.recipient_kinds.push_back("non-key-transport");
    s.recipient_ids.emplace_back();
  }
  return s;
}

}  // namespace

std::string Pkcs7Summary::to_string() const {
  return "PKCS7 EnvelopedData, " + content_alg + ", " + std::to_string(recipient_kinds.size()) +
         (recipient_kinds.size() == 1 ? " recipient" : " recipients");
}

StatusOr<Pkcs7Summary> pkcs7_describe(std::span<const uint8_t> der) {
  ErrClear clear;
  LC_ASSIGN_OR_RETURN(Envelope env, ParseEnvelope(der));
  return Summarize(env);
}

StatusOr<kernels::SecretBytes> pkcs7_decrypt(std::span<const uint8_t> der,
                                             std::span<const PrivateKey> keys,
                                             std::span<const Certificate> certs) {
  ErrClear clear;
  LC_ASSIGN_OR_RETURN(Envelope env, ParseEnvelope(der));
  const std::string summary = Summarize(env).to_string();
  auto alg = ContentAlgOf(env.content_nid);
  if (!alg) {
    return Unsupported("pkcs7 content encryption " + env.content_name +
                       " is not supported (AES-GCM or AES-CBC only)");
  }
  if (certs.empty()) {
    return KeyError("pkcs7 (" + summary +
                    ") needs the recipient certificate as well as the private key; " +
                    std::to_string(keys.size()) + " private key(s) and no certificate given");
  }
  bool saw_rsa_transport = env.recipients.empty();
  for (const KeyTrans& kt : env.recipients)
    saw_rsa_transport |= kt.key_alg_nid == NID_rsaEncryption;
  if (!saw_rsa_transport) {
    return Unsupported("pkcs7 key transport " + env.recipients[0].key_alg_name +
                       " is not supported (rsaEncryption only)");
  }
  for (const PrivateKey& key : keys) {
    if (!key.valid() || key.algorithm() != KeyAlgorithm::kRsa) continue;
    for (const Certificate& cert : certs) {
      for (const KeyTrans& kt : env.recipients) {
        if (kt.key_alg_nid != NID_rsaEncryption || !RecipientMatches(kt, cert)) continue;
        SecretBytes cek = RsaPkcs1Decrypt(key, kt.encrypted_key, alg->key_len);
        auto plain = DecryptContent(env, *alg, cek);
        if (plain.ok()) return std::move(plain).value();
        if (plain.status().code() == StatusCode::kDataError) return plain.status();
        break;  // smallstep uses the first matching recipient only
      }
    }
  }
  return KeyError("no key/certificate pair could unwrap the " + summary + "; tried " +
                  std::to_string(keys.size()) + " private key(s) x " +
                  std::to_string(certs.size()) + " certificate(s)");
}

namespace {

// Der appends DER elements. Lengths use the definite short or long form.
void der_len(std::vector<uint8_t>& out, size_t n) {
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
    return;
  }
  uint8_t bytes[8];
  int k = 0;
  for (size_t v = n; v != 0; v >>= 8) bytes[k++] = static_cast<uint8_t>(v);
  out.push_back(static_cast<uint8_t>(0x80 | k));
  while (k > 0) out.push_back(bytes[--k]);
}

std::vector<uint8_t> der(uint8_t tag, std::span<const uint8_t> content) {
  std::vector<uint8_t> out;
  out.push_back(tag);
  der_len(out, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

std::vector<uint8_t> cat(std::initializer_list<std::span<const uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<uint8_t> der_oid(int nid) {
  const ASN1_OBJECT* obj = OBJ_nid2obj(nid);
  const int n = obj ? i2d_ASN1_OBJECT(obj, nullptr) : -1;
  if (n <= 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(n));
  unsigned char* p = out.data();
  i2d_ASN1_OBJECT(obj, &p);
  return out;
}

template <typename T, int (*I2d)(const T*, unsigned char**)>
std::vector<uint8_t> to_der(const T* v) {
  const int n = I2d(v, nullptr);
  if (n <= 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(n));
  unsigned char* p = out.data();
  I2d(v, &p);
  return out;
}

}  // namespace

StatusOr<std::vector<uint8_t>> pkcs7_encrypt(std::span<const uint8_t> content,
                                             std::span<const Certificate> recipients) {
  if (recipients.empty()) return InvalidArgument("pkcs7: no recipient certificates");
  kernels::SecretBytes cek(16);
  std::array<uint8_t, 12> nonce{};
  if (RAND_priv_bytes(cek.data(), static_cast<int>(cek.size())) != 1 ||
      RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1)
    return Internal("OpenSSL RAND_bytes failed");

  // RecipientInfos.
  std::vector<uint8_t> infos;
  const std::vector<uint8_t> rsa_alg = der(0x30, der_oid(NID_rsaEncryption));
  for (const auto& cert : recipients) {
    X509* x = cert.x509();
    EVP_PKEY* pub = x ? X509_get0_pubkey(x) : nullptr;
    if (pub == nullptr || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
      return InvalidArgument("pkcs7 recipient " + cert.subject() +
                             ": the certificate's key is not RSA (ocicrypt's pkcs7 is RSA only)");
    kernels::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pub, nullptr));
    size_t ek_len = 0;
    if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_encrypt(ctx.get(), nullptr, &ek_len, cek.data(), cek.size()) != 1)
      return Internal("pkcs7: RSA key transport setup failed");
    std::vector<uint8_t> ek(ek_len);
    if (EVP_PKEY_encrypt(ctx.get(), ek.data(), &ek_len, cek.data(), cek.size()) != 1)
      return Internal("pkcs7: RSA key transport failed");
    ek.resize(ek_len);
    const auto issuer = to_der<X509_NAME, i2d_X509_NAME>(X509_get_issuer_name(x));
    const auto serial = to_der<ASN1_INTEGER, i2d_ASN1_INTEGER>(X509_get0_serialNumber(x));
    if (issuer.empty() || serial.empty()) return Internal("pkcs7: cannot encode the issuer");
    const uint8_t version0[] = {0x02, 0x01, 0x00};
    const auto ias = der(0x30, cat({issuer, serial}));
    const auto info = der(0x30, cat({version0, ias, rsa_alg, der(0x04, ek)}));
    infos.insert(infos.end(), info.begin(), info.end());
  }

  // EncryptedContentInfo: AES-128-GCM, tag appended.
  kernels::AesGcmKey gk(cek.data(), cek.size());
  std::vector<uint8_t> sealed(content.size() + kernels::AesGcmKey::kTagLen);
  if (!gk.ok() || !gk.seal(nonce.data(), nonce.size(), nullptr, 0, content.data(), content.size(),
                           sealed.data(), sealed.data() + content.size()))
    return Internal("pkcs7: AES-GCM failed");
  const uint8_t icv16[] = {0x02, 0x01, 0x10};
  // smallstep's parameters: a primitive tag 16 whose contents are the DER
  // SEQUENCE { [4] IMPLICIT OCTET STRING nonce, INTEGER 16 }.
  const auto gcm_params = der(0x10, der(0x30, cat({der(0x84, nonce), icv16})));
  const auto content_alg = der(0x30, cat({der_oid(NID_aes_128_gcm), gcm_params}));
  // encryptedContent as Go's writers put it: [0] constructed around one
  // OCTET STRING. go.mozilla.org/pkcs7 (imgcrypt 1.1.x) declares the field
  // `tag:0,optional,explicit` and reads a primitive [0] IMPLICIT as empty.
  const auto eci =
      der(0x30, cat({der_oid(NID_pkcs7_data), content_alg, der(0xA0, der(0x04, sealed))}));

  const uint8_t version0[] = {0x02, 0x01, 0x00};
  const auto env = der(0x30, cat({version0, der(0x31, infos), eci}));
  return der(0x30, cat({der_oid(NID_pkcs7_enveloped), der(0xA0, env)}));
}

std::string pkcs7_recipient_id(const Certificate& cert) {
  if (cert.x509() == nullptr) return "";
  unsigned char* issuer = nullptr;
  const int in = i2d_X509_NAME(X509_get_issuer_name(cert.x509()), &issuer);
  unsigned char* serial = nullptr;
  const int sn = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert.x509()), &serial);
  std::string id = in > 0 && sn > 0 ? RecipientId({issuer, static_cast<size_t>(in)},
                                                  {serial, static_cast<size_t>(sn)})
                                    : "";
  OPENSSL_free(issuer);
  OPENSSL_free(serial);
  return id;
}

StatusOr<std::optional<std::vector<uint8_t>>> pkcs7_remove_recipients(
    std::span<const uint8_t> blob, const std::vector<size_t>& drop) {
  ErrClear clear;
  LC_ASSIGN_OR_RETURN(Envelope env, ParseEnvelope(blob));
  // pkcs7_describe lists key-transport recipients first, then the others;
  // map those positions back to the RecipientInfos in the SET.
  std::vector<size_t> order;  // describe position -> index in recipient_infos
  std::vector<size_t> others;
  {
    std::span<const uint8_t> probe;
    for (size_t i = 0; i < env.recipient_infos.size(); ++i) {
      probe = env.recipient_infos[i];
      auto t = ReadTlv(probe);
      (t && IsUniversal(*t, V_ASN1_SEQUENCE) ? order : others).push_back(i);
    }
    order.insert(order.end(), others.begin(), others.end());
  }
  std::vector<bool> keep(env.recipient_infos.size(), true);
  for (size_t d : drop)
    if (d < order.size()) keep[order[d]] = false;
  std::vector<uint8_t> set_content;
  size_t kept = 0;
  for (size_t i = 0; i < env.recipient_infos.size(); ++i) {
    if (!keep[i]) continue;
    set_content.insert(set_content.end(), env.recipient_infos[i].begin(),
                       env.recipient_infos[i].end());
    ++kept;
  }
  if (kept == 0) return std::optional<std::vector<uint8_t>>();
  if (kept == env.recipient_infos.size())
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(blob.begin(), blob.end()));
  const auto ris = der(0x31, set_content);
  const auto ed = der(0x30, cat({env.version, env.originator, ris, env.encrypted_content_info}));
  return std::optional<std::vector<uint8_t>>(der(0x30, cat({env.content_type, der(0xA0, ed)})));
}

}  // namespace layercrypt
