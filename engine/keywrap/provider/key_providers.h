// engine/keywrap/provider/key_providers.h: the configured key providers as
// key wrappers, one scheme `provider.NAME` per config entry (Go ocicrypt
// registers one keywrap.KeyWrapper per entry in its init()).
//
// Unlike jwe and pkcs7, these schemes exist only with a config, so they are
// not in the fixed registry (key_wrapper.h): a KeyProviders object holds
// them, and Recipients (encrypting) and PreparedKeys (decrypting) point to
// it. The registry's lookups take that pointer: the fixed schemes come
// first, then the providers in name order.
//
// Wrap: one call per provider, with the PARAMS of every provider:NAME[:PARAMS]
// recipient given (Go calls each provider once, however often it is named).
// Unwrap: every blob of a provider.NAME annotation is sent to provider NAME
// until one opens; as in Go a provider is called even when no
// provider:NAME key was given (its NoPossibleKeys is always false): the key
// may be the node's identity, not a parameter. A provider failure (timeout,
// refusal, garbage) fails that blob only; the other blobs and schemes are
// still tried, and the final error names each provider's cause.
//
// Thread-safety: immutable after construction; shared between threads.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEY_PROVIDERS_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEY_PROVIDERS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/provider/keyprovider_config.h"

namespace layercrypt {

class KeyWrapper;

// kProviderSchemePrefix starts every provider scheme: "provider.NAME".
inline constexpr std::string_view kProviderSchemePrefix = "provider.";

class KeyProviders {
 public:
  explicit KeyProviders(KeyProviderConfig config);
  ~KeyProviders();
  KeyProviders(const KeyProviders&) = delete;
  KeyProviders& operator=(const KeyProviders&) = delete;

  const KeyProviderConfig& config() const { return config_; }
  // wrappers returns one wrapper per entry, in name order.
  const std::vector<const KeyWrapper*>& wrappers() const { return views_; }
  // find returns the wrapper of scheme "provider.NAME", or nullptr.
  const KeyWrapper* find(std::string_view scheme) const;
  // not_configured returns why scheme "provider.NAME" has no wrapper, for
  // messages: "no key provider NAME in FILE (it has: a, b)", "no key provider
  // config (OCICRYPT_KEYPROVIDER_CONFIG is not set)", "... FILE does not exist".
  std::string not_configured(std::string_view scheme) const;

 private:
  KeyProviderConfig config_;
  std::vector<std::unique_ptr<KeyWrapper>> owned_;
  std::vector<const KeyWrapper*> views_;
};

// load_key_providers returns the providers of `path` when it is not empty,
// else of OCICRYPT_KEYPROVIDER_CONFIG (keyprovider_config.h), with every
// call bounded by `timeout`.
StatusOr<std::shared_ptr<const KeyProviders>> load_key_providers(
    const std::string& path, std::chrono::milliseconds timeout = kDefaultKeyProviderTimeout);

// is_provider_scheme says whether `scheme` is "provider.NAME".
bool is_provider_scheme(std::string_view scheme);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEY_PROVIDERS_H_
