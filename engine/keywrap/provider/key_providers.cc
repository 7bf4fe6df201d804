// engine/keywrap/provider/key_providers.cc: see key_providers.h.
#include "engine/keywrap/provider/key_providers.h"

#include "engine/keywrap/key_wrapper.h"
#include "engine/keywrap/provider/keyprovider_call.h"
#include "engine/keywrap/provider/keyprovider_protocol.h"

namespace layercrypt {
namespace {

// own_params returns the parameters meant for provider `name` only.
ProviderParams own_params(const std::string& name, const ProviderParams& all) {
  ProviderParams out;
  const auto it = all.find(name);
  if (it != all.end()) out.emplace(name, it->second);
  return out;
}

class ProviderKeyWrapper final : public KeyWrapper {
 public:
  ProviderKeyWrapper(const KeyProviderEntry& entry, std::chrono::milliseconds timeout)
      : entry_(entry),
        scheme_(std::string(kProviderSchemePrefix) + entry.name),
        timeout_(timeout) {}

  std::string_view scheme() const override { return scheme_; }

  size_t recipient_count(const Recipients& r) const override {
    for (const auto& p : r.providers)
      if (p.name == entry_.name) return 1;
    return 0;
  }

  StatusOr<std::vector<uint8_t>> wrap(std::span<const uint8_t> priv_json,
                                      const Recipients& r) const override {
    ProviderParams params;
    for (const auto& p : r.providers)
      if (p.name == entry_.name) params[entry_.name].push_back(p.params);
    const kernels::SecretBytes request = keywrap_request(entry_.name, params, priv_json);
    LC_ASSIGN_OR_RETURN(kernels::SecretBytes reply,
                        call_key_provider(entry_, KeyProviderOp::kWrap, request, timeout_));
    auto annotation = parse_keywrap_reply(reply);
    if (!annotation.ok()) return annotation.status().with_context(who());
    if (annotation->empty()) return KeyError(who() + ": the provider returned no wrapped key");
    return annotation;
  }

  StatusOr<std::vector<std::string>> recipient_ids(const Recipients& r) const override {
    if (recipient_count(r) == 0) return std::vector<std::string>{};
    return std::vector<std::string>{"provider:" + entry_.name};
  }

  std::string missing_keys(const PreparedKeys&) const override { return ""; }

  StatusOr<kernels::SecretBytes> unwrap(std::span<const uint8_t> blob,
                                        const PreparedKeys& keys) const override {
    const kernels::SecretBytes request =
        keyunwrap_request(entry_.name, own_params(entry_.name, keys.provider_params), blob);
    LC_ASSIGN_OR_RETURN(kernels::SecretBytes reply,
                        call_key_provider(entry_, KeyProviderOp::kUnwrap, request, timeout_));
    auto opts = parse_keyunwrap_reply(reply);
    if (!opts.ok()) return opts.status().with_context(who());
    if (opts->empty()) return KeyError(who() + ": the provider did not unwrap it (empty reply)");
    return opts;
  }

  StatusOr<std::string> describe(std::span<const uint8_t> blob) const override {
    return std::to_string(blob.size()) + " bytes";
  }

  StatusOr<std::vector<BlobRecipient>> recipients(std::span<const uint8_t>) const override {
    return std::vector<BlobRecipient>{{"provider", "provider:" + entry_.name, ""}};
  }

  StatusOr<std::optional<std::vector<uint8_t>>> remove(
      std::span<const uint8_t> blob, const std::vector<size_t>& drop) const override {
    for (size_t d : drop)
      if (d == 0) return std::optional<std::vector<uint8_t>>();
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(blob.begin(), blob.end()));
  }

 private:
  std::string who() const { return "key provider " + entry_.name + " (" + entry_.describe() + ")"; }

  KeyProviderEntry entry_;
  std::string scheme_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

KeyProviders::KeyProviders(KeyProviderConfig config) : config_(std::move(config)) {
  for (const auto& e : config_.providers) {
    owned_.push_back(std::make_unique<ProviderKeyWrapper>(e, config_.timeout));
    views_.push_back(owned_.back().get());
  }
}

KeyProviders::~KeyProviders() = default;

const KeyWrapper* KeyProviders::find(std::string_view scheme) const {
  for (const KeyWrapper* w : views_)
    if (w->scheme() == scheme) return w;
  return nullptr;
}

std::string KeyProviders::not_configured(std::string_view scheme) const {
  std::string_view name = scheme;
  if (is_provider_scheme(scheme)) name.remove_prefix(kProviderSchemePrefix.size());
  const std::string n(name);
  if (config_.source.empty())
    return "no key provider " + n + ": no key-provider config (" + kKeyProviderConfigEnv +
           " is not set)";
  if (config_.missing) return "no key provider " + n + ": " + config_.source + " does not exist";
  return "no key provider " + n + " in " + config_.source + " (it has: " + config_.names() + ")";
}

StatusOr<std::shared_ptr<const KeyProviders>> load_key_providers(
    const std::string& path, std::chrono::milliseconds timeout) {
  auto config = path.empty() ? keyprovider_config_from_env() : load_keyprovider_config(path);
  if (!config.ok()) return config.status();
  config->timeout = timeout;
  return std::shared_ptr<const KeyProviders>(std::make_shared<KeyProviders>(std::move(*config)));
}

bool is_provider_scheme(std::string_view scheme) {
  return scheme.size() > kProviderSchemePrefix.size() &&
         scheme.substr(0, kProviderSchemePrefix.size()) == kProviderSchemePrefix;
}

}  // namespace layercrypt
