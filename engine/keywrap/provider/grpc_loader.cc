// engine/keywrap/provider/grpc_loader.cc: call_grpc_key_provider
// (keyprovider_call.h), which loads the gRPC client module
// (grpc_client.h) on its first call and calls through it.
//
// The module is looked for once per process, the first time a gRPC
// provider is called, and the outcome (the function, or why there is none)
// is kept: a process that never calls one never loads gRPC. Search order:
//   1. $LAYERCRYPT_KEYPROVIDER_GRPC_MODULE, a path; when set it is the only
//      place looked at, so a wrong setting is an error, not a silent
//      fallback to another copy;
//   2. next to the file this code was linked into (the program, or
//      liblayercrypt.so): DIR/layercrypt/ and DIR/../lib/layercrypt/. In
//      the build tree both tools/ and tests/ find build/lib/layercrypt/;
//      installed, BINDIR/../lib/layercrypt/ (and LIBDIR/layercrypt/ for
//      the shared library);
//   3. LIBDIR/layercrypt/ as configured at build time
//      (LAYERCRYPT_KEYPROVIDER_GRPC_INSTALL_DIR).
// The module is never unloaded (gRPC keeps threads running).
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/keywrap/provider/grpc_client.h"
#include "engine/keywrap/provider/keyprovider_call.h"

#ifndef LAYERCRYPT_WITH_GRPC
#define LAYERCRYPT_WITH_GRPC 0
#endif
#ifndef LAYERCRYPT_KEYPROVIDER_GRPC_INSTALL_DIR
#define LAYERCRYPT_KEYPROVIDER_GRPC_INSTALL_DIR ""
#endif

namespace layercrypt {
namespace {

constexpr const char* kModuleEnv = "LAYERCRYPT_KEYPROVIDER_GRPC_MODULE";

struct GrpcModule {
  LcGrpcCallFn call = nullptr;
  std::string error;  // why `call` is null
};

// own_directory returns the directory of the file this function is in: the
// executable (read from /proc/self/exe, as dladdr reports only argv[0] for
// it) or the shared library; "" if it cannot tell.
std::string own_directory() {
  Dl_info info{};
  struct link_map* map = nullptr;
  std::string file;
  if (dladdr1(reinterpret_cast<void*>(&own_directory), &info, reinterpret_cast<void**>(&map),
              RTLD_DL_LINKMAP) != 0 &&
      map != nullptr && map->l_name != nullptr && map->l_name[0] == '/') {
    file = map->l_name;
  } else {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    file.assign(buf, static_cast<size_t>(n));
  }
  char* real = realpath(file.c_str(), nullptr);
  if (real != nullptr) {
    file = real;
    free(real);
  }
  auto slash = file.rfind('/');
  return slash == std::string::npos ? "" : file.substr(0, slash);
}

std::vector<std::string> module_candidates() {
  std::vector<std::string> paths;
  const std::string dir = own_directory();
  if (!dir.empty()) {
    paths.push_back(dir + "/layercrypt/" LAYERCRYPT_KEYPROVIDER_GRPC_MODULE);
    paths.push_back(dir + "/../lib/layercrypt/" LAYERCRYPT_KEYPROVIDER_GRPC_MODULE);
  }
  const std::string installed = LAYERCRYPT_KEYPROVIDER_GRPC_INSTALL_DIR;
  if (!installed.empty()) paths.push_back(installed + "/" LAYERCRYPT_KEYPROVIDER_GRPC_MODULE);
  return paths;
}

GrpcModule open_module(const std::string& path) {
  GrpcModule m;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    m.error = "cannot load the gRPC module " + path + ": " + (why ? why : "dlopen failed");
    return m;
  }
  m.call = reinterpret_cast<LcGrpcCallFn>(dlsym(handle, LAYERCRYPT_KEYPROVIDER_GRPC_SYMBOL));
  if (m.call == nullptr) {
    m.error = "the gRPC module " + path +
              " has no " LAYERCRYPT_KEYPROVIDER_GRPC_SYMBOL
              " (a module of another layercrypt version?)";
    dlclose(handle);
  }
  return m;
}

GrpcModule load_module() {
  if (!LAYERCRYPT_WITH_GRPC) {
    return {nullptr,
            "this build has no gRPC key-provider support (built with LAYERCRYPT_WITH_GRPC=OFF)"};
  }
  const char* env = getenv(kModuleEnv);
  if (env != nullptr && *env != '\0') {
    if (access(env, F_OK) != 0) {
      return {nullptr,
              std::string("the gRPC module ") + env + " (" + kModuleEnv + ") does not exist"};
    }
    return open_module(env);
  }
  std::string tried;
  for (const std::string& path : module_candidates()) {
    if (access(path.c_str(), F_OK) == 0) return open_module(path);
    tried += (tried.empty() ? "" : ", ") + path;
  }
  return {nullptr, "the gRPC key-provider module " LAYERCRYPT_KEYPROVIDER_GRPC_MODULE
                   " is not installed (looked for " +
                       tried + "; set " + kModuleEnv + " to its path)"};
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
