// engine/keywrap/pkcs11/pkcs11_wrapper.cc: see pkcs11_wrapper.h.
#include "engine/keywrap/pkcs11/pkcs11_wrapper.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include <algorithm>
#include <mutex>

#include "engine/core/base64.h"
#include "engine/keywrap/jwe/jwe.h"
#include "engine/keywrap/pkcs11/pkcs11_blob.h"
#include "kernels/openssl_ptr.h"
#include "kernels/pkcs11.h"
#include "kernels/sha256.h"

namespace layercrypt {
namespace {

using kernels::UniquePtr;

// ModuleEnv sets a key's module.env for as long as it lives and puts the
// old values back after, all under one process-wide lock: the environment
// is process-wide and a module reads it when it is initialised (Go's
// pkcs11 helpers do the same).
class ModuleEnv {
 public:
  explicit ModuleEnv(const std::vector<std::pair<std::string, std::string>>& env) : lock_(mutex()) {
    for (const auto& [name, value] : env) {
      const char* old = ::getenv(name.c_str());
      if (old != nullptr && value == old) continue;  // unchanged: nothing to undo
      saved_.push_back({name, old != nullptr, old != nullptr ? old : ""});
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ModuleEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->had)
        ::setenv(it->name.c_str(), it->value.c_str(), 1);
      else
        ::unsetenv(it->name.c_str());
    }
  }
  ModuleEnv(const ModuleEnv&) = delete;
  ModuleEnv& operator=(const ModuleEnv&) = delete;

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  struct Saved {
    std::string name;
    bool had;
    std::string value;
  };
  std::lock_guard<std::mutex> lock_;
  std::vector<Saved> saved_;
};

// key_name names a key in messages without its PIN: token and object or id.
std::string key_name(const Pkcs11Uri& uri) {
  std::string s = "pkcs11 key";
  if (!uri.object.empty()) s += " " + quoted_for_message(uri.object);
  if (uri.object.empty() && !uri.id.empty()) s += " with id " + base64_encode(uri.id);
  if (!uri.token.empty()) s += " in token " + quoted_for_message(uri.token);
  if (uri.slot) s += " in slot " + std::to_string(*uri.slot);
  return s;
}

// hint adds what to do about the PKCS#11 results a user can fix.
std::string with_hint(const std::string& error) {
  if (error.find("CKR_PIN_INCORRECT") != std::string::npos)
    return error + " (wrong PIN: check pin-value or pin-source)";
  if (error.find("CKR_PIN_LOCKED") != std::string::npos)
    return error + " (the token's user PIN is locked)";
  return error;
}

// open_session resolves the module, opens a session on the key's token and
// logs in (always when `need_pin`, else only when the URI has a PIN).
// Must be called with the key's ModuleEnv alive.
StatusOr<std::unique_ptr<kernels::Pkcs11Session>> open_session(const Pkcs11KeyFile& key,
                                                               const Pkcs11ModulePolicy& policy,
                                                               bool need_pin) {
  const std::string name = key_name(key.uri);
  LC_ASSIGN_OR_RETURN(std::string module, resolve_pkcs11_module(key.uri, policy));
  std::optional<kernels::SecretBytes> pin;
  if (need_pin || key.uri.has_pin_value || !key.uri.pin_source.empty()) {
    auto p = pkcs11_pin(key.uri);
    if (!p.ok()) return p.status().with_context(name);
    pin = std::move(p).value();
  }
  std::string error;
  auto session = key.uri.slot
                     ? kernels::Pkcs11Session::open_slot(module, *key.uri.slot, false, &error)
                     : kernels::Pkcs11Session::open(module, key.uri.token, false, &error);
  if (!session) return KeyError(name + ": " + error);
  if (pin && !session->login(*pin, &error)) return KeyError(name + ": " + with_hint(error));
  return session;
}

StatusOr<PublicKey> rsa_public_key(const std::vector<uint8_t>& n, const std::vector<uint8_t>& e) {
  UniquePtr<BIGNUM> bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  UniquePtr<BIGNUM> bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return Internal("out of memory");
  UniquePtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return KeyError("the token's public key is not a valid RSA key");
  return PublicKey::from_evp(pkey);
}

StatusOr<std::vector<uint8_t>> oaep_encrypt(const PublicKey& pub, OaepHash hash,
                                            std::span<const uint8_t> plain) {
  const char* md = hash == OaepHash::kSha1 ? "SHA1" : "SHA256";
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pub.evp(), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), md, nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx.get(), md, nullptr) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plain.data(), plain.size()) != 1)
    return Internal("OpenSSL RSA-OAEP encryption setup failed");
  // OAEP fits at most modulus - 2 * hash - 2 bytes.
  const size_t hlen = hash == OaepHash::kSha1 ? 20 : 32;
  const size_t modulus = static_cast<size_t>(EVP_PKEY_get_size(pub.evp()));
  if (modulus < 2 * hlen + 2 || plain.size() > modulus - 2 * hlen - 2)
    return InvalidArgument("the layer's private options (" + std::to_string(plain.size()) +
                           " bytes) do not fit RSA-OAEP-" + oaep_hash_name(hash) + " with a " +
                           pub.description() + " key; use a larger key" +
                           (hash == OaepHash::kSha256 ? " or OCICRYPT_OAEP_HASHALG=sha1" : ""));
  std::vector<uint8_t> out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plain.data(), plain.size()) != 1)
    return Internal("OpenSSL RSA-OAEP encryption failed");
  out.resize(len);
  return out;
}

std::string entry_digest(const std::vector<uint8_t>& ciphertext) {
  uint8_t d[32];
  kernels::sha256(ciphertext.data(), ciphertext.size(), d, sizeof d);
  return base64url_encode(std::span<const uint8_t>(d, sizeof d));
}

const char* alg_name(const Pkcs11BlobRecipient& r) {
  return r.hash == OaepHash::kSha1 ? "RSA-OAEP" : "RSA-OAEP-256";
}

class Pkcs11Wrapper final : public KeyWrapper {
 public:
  std::string_view scheme() const override { return "pkcs11"; }
  size_t recipient_count(const Recipients& r) const override { return r.pkcs11.size(); }

  StatusOr<std::vector<uint8_t>> wrap(std::span<const uint8_t> priv_json,
                                      const Recipients& r) const override {
    LC_ASSIGN_OR_RETURN(OaepHash hash, oaep_hash_from_env());
    std::vector<Pkcs11BlobRecipient> out;
    for (const PublicKey& pub : r.pkcs11) {
      if (pub.algorithm() != KeyAlgorithm::kRsa)
        return InvalidArgument("a pkcs11 recipient must be an RSA key, not " + pub.description());
      Pkcs11BlobRecipient rec;
      rec.hash = hash;
      LC_ASSIGN_OR_RETURN(rec.ciphertext, oaep_encrypt(pub, hash, priv_json));
      out.push_back(std::move(rec));
    }
    return write_pkcs11_blob(out);
  }

  StatusOr<std::vector<std::string>> recipient_ids(const Recipients& r) const override {
    std::vector<std::string> out;
    for (const auto& pub : r.pkcs11) {
      LC_ASSIGN_OR_RETURN(std::string t, jwk_thumbprint(pub));
      out.push_back("pkcs11:" + t);
    }
    return out;
  }

  std::string missing_keys(const PreparedKeys& keys) const override {
    if (keys.pkcs11_keys.empty()) return "needs a pkcs11 key YAML (--key key.yaml)";
    return "";
  }

  StatusOr<kernels::SecretBytes> unwrap(std::span<const uint8_t> blob,
                                        const PreparedKeys& keys) const override {
    LC_ASSIGN_OR_RETURN(std::vector<Pkcs11BlobRecipient> recipients, parse_pkcs11_blob(blob));
    if (!keys.pkcs11_policy)
      return KeyError("no module policy for the pkcs11 keys: " + keys.pkcs11_policy_error);
    std::string why;
    for (const Pkcs11KeyFile& key : keys.pkcs11_keys) {
      const std::string name = key_name(key.uri);
      ModuleEnv env(key.env);
      auto session = open_session(key, *keys.pkcs11_policy, true);
      if (!session.ok()) {
        why += (why.empty() ? "" : "; ") + session.status().message();
        continue;
      }
      std::string error;
      uint64_t handle = 0;
      if (!(*session)->find_key(kernels::Pkcs11ObjectClass::kPrivateKey, key.uri.object, key.uri.id,
                                &handle, &error)) {
        why += (why.empty() ? "" : "; ") + name + ": " + error;
        continue;
      }
      std::string refused;  // a mechanism the token does not do
      for (const Pkcs11BlobRecipient& r : recipients) {
        kernels::SecretBytes plain;
        const auto hash = r.hash == OaepHash::kSha1 ? kernels::Pkcs11OaepHash::kSha1
                                                    : kernels::Pkcs11OaepHash::kSha256;
        if ((*session)->rsa_oaep_decrypt(handle, hash, r.ciphertext, &plain, &error)) return plain;
        // Why a decryption failed is not told (it could be an oracle), but
        // a token that rejects the mechanism itself, before any data, is.
        if (error.rfind("C_DecryptInit", 0) == 0 && refused.empty())
          refused = std::string(" (the token refuses RSA-OAEP with ") + oaep_hash_name(r.hash) +
                    ": " + error +
                    (r.hash == OaepHash::kSha256
                         ? "; SoftHSM 2.6 does SHA-1 only: encrypt with OCICRYPT_OAEP_HASHALG=sha1)"
                         : ")");
      }
      why += (why.empty() ? "" : "; ") + name + " opens none of the blob's " +
             std::to_string(recipients.size()) + " recipients" + refused;
    }
    return KeyError(why.empty() ? "no pkcs11 key given" : why);
  }

  StatusOr<std::string> describe(std::span<const uint8_t> blob) const override {
    LC_ASSIGN_OR_RETURN(std::vector<Pkcs11BlobRecipient> rs, parse_pkcs11_blob(blob));
    std::vector<std::string> seen;
    std::string algs;
    for (const auto& r : rs) {
      const std::string a = alg_name(r);
      if (std::find(seen.begin(), seen.end(), a) != seen.end()) continue;
      seen.push_back(a);
      algs += (algs.empty() ? "" : ", ") + a;
    }
    return "pkcs11 blob, " + std::to_string(rs.size()) +
           (rs.size() == 1 ? " recipient (" : " recipients (") + algs + ")";
  }

  StatusOr<std::vector<BlobRecipient>> recipients(std::span<const uint8_t> blob) const override {
    LC_ASSIGN_OR_RETURN(std::vector<Pkcs11BlobRecipient> rs, parse_pkcs11_blob(blob));
    std::vector<BlobRecipient> out;
    for (const auto& r : rs) out.push_back({alg_name(r), "", entry_digest(r.ciphertext)});
    return out;
  }

  StatusOr<std::optional<std::vector<uint8_t>>> remove(
      std::span<const uint8_t> blob, const std::vector<size_t>& drop) const override {
    LC_ASSIGN_OR_RETURN(std::vector<Pkcs11BlobRecipient> rs, parse_pkcs11_blob(blob));
    std::vector<Pkcs11BlobRecipient> kept;
    for (size_t i = 0; i < rs.size(); ++i)
      if (std::find(drop.begin(), drop.end(), i) == drop.end()) kept.push_back(std::move(rs[i]));
    if (kept.empty()) return std::optional<std::vector<uint8_t>>();
    return std::optional<std::vector<uint8_t>>(write_pkcs11_blob(kept));
  }
};

}  // namespace

const KeyWrapper& pkcs11_key_wrapper() {
  static const Pkcs11Wrapper w;
  return w;
}

StatusOr<PublicKey> pkcs11_token_public_key(const Pkcs11KeyFile& key,
                                            const Pkcs11ModulePolicy& policy) {
  const std::string name = key_name(key.uri);
  ModuleEnv env(key.env);
  LC_ASSIGN_OR_RETURN(auto session, open_session(key, policy, false));
  std::string error;
  uint64_t handle = 0;
  if (!session->find_key(kernels::Pkcs11ObjectClass::kPublicKey, key.uri.object, key.uri.id,
                         &handle, &error))
    return KeyError(name + ": " + error);
  std::vector<uint8_t> n, e;
  if (!session->rsa_public_key(handle, &n, &e, &error))
    return KeyError(name + ": " + error + " (is it an RSA key?)");
  auto pub = rsa_public_key(n, e);
  if (!pub.ok()) return pub.status().with_context(name);
  return pub;
}

}  // namespace layercrypt
