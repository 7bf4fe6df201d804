// engine/keywrap/key_wrapper.cc: the registry of schemes (key_wrapper.h).
#include "engine/keywrap/key_wrapper.h"

#include <array>

#include "engine/keywrap/jwe/jwe_wrapper.h"
#include "engine/keywrap/pkcs7/pkcs7_wrapper.h"

namespace layercrypt {

std::span<const KeyWrapper* const> key_wrappers() {
  // The fixed order: one line per scheme.
  static const std::array<const KeyWrapper*, 2> registry = {
      &jwe_key_wrapper(),
      &pkcs7_key_wrapper(),
  };
  return registry;
}

const KeyWrapper* find_key_wrapper(std::string_view scheme) {
  for (const KeyWrapper* w : key_wrappers())
    if (w->scheme() == scheme) return w;
  return nullptr;
}

}  // namespace layercrypt
