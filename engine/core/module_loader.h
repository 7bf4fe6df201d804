// engine/core/module_loader.h: finding and loading layercrypt's own modules
// (liblayercrypt-keyprovider-grpc.so, the gRPC client of the engine, and
// liblayercrypt-keyprovider-grpc-server.so, the gRPC server of
// layercrypt-keyprovider), so that a program links a heavy library only
// when a request needs it.
//
// Search order, the same for every module:
//   1. the environment variable `env` (a path): when set it is the only
//      place looked at, so a wrong setting is an error, not a silent
//      fallback to another copy;
//   2. next to the file this code was linked into (the program, or
//      liblayercrypt.so): DIR/layercrypt/FILE and DIR/../lib/layercrypt/FILE.
//      In the build tree tools/ and tests/ find build/lib/layercrypt/;
//      installed, BINDIR/../lib/layercrypt/ (and LIBDIR/layercrypt/ for the
//      shared library);
//   3. LIBDIR/layercrypt/FILE as configured at build time
//      (layercrypt_module_install_dir()).
#ifndef LAYERCRYPT_ENGINE_CORE_MODULE_LOADER_H_
#define LAYERCRYPT_ENGINE_CORE_MODULE_LOADER_H_

#include <string>

#include "engine/core/status.h"

namespace layercrypt {

// ModuleLocation names a module for the search above and for messages.
struct ModuleLocation {
  const char* what;  // for messages: "the gRPC module"
  const char* file;  // "liblayercrypt-keyprovider-grpc.so"
  const char* env;   // "LAYERCRYPT_KEYPROVIDER_GRPC_MODULE"
};

// layercrypt_module_install_dir returns LIBDIR/layercrypt as configured at
// build time ("" if unknown).
const char* layercrypt_module_install_dir();

// find_module returns the path of `where`'s module, searched as above.
// Errors (kIoError, one line): the env variable names a file that does not
// exist ("WHAT PATH (ENV) does not exist"); no candidate exists ("WHAT FILE
// is not installed (looked for A, B, C; set ENV to its path)").
// Thread-safe; reads the environment and the file system at each call.
StatusOr<std::string> find_module(const ModuleLocation& where);

// load_module_symbol finds the module (find_module), opens it with
// dlopen(RTLD_NOW | RTLD_LOCAL) and returns the address of `symbol` in it.
// The module is never closed: callers keep the pointer for the process's
// life (gRPC, for one, keeps threads running). Errors (kIoError, one line):
// find_module's; "cannot load WHAT PATH: <dlerror>"; "WHAT PATH has no
// SYMBOL (a module of another layercrypt version?)" (then it is closed).
// Thread-safe, but each call opens the module again (dlopen counts
// references): callers load once and keep the outcome.
StatusOr<void*> load_module_symbol(const ModuleLocation& where, const char* symbol);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_MODULE_LOADER_H_
