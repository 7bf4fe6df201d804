// tools/layercrypt-keyprovider/grpc_server_module.cc: the entry point of
// liblayercrypt-keyprovider-grpc-server.so (grpc_server_module.h), which
// runs serve_grpc (grpc_server.cc, linked into the module with gRPC++ and
// the generated service). Only this function is exported (a version
// script; everything else, gRPC included, is local to the module).
#include "tools/layercrypt-keyprovider/grpc_server_module.h"

#include <exception>

extern "C" __attribute__((visibility("default"))) void layercrypt_keyprovider_grpc_serve_v1(
    layercrypt::keyprovider::GrpcServeCall* call) {
  using layercrypt::keyprovider::grpc_serve_abi;
  if (call->abi == nullptr || grpc_serve_abi() != call->abi) {
    *call->result = layercrypt::Internal(
        std::string("the gRPC server module is from another layercrypt build (interface ") +
        grpc_serve_abi() + ", the program's " + (call->abi ? call->abi : "unknown") +
        "): install the two together");
    return;
  }
  try {
    *call->result =
        layercrypt::keyprovider::serve_grpc(*call->opts, *call->handler, *call->ready, call->stop);
  } catch (const std::exception& e) {  // no exception crosses the module's boundary
    *call->result = layercrypt::Internal(std::string("the gRPC server failed: ") + e.what());
  } catch (...) {
    *call->result = layercrypt::Internal("the gRPC server failed");
  }
}
