// engine/keywrap/key_wrapper.cc: the registry of schemes (key_wrapper.h).
#include "engine/keywrap/key_wrapper.h"

#include <array>

#include "engine/keywrap/jwe/jwe_wrapper.h"
#include "engine/keywrap/pkcs7/pkcs7_wrapper.h"
#if LAYERCRYPT_WITH_PKCS11
#include "engine/keywrap/pkcs11/pkcs11_wrapper.h"
#endif
#if LAYERCRYPT_WITH_PGP
#include "engine/keywrap/pgp/pgp_wrapper.h"
#endif
#include "engine/keywrap/provider/key_providers.h"

namespace layercrypt {

std::span<const KeyWrapper* const> key_wrappers() {
  // The fixed order: one line per scheme.
  static const std::array registry = {
    &jwe_key_wrapper(),
    &pkcs7_key_wrapper(),
#if LAYERCRYPT_WITH_PKCS11
    &pkcs11_key_wrapper(),
#endif
#if LAYERCRYPT_WITH_PGP
    &pgp_key_wrapper(),
#endif
  };
  return registry;
}

std::vector<const KeyWrapper*> key_wrappers(const KeyProviders* providers) {
  std::vector<const KeyWrapper*> out(key_wrappers().begin(), key_wrappers().end());
  if (providers != nullptr)
    out.insert(out.end(), providers->wrappers().begin(), providers->wrappers().end());
  return out;
}

const KeyWrapper* find_key_wrapper(std::string_view scheme, const KeyProviders* providers) {
  for (const KeyWrapper* w : key_wrappers())
    if (w->scheme() == scheme) return w;
  return providers != nullptr ? providers->find(scheme) : nullptr;
}

}  // namespace layercrypt
