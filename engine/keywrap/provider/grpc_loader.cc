// engine/keywrap/provider/grpc_loader.cc: call_grpc_key_provider
// (keyprovider_call.h), which loads the gRPC client module
// (grpc_client.h) on its first call and calls through it.
//
// The module is looked for once per process, the first time a gRPC
// provider is called, and the outcome (the function, or why there is none)
// is kept: a process that never calls one never loads gRPC. Where it is
// looked for ($LAYERCRYPT_KEYPROVIDER_GRPC_MODULE, next to the program or
// liblayercrypt.so, LIBDIR/layercrypt/) is engine/core/module_loader.h's
// search, which layercrypt-keyprovider's server module shares.
// The module is never unloaded (gRPC keeps threads running).
#include <string>

#include "engine/core/module_loader.h"
#include "engine/keywrap/provider/grpc_client.h"
#include "engine/keywrap/provider/keyprovider_call.h"

#ifndef LAYERCRYPT_WITH_GRPC
#define LAYERCRYPT_WITH_GRPC 0
#endif

namespace layercrypt {
namespace {

struct GrpcModule {
  LcGrpcCallFn call = nullptr;
  std::string error;  // why `call` is null
};

GrpcModule load_module() {
  if (!LAYERCRYPT_WITH_GRPC) {
    return {nullptr,
            "this build has no gRPC key-provider support (built with LAYERCRYPT_WITH_GRPC=OFF)"};
  }
  const ModuleLocation where{"the gRPC module", LAYERCRYPT_KEYPROVIDER_GRPC_MODULE,
                             "LAYERCRYPT_KEYPROVIDER_GRPC_MODULE"};
  StatusOr<void*> fn = load_module_symbol(where, LAYERCRYPT_KEYPROVIDER_GRPC_SYMBOL);
  if (!fn.ok()) return {nullptr, fn.status().message()};
  return {reinterpret_cast<LcGrpcCallFn>(*fn), ""};
}

const GrpcModule& grpc_module() {
  static const GrpcModule module = load_module();  // once, thread-safe (C++11 statics)
  return module;
}

Status call_error(int code, const std::string& context, const char* message) {
  std::string m = context + ": " + (message[0] != '\0' ? message : "failed");
  switch (code) {
    case LC_GRPC_UNREACHABLE:
    case LC_GRPC_TIMEOUT:
    case LC_GRPC_CONFIG:
      return IoError(std::move(m));
    case LC_GRPC_REFUSED:
      return KeyError(std::move(m));
    case LC_GRPC_BAD_REPLY:
      return DataError(std::move(m));
    default:
      return Internal(m + " (gRPC module error " + std::to_string(code) + ")");
  }
}

}  // namespace

StatusOr<kernels::SecretBytes> call_grpc_key_provider(const KeyProviderEntry& entry,
                                                      KeyProviderOp op,
                                                      std::span<const uint8_t> request,
                                                      std::chrono::milliseconds timeout) {
  const std::string context =
      "key provider " + entry.name + " (grpc " + entry.grpc + (entry.grpc_tls ? ", TLS" : "") + ")";
  const GrpcModule& module = grpc_module();
  if (module.call == nullptr) return IoError(context + ": " + module.error);

  LcGrpcCall call{};
  call.target = entry.grpc.c_str();
  call.unwrap = op == KeyProviderOp::kUnwrap ? 1 : 0;
  call.request = request.data();
  call.request_len = request.size();
  call.timeout_ms = timeout.count() > 0 ? static_cast<int64_t>(timeout.count()) : 1;
  call.max_reply = kMaxKeyProviderMessage;
  if (entry.grpc_tls) {
    const KeyProviderGrpcTls& tls = *entry.grpc_tls;
    call.use_tls = 1;
    call.root_ca_file = tls.root_ca_file.c_str();
    call.cert_file = tls.cert_file.c_str();
    call.key_file = tls.key_file.c_str();
    call.server_name = tls.server_name.c_str();
    call.insecure_skip_verify = tls.insecure_skip_verify ? 1 : 0;
  }
  LcGrpcReply reply{};
  int rc = module.call(&call, &reply);
  reply.error[sizeof reply.error - 1] = '\0';
  if (rc != LC_GRPC_OK) {
    if (reply.data != nullptr && reply.free_fn != nullptr) reply.free_fn(reply.data, reply.len);
    return call_error(rc, context, reply.error);
  }
  kernels::SecretBytes out(reply.data, reply.data + reply.len);
  if (reply.free_fn != nullptr) reply.free_fn(reply.data, reply.len);
  if (out.size() > kMaxKeyProviderMessage) {
    return DataError(context + ": the reply is larger than " +
                     std::to_string(kMaxKeyProviderMessage) + " bytes");
  }
  return out;
}

}  // namespace layercrypt
