// engine/keywrap/provider/grpc_client.h: the C interface between the engine
// and its gRPC key-provider client module.
//
// Linking gRPC (libgrpc++, protobuf, abseil, c-ares, re2) into every
// program would add its load and relocation time to each decoder start,
// which containerd pays once per layer. So the gRPC client is a separate
// module, liblayercrypt-keyprovider-grpc.so, installed in
// LIBDIR/layercrypt/ and loaded with dlopen the first time a `grpc` provider
// is called (call_grpc_key_provider in keyprovider_call.h). The module
// exports one C function, so no C++ type crosses the boundary:
//
//   int layercrypt_keyprovider_grpc_call_v1(const LcGrpcCall* call,
//                                           LcGrpcReply* reply);
//
// It returns 0 and fills reply->data/len (malloc'd, the caller wipes and
// frees it with reply->free_fn) or returns a non-zero LcGrpcError and
// writes a one-line NUL-terminated message into reply->error.
//
// Where the module is looked for, in order (engine/core/module_loader.h,
// shared with layercrypt-keyprovider's gRPC server module):
// $LAYERCRYPT_KEYPROVIDER_GRPC_MODULE (a path), then next to the program's
// or library's own file (dladdr: DIR/layercrypt/, DIR/../lib/layercrypt/),
// then the install-time LIBDIR/layercrypt/.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_GRPC_CLIENT_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_GRPC_CLIENT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LAYERCRYPT_KEYPROVIDER_GRPC_MODULE "liblayercrypt-keyprovider-grpc.so"
#define LAYERCRYPT_KEYPROVIDER_GRPC_SYMBOL "layercrypt_keyprovider_grpc_call_v1"

typedef struct LcGrpcCall {
  const char* target;     /* as grpc.Dial takes it: host:port, unix:///path */
  int unwrap;             /* 0: WrapKey, 1: UnWrapKey */
  const uint8_t* request; /* the protocol JSON (field 1 of the message) */
  size_t request_len;
  int64_t timeout_ms;       /* the call's deadline, connection included */
  int use_tls;              /* 0: h2c (Go's grpc.WithInsecure) */
  const char* root_ca_file; /* NULL or "": the system's CA store */
  const char* cert_file;    /* client certificate: sent when both set */
  const char* key_file;
  const char* server_name; /* NULL or "": the target's host */
  int insecure_skip_verify;
  size_t max_reply; /* larger replies fail */
} LcGrpcCall;

typedef enum LcGrpcError {
  LC_GRPC_OK = 0,
  LC_GRPC_UNREACHABLE = 1, /* connect/TLS handshake failed */
  LC_GRPC_TIMEOUT = 2,     /* deadline exceeded */
  LC_GRPC_REFUSED = 3,     /* the provider answered with a non-OK status */
  LC_GRPC_BAD_REPLY = 4,   /* not the message, or too large */
  LC_GRPC_CONFIG = 5,      /* a TLS file cannot be read */
} LcGrpcError;

typedef struct LcGrpcReply {
  uint8_t* data;
  size_t len;
  void (*free_fn)(uint8_t* data, size_t len); /* wipes, then frees */
  char error[512];
} LcGrpcReply;

typedef int (*LcGrpcCallFn)(const LcGrpcCall* call, LcGrpcReply* reply);

#ifdef __cplusplus
}
#endif

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_GRPC_CLIENT_H_
