// tools/layercrypt-keyprovider/grpc_server_module.h: the interface between
// layercrypt-keyprovider and its gRPC server module.
//
// ocicrypt starts `layercrypt-keyprovider cmd` once per layer key, so the
// tool links no gRPC: serve_grpc (grpc_server.h) lives in a module,
// liblayercrypt-keyprovider-grpc-server.so, beside the engine's gRPC client
// module (LIBDIR/layercrypt/, build/lib/layercrypt/ in the build tree), and
// the tool's serve_grpc (grpc_server_loader.cc) loads it with dlopen when
// `serve` runs. It is found as engine/core/module_loader.h says:
// $LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE (a path), next to the program
// (DIR/layercrypt/, DIR/../lib/layercrypt/), then the install-time
// LIBDIR/layercrypt/.
//
// The module exports one C-linkage function (grpc_server_module.map):
//
//   void layercrypt_keyprovider_grpc_serve_v1(GrpcServeCall* call);
//
// which runs serve_grpc with call's arguments and stores its Status in
// *call->result. Unlike the engine's client module (grpc_client.h, plain C),
// C++ objects cross here: the module is the tool's own, built from the same
// tree by the same compiler and installed with it. The module refuses a
// call whose `abi` differs from its own (another layercrypt version, or
// other struct layouts) with kInternal instead of misreading it.
#ifndef LAYERCRYPT_TOOLS_LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE_H_
#define LAYERCRYPT_TOOLS_LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE_H_

#include <atomic>
#include <functional>
#include <string>

#include "engine/core/status.h"
#include "tools/layercrypt-keyprovider/grpc_server.h"

#ifndef LAYERCRYPT_VERSION
#error "LAYERCRYPT_VERSION is undefined (tools/CMakeLists.txt defines it for both sides)"
#endif

#define LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE "liblayercrypt-keyprovider-grpc-server.so"
#define LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_ENV "LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE"
#define LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_SYMBOL "layercrypt_keyprovider_grpc_serve_v1"

namespace layercrypt::keyprovider {

// grpc_serve_abi returns a tag of this build's interface: the version and
// the sizes of the types that cross. Both sides compute it; they must agree.
inline std::string grpc_serve_abi() {
  return std::string(LAYERCRYPT_VERSION) + "/" + std::to_string(sizeof(GrpcServerOptions)) + "/" +
         std::to_string(sizeof(ClientIdentity)) + "/" + std::to_string(sizeof(Handler)) + "/" +
         std::to_string(sizeof(Status));
}

// GrpcServeCall is serve_grpc's arguments, plus where its Status goes.
struct GrpcServeCall {
  const char* abi;  // grpc_serve_abi() of the caller; the first member in every version
  const GrpcServerOptions* opts;
  const Handler* handler;
  const std::function<void(const std::string&)>* ready;
  const std::atomic<bool>* stop;  // may be null
  Status* result;
};

}  // namespace layercrypt::keyprovider

extern "C" {
typedef void (*LcGrpcServeFn)(layercrypt::keyprovider::GrpcServeCall* call);
}

#endif  // LAYERCRYPT_TOOLS_LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE_H_
