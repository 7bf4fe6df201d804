// engine/keywrap/pgp/rnp_library.cc: see rnp_library.h.
#include "engine/keywrap/pgp/rnp_library.h"

#include <dlfcn.h>
#include <rnp/rnp_err.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <type_traits>

namespace layercrypt::pgp_internal {
namespace {

// The soname of Debian 12's librnp0 (0.16).
constexpr char kLibrary[] = "librnp.so.0";

std::string& load_error() {
  static std::string* e = new std::string;
  return *e;
}

// Stub<F>::call fails the way the scheme's error paths expect.
template <typename F>
struct Stub;
template <typename R, typename... A>
struct Stub<R (*)(A...)> {
  static R call(A...) {
    if constexpr (std::is_void_v<R>) {
      return;
    } else if constexpr (std::is_pointer_v<R>) {
      return nullptr;
    } else {
      return static_cast<R>(RNP_ERROR_NOT_IMPLEMENTED);
    }
  }
};

const char* stub_result_to_string(rnp_result_t) { return load_error().c_str(); }

RnpFunctions stubs() {
  RnpFunctions t;
#define LC_RNP_STUB(f) t.f = &Stub<decltype(&::f)>::call;
  LC_RNP_FUNCTIONS(LC_RNP_STUB)
#undef LC_RNP_STUB
  t.rnp_result_to_string = &stub_result_to_string;
  return t;
}

struct Loaded {
  RnpFunctions table;
  bool ok = false;
};

Loaded load() {
  Loaded l;
  const char* env = std::getenv("LAYERCRYPT_RNP_LIBRARY");
  const char* path = env != nullptr && *env != '\0' ? env : kLibrary;
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* e = dlerror();
    load_error() =
        std::string("the OpenPGP library could not be loaded (install librnp0): ") + (e ? e : path);
    l.table = stubs();
    return l;
  }
  std::string missing;
#define LC_RNP_RESOLVE(f)                                     \
  l.table.f = reinterpret_cast<decltype(&::f)>(dlsym(h, #f)); \
  if (l.table.f == nullptr) missing += (missing.empty() ? "" : ", ") + std::string(#f);
  LC_RNP_FUNCTIONS(LC_RNP_RESOLVE)
#undef LC_RNP_RESOLVE
  if (!missing.empty()) {
    // An older librnp: keep it loaded (its static state may be in use by
    // nothing else, but unloading C++ libraries is not safe) and fail.
    load_error() = std::string("the OpenPGP library ") + path + " lacks " + missing;
    l.table = stubs();
    return l;
  }
  l.ok = true;
  return l;
}

const Loaded& loaded() {
  static const Loaded* l = new Loaded(load());
  return *l;
}

}  // namespace

const RnpFunctions& rnp() { return loaded().table; }

bool rnp_loaded() { return loaded().ok; }

const std::string& rnp_load_error() {
  (void)loaded();
  return load_error();
}

}  // namespace layercrypt::pgp_internal
