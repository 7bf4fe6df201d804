// tools/layercrypt-keyprovider/grpc_server_loader.cc: serve_grpc
// (grpc_server.h) as layercrypt-keyprovider links it: it loads
// liblayercrypt-keyprovider-grpc-server.so (grpc_server_module.h) and runs
// the module's serve_grpc, so that only `serve` loads gRPC. The module is
// loaded on the first call and kept (with the reason when it cannot be).
#include "engine/core/module_loader.h"
#include "tools/layercrypt-keyprovider/grpc_server.h"
#include "tools/layercrypt-keyprovider/grpc_server_module.h"

namespace layercrypt::keyprovider {
namespace {

StatusOr<LcGrpcServeFn> load_server() {
  const ModuleLocation where{"the gRPC server module", LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE,
                             LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_ENV};
  LC_ASSIGN_OR_RETURN(void* fn,
                      load_module_symbol(where, LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_SYMBOL));
  return reinterpret_cast<LcGrpcServeFn>(fn);
}

}  // namespace

Status serve_grpc(const GrpcServerOptions& opts, const Handler& handler,
                  const std::function<void(const std::string&)>& ready,
                  const std::atomic<bool>* stop) {
  static const StatusOr<LcGrpcServeFn> serve = load_server();  // once, thread-safe
  if (!serve.ok()) return serve.status();
  const std::string abi = grpc_serve_abi();
  Status result = Internal("the gRPC server module returned no status");
  GrpcServeCall call{abi.c_str(), &opts, &handler, &ready, stop, &result};
  (*serve)(&call);
  return result;
}

}  // namespace layercrypt::keyprovider
