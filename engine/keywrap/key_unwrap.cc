// engine/keywrap/key_unwrap.cc: see key_unwrap.h.
#include "engine/keywrap/key_unwrap.h"

#include <string_view>

#include "engine/keywrap/key_wrapper.h"
#if LAYERCRYPT_WITH_PGP
#include "engine/keywrap/pgp/pgp_keyring.h"
#endif
#include "engine/keywrap/provider/key_providers.h"

#include "engine/ocicrypt/layer_options.h"

namespace layercrypt {
namespace {

std::string Plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string supported_schemes() {
  std::string s;
  for (const KeyWrapper* w : key_wrappers())
    s += (s.empty() ? "" : ", ") + std::string(w->scheme());
  return s + " only";
}

std::string JoinProblems(const std::vector<std::string>& problems) {
  std::string s;
  for (const std::string& p : problems) s += "; " + p;
  return s;
}

}  // namespace

bool PreparedKeys::can_unwrap() const {
  return !private_keys.empty() || !pkcs11_keys.empty() || !pgp_keyrings.empty() ||
         !provider_params.empty() || (key_providers && !key_providers->wrappers().empty());
}

StatusOr<PreparedKeys> prepare_decrypt_keys(const DecryptKeys& keys) {
  if (!keys.passwords.empty() && keys.passwords.size() != keys.private_keys.size()) {
    return InvalidArgument("got " + std::to_string(keys.passwords.size()) + " passwords for " +
                           std::to_string(keys.private_keys.size()) +
                           " private keys; give one (possibly null) password per key");
  }
  PreparedKeys out;
  out.provider_params = keys.provider_params;
  out.key_providers = keys.key_providers;
  for (size_t i = 0; i < keys.private_keys.size(); ++i) {
    std::optional<std::string_view> pw;
    if (!keys.passwords.empty() && keys.passwords[i].has_value()) {
      const auto& p = *keys.passwords[i];
      pw = std::string_view(reinterpret_cast<const char*>(p.data()), p.size());
    }
    auto k = parse_private_key(keys.private_keys[i], pw);
    if (k.ok()) {
      out.private_keys.push_back(std::move(k).value());
    } else {
      const std::string name = i < keys.key_names.size() && !keys.key_names[i].empty()
                                   ? keys.key_names[i]
                                   : "private key " + std::to_string(i + 1);
      out.problems.push_back(name + ": " + k.status().message());
    }
  }
  for (size_t i = 0; i < keys.pkcs11_yamls.size(); ++i) {
    const std::string name = i < keys.pkcs11_yaml_names.size() && !keys.pkcs11_yaml_names[i].empty()
                                 ? keys.pkcs11_yaml_names[i]
                                 : "pkcs11 key " + std::to_string(i + 1);
#if LAYERCRYPT_WITH_PKCS11
    auto k = parse_pkcs11_key_file(keys.pkcs11_yamls[i]);
    if (k.ok())
      out.pkcs11_keys.push_back(std::move(k).value());
    else
      out.problems.push_back(name + ": " + k.status().message());
#else
    out.problems.push_back(name + ": this build has no pkcs11 scheme");
#endif
  }
#if LAYERCRYPT_WITH_PKCS11
  if (!out.pkcs11_keys.empty()) {
    out.pkcs11_policy = keys.pkcs11_policy;
    if (!out.pkcs11_policy) {
      auto policy = load_pkcs11_policy();
      if (policy.ok()) {
        out.pkcs11_policy = std::make_shared<const Pkcs11ModulePolicy>(std::move(policy).value());
      } else {
        out.pkcs11_policy_error = policy.status().message();
        out.problems.push_back("pkcs11 keys: " + policy.status().message());
      }
    }
  }
#endif
  if (!keys.pgp_passwords.empty() && keys.pgp_passwords.size() != keys.pgp_keyrings.size())
    return InvalidArgument("got " + std::to_string(keys.pgp_passwords.size()) + " passwords for " +
                           std::to_string(keys.pgp_keyrings.size()) +
                           " OpenPGP keyrings; give one (possibly null) password per keyring");
  for (size_t i = 0; i < keys.pgp_keyrings.size(); ++i) {
    const std::string name = i < keys.pgp_keyring_names.size() && !keys.pgp_keyring_names[i].empty()
                                 ? keys.pgp_keyring_names[i]
                                 : "OpenPGP keyring " + std::to_string(i + 1);
#if LAYERCRYPT_WITH_PGP
    const Status ok = check_pgp_secret_keyring(keys.pgp_keyrings[i]);
    if (!ok.ok()) {
      out.problems.push_back(name + ": " + ok.message());
      continue;
    }
    PgpSecretKeyring k{keys.pgp_keyrings[i], std::nullopt, name};
    if (i < keys.pgp_passwords.size()) k.password = keys.pgp_passwords[i];
    out.pgp_keyrings.push_back(std::move(k));
#else
    out.problems.push_back(name + ": this build has no pgp scheme");
#endif
  }
  for (size_t i = 0; i < keys.certificates.size(); ++i) {
    auto c = parse_certificate(keys.certificates[i]);
    if (c.ok()) {
      out.certificates.push_back(std::move(c).value());
    } else {
      out.problems.push_back("certificate " + std::to_string(i + 1) + ": " + c.status().message());
    }
  }
  return out;
}

StatusOr<kernels::SecretBytes> unwrap_layer_key(const Annotations& annotations,
                                                const PreparedKeys& keys) {
  std::vector<std::string> schemes = encryption_schemes(annotations);
  if (schemes.empty()) {
    return InvalidArgument(
        "layer has no org.opencontainers.image.enc.keys.* annotation; it is not encrypted");
  }
  std::vector<std::string> seen;         // what the layer has, per blob
  std::vector<std::string> unsupported;  // schemes this build cannot handle
  bool any_supported = false;
  size_t providers_called = 0;
  const KeyProviders* providers = keys.key_providers.get();

  // The registry's fixed order (key_wrapper.h), then the key providers.
  for (const KeyWrapper* wrapper : key_wrappers(providers)) {
    const std::string scheme(wrapper->scheme());
    auto it = annotations.find(keys_annotation(scheme));
    if (it == annotations.end()) continue;
    any_supported = true;
    std::vector<WrappedKeyBlob> blobs = split_wrapped_keys(it->second);
    const std::string missing = wrapper->missing_keys(keys);
    for (const WrappedKeyBlob& blob : blobs) {
      const std::string where =
          scheme + " blob " + std::to_string(blob.index + 1) + "/" + std::to_string(blobs.size());
      if (!blob.status.ok()) {
        seen.push_back(where + ": undecodable (" + blob.status.message() + ")");
        continue;
      }
      auto summary = wrapper->describe(blob.data);
      if (!summary.ok()) {
        seen.push_back(where + ": " + summary.status().message());
        continue;
      }
      std::string line = where + ": " + *summary;
      if (!keys.private_keys.empty() && !missing.empty()) line += " (" + missing + ")";
      seen.push_back(line);
      if (!missing.empty()) continue;
      const bool provider = is_provider_scheme(scheme);
      providers_called += provider;
      auto plain = wrapper->unwrap(blob.data, keys);
      if (plain.ok()) return std::move(plain).value();
      // A provider's failure names its cause (refused, timed out, ...);
      // a key scheme's says nothing about why RSA failed.
      if (provider || scheme == "pkcs11" || scheme == "pgp" ||
          plain.status().code() == StatusCode::kUnsupported) {
        seen.back() += " (" + plain.status().message() + ")";
      }
    }
  }
  std::vector<std::string> unconfigured;  // provider.NAME without provider NAME
  for (const std::string& s : schemes) {
    if (find_key_wrapper(s, providers) != nullptr) continue;
    if (is_provider_scheme(s)) {
      const KeyProviders none{KeyProviderConfig{}};
      unconfigured.push_back(s + " (" + (providers ? providers : &none)->not_configured(s) + ")");
    } else {
      unsupported.push_back(s);
    }
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
    return out;
  };
  if (!any_supported && unsupported.empty()) {
    return KeyError("layer key is wrapped only for key providers that are not configured: " +
                    join(unconfigured));
  }
  if (!any_supported && unconfigured.empty()) {
    return Unsupported("layer key is wrapped only with " + join(unsupported) +
                       ", which this build does not support (" + supported_schemes() + ")");
  }
  std::string layer;
  for (size_t i = 0; i < seen.size(); ++i) layer += (i ? "; " : "") + seen[i];
  if (!unconfigured.empty()) layer += (layer.empty() ? "" : "; ") + join(unconfigured);
  if (!unsupported.empty())
    layer +=
        (layer.empty() ? "" : "; also ") + join(unsupported) + " (not supported by this build)";
  std::string tried = "tried " + Plural(keys.private_keys.size(), "private key", "private keys") +
                      " and " + Plural(keys.certificates.size(), "certificate", "certificates");
  if (!keys.pkcs11_keys.empty())
    tried += " and " + Plural(keys.pkcs11_keys.size(), "pkcs11 key", "pkcs11 keys");
  if (!keys.pgp_keyrings.empty())
    tried += " and " + Plural(keys.pgp_keyrings.size(), "OpenPGP keyring", "OpenPGP keyrings");
  if (providers_called > 0)
    tried += " and " + Plural(providers_called, "key provider call", "key provider calls");
  if (keys.private_keys.empty() && keys.pkcs11_keys.empty() && keys.pgp_keyrings.empty() &&
      providers_called == 0) {
    return KeyError("missing private key needed for decryption: layer has " + layer + "; " + tried +
                    JoinProblems(keys.problems));
  }
  return KeyError("no key could unwrap the layer key: layer has " + layer + "; " + tried +
                  JoinProblems(keys.problems));
}

StatusOr<kernels::SecretBytes> unwrap_layer_key(const Annotations& annotations,
                                                const DecryptKeys& keys) {
  LC_ASSIGN_OR_RETURN(PreparedKeys prepared, prepare_decrypt_keys(keys));
  return unwrap_layer_key(annotations, prepared);
}

StatusOr<OpenedLayerKey> open_layer_key(const Annotations& annotations, const PreparedKeys& keys) {
  LC_ASSIGN_OR_RETURN(kernels::SecretBytes priv_json, unwrap_layer_key(annotations, keys));
  auto priv = parse_private_options(std::span<const uint8_t>(priv_json.data(), priv_json.size()));
  if (!priv.ok()) return priv.status().with_context("unwrapped private options");
  auto pub = read_public_options(annotations);
  if (!pub.ok()) return pub.status().with_context("public options");
  LC_RETURN_IF_ERROR(validate_for_decryption(*pub, *priv));
  OpenedLayerKey out;
  out.key.symkey = priv->symkey;
  out.key.nonce = priv->cipher_options.at(std::string(kNonceOption));
  std::copy(pub->hmac.begin(), pub->hmac.end(), out.hmac.begin());
  out.plain_digest = priv->digest;
  return out;
}

}  // namespace layercrypt
