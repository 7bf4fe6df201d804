// engine/keywrap/recipients.cc: see recipients.h.
#include "engine/keywrap/recipients.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/keywrap/provider/key_providers.h"
#if LAYERCRYPT_WITH_PKCS11
#include "engine/keywrap/pkcs11/pkcs11_wrapper.h"
#endif
#if LAYERCRYPT_WITH_PGP
#include "engine/keywrap/pgp/pgp_keyring.h"
#endif
#include "kernels/openssl_ptr.h"

namespace layercrypt {
namespace {

// A recipient file larger than this is not a key or certificate (a PEM
// RSA-16384 key is ~13 KiB, a certificate chain a few KiB).
constexpr size_t kMaxRecipientFileSize = 1 << 20;

enum class Scheme { kJwe, kPkcs7, kPkcs11, kAuto };

struct ParsedSpec {
  Scheme scheme;
  std::string path;
};

bool IsSchemeLike(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

StatusOr<ParsedSpec> SplitSpec(std::string_view spec) {
  if (spec.empty()) return InvalidArgument("empty recipient; use jwe:FILE or pkcs7:FILE");
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return ParsedSpec{Scheme::kAuto, std::string(spec)};
  const std::string_view prefix = spec.substr(0, colon);
  const std::string_view rest = spec.substr(colon + 1);
  if (prefix == "jwe" || prefix == "pkcs7" || (LAYERCRYPT_WITH_PKCS11 && prefix == "pkcs11")) {
    if (rest.empty()) {
      return InvalidArgument("recipient \"" + std::string(spec) + "\" names no file; use " +
                             std::string(prefix) + ":FILE");
    }
    return ParsedSpec{prefix == "jwe"     ? Scheme::kJwe
                      : prefix == "pkcs7" ? Scheme::kPkcs7
                                          : Scheme::kPkcs11,
                      std::string(rest)};
  }
  // A file whose name contains ':' is still a bare FILE.
  if (IsSchemeLike(prefix) && !PathExists(std::string(spec))) {
    return Unsupported("recipient scheme \"" + std::string(prefix) + "\" (in \"" +
                       std::string(spec) + "\") is not supported; only jwe:FILE, pkcs7:FILE, " +
                       std::string(LAYERCRYPT_WITH_PKCS11 ? "pkcs11:FILE " : "") +
                       std::string(LAYERCRYPT_WITH_PGP ? "pgp:NAME_OR_EMAIL " : "") +
                       "and provider:NAME recipients are (or "
                       "a bare FILE holding a public key or certificate)");
  }
  return ParsedSpec{Scheme::kAuto, std::string(spec)};
}

StatusOr<std::vector<uint8_t>> ReadRecipientFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return IoError("recipient file " + path + " does not exist");
    return IoError("cannot open recipient file " + path + ": " + std::strerror(err));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    return IoError("recipient file " + path + " is a directory; name a key or certificate file");
  }
  // Pipes (jwe:<(...)) have no size up front: read up to the limit.
  std::vector<uint8_t> data;
  uint8_t buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot read recipient file " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
    if (data.size() > kMaxRecipientFileSize) {
      return IoError("recipient file " + path +
                     " is larger than 1 MiB; it is not a key or certificate");
    }
  }
  if (data.empty()) return DataError("recipient file " + path + " is empty");
  return data;
}

bool LooksLikeJson(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{';
}

// HasPemPrivateKeyBlock returns true if any PEM block in `text` is a private
// key ("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY", "BEGIN ENCRYPTED
// PRIVATE KEY", ...), not only the first one that the parsers look at.
bool HasPemPrivateKeyBlock(std::string_view text) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  static constexpr std::string_view kLabelEnd = "PRIVATE KEY-----";
  for (size_t pos = text.find(kBegin); pos != std::string_view::npos;
       pos = text.find(kBegin, pos + 1)) {
    const size_t label = pos + kBegin.size();
    const size_t eol = text.find_first_of("\r\n", label);
    const std::string_view line =
        text.substr(label, eol == std::string_view::npos ? text.npos : eol - label);
    if (line.size() >= kLabelEnd.size() &&
        line.substr(line.size() - kLabelEnd.size()) == kLabelEnd) {
      return true;
    }
  }
  return false;
}

// IsPrivateJwk returns true for a JWK with a private member, whatever its
// key type (classify_key_file reports unsupported ones as unknown).
bool IsPrivateJwk(std::string_view text) {
  if (!LooksLikeJson(text)) return false;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  return !j.is_discarded() && j.is_object() && j.contains("d");
}

Status PrivateKeyGiven(const std::string& path, std::string_view text) {
  if (LooksLikeJson(text)) {
    return InvalidArgument(
        path +
        " holds a private key; a recipient is a public key or certificate: use the "
        "matching public JWK (the same key without \"d\" and the other private "
        "members)");
  }
  return InvalidArgument(
      path +
      " holds a private key; a recipient is a public key or certificate: use the "
      "matching .pub.pem, or derive it with `openssl pkey -in " +
      path + " -pubout`");
}

// ParsePkcs1RsaPublic parses a PKCS#1 RSAPublicKey, PEM ("BEGIN RSA PUBLIC
// KEY", first block) or DER.
StatusOr<PublicKey> ParsePkcs1RsaPublic(std::span<const uint8_t> data) {
  struct Cleanup {
    ~Cleanup() { ERR_clear_error(); }
  } cleanup;
  std::vector<uint8_t> der;
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (text.find("-----BEGIN ") != std::string_view::npos) {
    kernels::UniquePtr<BIO> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* body = nullptr;
    long len = 0;
    if (!bio || PEM_read_bio(bio.get(), &name, &header, &body, &len) != 1) {
      return DataError("malformed PEM data");
    }
    const bool is_pkcs1 = std::strcmp(name, "RSA PUBLIC KEY") == 0;
    der.assign(body, body + len);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(body);
    if (!is_pkcs1) return DataError("not a PKCS#1 RSA public key");
  } else {
    der.assign(data.begin(), data.end());
  }
  const unsigned char* p = der.data();
  EVP_PKEY* pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()));
  if (pkey == nullptr || p != der.data() + der.size()) {
    EVP_PKEY_free(pkey);
    return DataError("not a PKCS#1 RSA public key");
  }
  return PublicKey::from_evp(pkey);
}

// CheckPkcs7Certificate accepts only RSA certificates: ocicrypt's PKCS7
// wrapper (smallstep/pkcs7) has RSA key transport only.
Status CheckPkcs7Certificate(const Certificate& cert, const std::string& path) {
  EVP_PKEY* pk = X509_get0_pubkey(cert.x509());
  if (pk != nullptr && EVP_PKEY_is_a(pk, "RSA")) return Status::Ok();
  const char* type = pk != nullptr ? EVP_PKEY_get0_type_name(pk) : nullptr;
  return Unsupported(
      path + ": the certificate has " + (type != nullptr ? std::string(type) : "a non-RSA") +
      " key, but pkcs7 recipients need an RSA certificate (ocicrypt's PKCS7 uses RSA key "
      "transport); use its public key as a jwe recipient (`openssl x509 -in " +
      path + " -pubkey -noout`)");
}

Status CertificateGivenAsJwe(const std::string& path) {
  return InvalidArgument(
      path +
      " is an X.509 certificate, which ocicrypt does not take as a jwe recipient; use "
      "pkcs7:" +
      path + ", or extract its public key with `openssl x509 -in " + path + " -pubkey -noout`");
}

// AddPkcs11Recipient adds a pkcs11 recipient: a key YAML (its public key
// read from the token) or an RSA public key.
Status AddPkcs11Recipient(std::span<const uint8_t> data, const std::string& path, KeyFileKind kind,
                          Recipients* out) {
#if LAYERCRYPT_WITH_PKCS11
  auto key_file = parse_pkcs11_key_file(data);
  if (key_file.ok()) {
    if (!out->pkcs11_policy) {
      LC_ASSIGN_OR_RETURN(Pkcs11ModulePolicy policy, load_pkcs11_policy());
      out->pkcs11_policy = std::make_shared<const Pkcs11ModulePolicy>(std::move(policy));
    }
    auto pub = pkcs11_token_public_key(*key_file, *out->pkcs11_policy);
    if (!pub.ok()) return pub.status().with_context(path);
    out->pkcs11.push_back(std::move(pub).value());
    out->sources.push_back("pkcs11:" + path);
    return Status::Ok();
  }
  if (key_file.status().code() == StatusCode::kInvalidArgument)  // a key YAML with a bad URI
    return key_file.status().with_context(path);
  if (kind == KeyFileKind::kCertificate)
    return InvalidArgument(path +
                           " is an X.509 certificate; a pkcs11 recipient is a key YAML "
                           "or an RSA public key (`openssl x509 -in " +
                           path + " -pubkey -noout`)");
  auto pub = parse_public_key(data);
  if (!pub.ok()) {
    if (pub.status().code() == StatusCode::kUnsupported) return pub.status().with_context(path);
    return DataError(path +
                     " is neither a pkcs11 key YAML nor a public key; a pkcs11 recipient is a "
                     "key YAML (pkcs11: uri: pkcs11:...) or an RSA public key (PEM, DER, JWK)");
  }
  if (pub->algorithm() != KeyAlgorithm::kRsa)
    return Unsupported(path + ": a pkcs11 recipient must be an RSA key, not " + pub->description());
  out->pkcs11.push_back(std::move(pub).value());
  out->sources.push_back("pkcs11:" + path);
  return Status::Ok();
#else
  (void)data, (void)kind, (void)out;
  return Unsupported(path + ": this build has no pkcs11 scheme (LAYERCRYPT_WITH_PKCS11=OFF)");
#endif
}

// AddRecipientData classifies a recipient's key or certificate `data`
// (named `path` in messages) for `scheme` and appends it to `out`.
Status AddRecipientData(Scheme scheme_given, std::span<const uint8_t> data, const std::string& path,
                        Recipients* out) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());

  if (HasPemPrivateKeyBlock(text) || IsPrivateJwk(text)) return PrivateKeyGiven(path, text);
  Certificate cert;
  const KeyFileKind kind = classify_key_file(data, nullptr, &cert);
  if (kind == KeyFileKind::kPrivateKey || kind == KeyFileKind::kEncryptedPrivateKey) {
    return PrivateKeyGiven(path, text);
  }

  if (scheme_given == Scheme::kPkcs11) return AddPkcs11Recipient(data, path, kind, out);
  Scheme scheme = scheme_given;
  if (scheme == Scheme::kAuto) {
    if (kind == KeyFileKind::kCertificate) {
      scheme = Scheme::kPkcs7;
    } else if (kind == KeyFileKind::kPublicKey) {
      scheme = Scheme::kJwe;
    } else {
      // Say why an unsupported key type fails; otherwise what was expected.
      auto pub = parse_public_key(data);
      if (!pub.ok() && pub.status().code() == StatusCode::kUnsupported) {
        return pub.status().with_context(path);
      }
      return DataError(
          path +
          " is neither a public key nor a certificate; a recipient file holds a public "
          "key (PEM or DER SubjectPublicKeyInfo, JWK) or an X.509 certificate");
    }
  }

  if (scheme == Scheme::kPkcs7) {
    if (kind == KeyFileKind::kPublicKey) {
      return InvalidArgument(path +
                             " holds a public key, not a certificate; pkcs7 needs an X.509 "
                             "certificate: use jwe:" +
                             path + " for a public key");
    }
    if (kind != KeyFileKind::kCertificate) {
      auto c = parse_certificate(data);
      if (!c.ok()) return c.status().with_context(path);
      cert = std::move(c).value();
    }
    LC_RETURN_IF_ERROR(CheckPkcs7Certificate(cert, path));
    out->pkcs7.push_back(std::move(cert));
    out->sources.push_back("pkcs7:" + path);
    return Status::Ok();
  }

  // jwe
  if (kind == KeyFileKind::kCertificate) return CertificateGivenAsJwe(path);
  auto pub = parse_public_key(data);
  if (!pub.ok() && scheme_given == Scheme::kAuto) {
    // A bare FILE may also be a PKCS#1 RSA public key (Go refuses it for
    // jwe:, and so do we; the wrapped result is the same either way).
    auto pkcs1 = ParsePkcs1RsaPublic(data);
    if (pkcs1.ok()) pub = std::move(pkcs1);
  }
  if (!pub.ok()) return pub.status().with_context(path);
  out->jwe.push_back(std::move(pub).value());
  out->sources.push_back("jwe:" + path);
  return Status::Ok();
}

}  // namespace

StatusOr<ProviderRecipient> parse_provider_spec(std::string_view spec) {
  std::string_view rest = spec.substr(spec.find(':') + 1);
  const size_t colon = rest.find(':');
  const std::string_view name = rest.substr(0, colon);
  if (name.empty())
    return InvalidArgument("\"" + std::string(spec.substr(0, 9)) +
                           "\" names no key provider; use provider:NAME[:PARAMS]");
  ProviderRecipient r;
  r.name = std::string(name);
  const std::string_view params =
      colon == std::string_view::npos ? std::string_view("Enabled") : rest.substr(colon + 1);
  r.params.assign(params.begin(), params.end());
  return r;
}

Status add_recipient(std::string_view spec, Recipients* out) {
  if (out == nullptr) return InvalidArgument("add_recipient: no output given");
  if (spec.rfind("provider:", 0) == 0) {
    LC_ASSIGN_OR_RETURN(ProviderRecipient r, parse_provider_spec(spec));
    out->sources.push_back("provider:" + r.name);
    out->providers.push_back(std::move(r));
    return Status::Ok();
  }
#if LAYERCRYPT_WITH_PGP
  if (spec.rfind("pgp:", 0) == 0) {  // a name or email address, not a file
    const std::string_view name = spec.substr(4);
    if (name.empty())
      return InvalidArgument("recipient \"pgp:\" names nobody; use pgp:NAME_OR_EMAIL");
    LC_ASSIGN_OR_RETURN(std::vector<PgpRecipient> keys,
                        find_pgp_recipients(out->pgp_pubring, name));
    for (auto& k : keys) {  // a key two recipients match is encrypted to once
      if (std::any_of(out->pgp.begin(), out->pgp.end(),
                      [&](const PgpRecipient& have) { return have.key_id == k.key_id; }))
        continue;
      out->sources.push_back("pgp:" + std::string(name) + " (" + k.key_id + ")");
      out->pgp.push_back(std::move(k));
    }
    return Status::Ok();
  }
#endif
  LC_ASSIGN_OR_RETURN(ParsedSpec ps, SplitSpec(spec));
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> data, ReadRecipientFile(ps.path));
  return AddRecipientData(ps.scheme, data, ps.path, out);
}

Status add_recipient_data(std::string_view scheme, std::span<const uint8_t> data,
                          const std::string& name, Recipients* out) {
  if (out == nullptr) return InvalidArgument("add_recipient_data: no output given");
  if (scheme != "" && scheme != "jwe" && scheme != "pkcs7" &&
      !(LAYERCRYPT_WITH_PKCS11 && scheme == "pkcs11"))
    return Unsupported("recipient scheme " + quoted_for_message(scheme) +
                       " is not supported; only jwe, pkcs7" +
                       (LAYERCRYPT_WITH_PKCS11 ? ", pkcs11" : "") + " are");
  if (data.empty()) return DataError(name + " is empty");
  if (data.size() > kMaxRecipientFileSize)
    return InvalidArgument(name + " is larger than 1 MiB; it is not a key or certificate");
  return AddRecipientData(scheme == "jwe"      ? Scheme::kJwe
                          : scheme == "pkcs7"  ? Scheme::kPkcs7
                          : scheme == "pkcs11" ? Scheme::kPkcs11
                                               : Scheme::kAuto,
                          data, name, out);
}

Recipients filter_recipients(const Recipients& in,
                             const std::function<bool(std::string_view scheme, size_t i)>& keep) {
  Recipients out;
  for (size_t i = 0; i < in.jwe.size(); ++i)
    if (keep("jwe", i)) out.jwe.push_back(in.jwe[i]);
  for (size_t i = 0; i < in.pkcs7.size(); ++i)
    if (keep("pkcs7", i)) out.pkcs7.push_back(in.pkcs7[i]);
  for (size_t i = 0; i < in.pkcs11.size(); ++i)
    if (keep("pkcs11", i)) out.pkcs11.push_back(in.pkcs11[i]);
  out.pkcs11_policy = in.pkcs11_policy;
  for (size_t i = 0; i < in.pgp.size(); ++i)
    if (keep("pgp", i)) out.pgp.push_back(in.pgp[i]);
  out.pgp_pubring = in.pgp_pubring;
  std::map<std::string, bool> kept;  // one decision per provider name
  for (const auto& p : in.providers) {
    auto [it, fresh] = kept.try_emplace(p.name, false);
    if (fresh) it->second = keep(std::string(kProviderSchemePrefix) + p.name, 0);
    if (it->second) out.providers.push_back(p);
  }
  out.key_providers = in.key_providers;
  return out;
}

}  // namespace layercrypt
