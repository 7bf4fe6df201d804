// engine/keywrap/keygen.cc: see keygen.h.
#include "engine/keywrap/keygen.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/atomic_file.h"
#include "engine/core/io.h"
#include "kernels/openssl_ptr.h"

namespace layercrypt {
namespace {

using kernels::SecretBytes;

using BioPtr = kernels::UniquePtr<BIO>;
using PkeyPtr = kernels::UniquePtr<EVP_PKEY>;
using X509Ptr = kernels::UniquePtr<X509>;
using BnPtr = kernels::UniquePtr<BIGNUM>;

// OpensslReason returns OpenSSL's last error reason (no key material is ever
// in it) and clears the thread's error queue.
std::string OpensslReason() {
  const char* reason = ERR_reason_error_string(ERR_peek_last_error());
  std::string r = reason != nullptr ? reason : "unknown error";
  ERR_clear_error();
  return r;
}

struct TypeInfo {
  KeyType type;
  const char* name;
  const char* alg;  // EVP_PKEY_Q_keygen type
  size_t rsa_bits;
  const char* curve;
};

constexpr TypeInfo kTypes[] = {
    {KeyType::kRsa2048, "rsa:2048", "RSA", 2048, nullptr},
    {KeyType::kRsa3072, "rsa:3072", "RSA", 3072, nullptr},
    {KeyType::kRsa4096, "rsa:4096", "RSA", 4096, nullptr},
    {KeyType::kEcP256, "ec:p256", "EC", 0, "P-256"},
    {KeyType::kEcP384, "ec:p384", "EC", 0, "P-384"},
    {KeyType::kEcP521, "ec:p521", "EC", 0, "P-521"},
};

const TypeInfo& InfoOf(KeyType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t;
  return kTypes[0];  // unreachable for valid enumerators
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

// ---- file writing -----------------------------------------------------------

Status ExistsStatus(const std::string& path) { return InvalidArgument(path + " already exists"); }

// Exists returns true if something (a file, a directory, a dangling symbolic
// link) has the name `path`.
bool Exists(const std::string& path, bool* is_dir) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return false;
  *is_dir = S_ISDIR(st.st_mode);
  return true;
}

}  // namespace

const char* key_type_name(KeyType type) { return InfoOf(type).name; }

StatusOr<KeyType> parse_key_type(std::string_view spec) {
  const std::string s = Lower(spec);
  if (s == "rsa") return KeyType::kRsa4096;
  if (s == "ec") return KeyType::kEcP256;
  for (const auto& t : kTypes)
    if (s == t.name) return t.type;
  return InvalidArgument("unknown key type \"" + std::string(spec) +
                         "\"; use rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384 or ec:p521 "
                         "(rsa = rsa:4096, ec = ec:p256)");
}

StatusOr<GeneratedKey> generate_key(KeyType type) {
  const TypeInfo& info = InfoOf(type);
  PkeyPtr pkey(info.curve != nullptr
                   ? EVP_PKEY_Q_keygen(nullptr, nullptr, info.alg, info.curve)
                   : EVP_PKEY_Q_keygen(nullptr, nullptr, info.alg, info.rsa_bits));
  if (!pkey)
    return Internal(std::string("cannot generate a ") + info.name + " key: " + OpensslReason());

  GeneratedKey out;
  {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return Internal("out of memory");
    // OpenSSL 3 writes PKCS#8 PrivateKeyInfo here ("BEGIN PRIVATE KEY").
    const int ok =
        PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio.get(), &mem);
    if (ok == 1 && mem != nullptr) {
      out.private_pem.assign(mem->data, mem->data + mem->length);
    }
    // Wipe what the BIO holds before BIO_free releases it.
    if (mem != nullptr && mem->data != nullptr) OPENSSL_cleanse(mem->data, mem->max);
    if (ok != 1 || mem == nullptr) {
      return Internal(std::string("cannot encode the ") + info.name +
                      " private key: " + OpensslReason());
    }
  }
  {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return Internal("out of memory");
    if (PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
      return Internal(std::string("cannot encode the ") + info.name +
                      " public key: " + OpensslReason());
    }
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio.get(), &mem);
    if (mem == nullptr) return Internal("cannot read back the public key PEM");
    out.public_pem.assign(mem->data, mem->length);
  }
  return out;
}

namespace {

// AddExtension adds the X.509v3 extension `nid` with OpenSSL config `value`.
bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// SetRandomSerial sets a random 16-byte serial number whose top bits are 01:
// positive (as RFC 5280 and Go's x509 require), never zero, always 16 bytes.
bool SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return false;
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x3f) | 0x40);
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

}  // namespace

StatusOr<std::string> make_self_signed_certificate(const GeneratedKey& key,
                                                   const CertificateOptions& options) {
  if (options.subject_cn.empty() || options.subject_cn.size() > 64) {
    return InvalidArgument("certificate subject CN must be 1 to 64 bytes long (it is " +
                           std::to_string(options.subject_cn.size()) + ")");
  }
  if (options.days < 1 || options.days > 36500) {
    return InvalidArgument("certificate validity of " + std::to_string(options.days) +
                           " days is out of range; give 1 to 36500 days");
  }
  PkeyPtr pkey;
  {
    BioPtr bio(BIO_new_mem_buf(key.private_pem.data(), static_cast<int>(key.private_pem.size())));
    if (!bio) return Internal("out of memory");
    pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!pkey) return DataError("cannot read the private key PEM: " + OpensslReason());
  if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_RSA) {
    const char* type = EVP_PKEY_get0_type_name(pkey.get());
    return InvalidArgument(
        std::string("a certificate for pkcs7 recipients needs an RSA key, not ") +
        (type != nullptr ? type : "this key type") +
        " (ocicrypt's pkcs7 wraps the layer key with RSA PKCS#1 v1.5); generate the key "
        "with type rsa:2048, rsa:3072 or rsa:4096");
  }

  X509Ptr cert(X509_new());
  if (!cert) return Internal("out of memory");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const bool ok =
      X509_set_version(cert.get(), X509_VERSION_3) == 1 && SetRandomSerial(cert.get()) &&
      X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(options.subject_cn.data()),
                                 static_cast<int>(options.subject_cn.size()), -1, 0) == 1 &&
      X509_set_issuer_name(cert.get(), name) == 1 &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) != nullptr &&
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), options.days, 0, nullptr) != nullptr &&
      X509_set_pubkey(cert.get(), pkey.get()) == 1 &&
      AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
      AddExtension(cert.get(), NID_key_usage, "critical,keyEncipherment") &&
      X509_sign(cert.get(), pkey.get(), EVP_sha256()) > 0;
  if (!ok) return Internal("cannot make the certificate: " + OpensslReason());

  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
    return Internal("cannot encode the certificate: " + OpensslReason());
  }
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio.get(), &mem);
  if (mem == nullptr) return Internal("cannot read back the certificate PEM");
  return std::string(mem->data, mem->length);
}

Status write_key_files(const GeneratedKey& key, const std::string& out_base, bool overwrite) {
  if (out_base.empty() || out_base.back() == '/') {
    return InvalidArgument("output name \"" + out_base +
                           "\" names no file; give a path such as keys/mykey (writes mykey.pem and "
                           "mykey.pub.pem)");
  }
  struct Target {
    std::string path;
    const uint8_t* data;
    size_t len;
    mode_t mode;
  };
  std::vector<Target> targets{
      {out_base + ".pem", key.private_pem.data(), key.private_pem.size(), 0600},
      {out_base + ".pub.pem", reinterpret_cast<const uint8_t*>(key.public_pem.data()),
       key.public_pem.size(), 0644},
  };
  if (!key.certificate_pem.empty()) {
    targets.push_back({out_base + ".crt.pem",
                       reinterpret_cast<const uint8_t*>(key.certificate_pem.data()),
                       key.certificate_pem.size(), 0644});
  }
  for (const Target& t : targets) {
    bool is_dir = false;
    if (!Exists(t.path, &is_dir)) continue;
    if (is_dir) return InvalidArgument(t.path + " is a directory; choose another output name");
    if (!overwrite) return ExistsStatus(t.path);
  }

  // Every file is written and synced before the first is published.
  std::vector<TempFile> tmps;
  for (const Target& t : targets) {
    // The modes are exact, not subject to the umask.
    LC_ASSIGN_OR_RETURN(TempFile tmp, TempFile::create(t.path, {.mode = t.mode}));
    LC_RETURN_IF_ERROR(tmp.write({t.data, t.len}));
    LC_RETURN_IF_ERROR(tmp.sync());
    LC_RETURN_IF_ERROR(tmp.close());
    tmps.push_back(std::move(tmp));
  }

  for (size_t i = 0; i < targets.size(); ++i) {
    bool exists = false;
    Status s = overwrite ? tmps[i].publish(targets[i].path, Durability::kNone)
                         : tmps[i].publish_no_replace(targets[i].path, Durability::kNone, &exists);
    if (s.ok()) continue;
    if (exists) s = ExistsStatus(targets[i].path);
    if (i == 0) return s;
    if (!overwrite) {
      // All or none: take back the files this call created.
      for (size_t j = 0; j < i; ++j) tmps[j].unpublish(targets[j].path);
      return s;
    }
    std::string replaced = targets[0].path;
    for (size_t j = 1; j < i; ++j) replaced += (j + 1 == i ? " and " : ", ") + targets[j].path;
    return Status(s.code(), s.message() + "; " + replaced + (i == 1 ? " was" : " were") +
                                " already replaced, so the files no longer match: run again");
  }
  // Best effort: the files themselves are complete.
  static_cast<void>(fsync_dir(tmps[0].dir()));
  return Status::Ok();
}

}  // namespace layercrypt
