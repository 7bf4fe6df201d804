// tools/layercrypt-keyprovider/grpc_server.h: the gRPC transport of
// layercrypt-keyprovider: keyprovider.KeyProviderService (WrapKey,
// UnWrapKey; engine/keywrap/provider/keyprovider.proto) over h2c, TLS or
// mutual TLS, each request handed to a Handler with who sent it.
//
// Requests run on a pool of opts.max_concurrent threads, never on gRPC's
// own threads, so a slow handler (a KMS call) does not stall the transport.
// A request that finds every thread busy is answered RESOURCE_EXHAUSTED at
// once instead of queueing; one larger than opts.max_message is refused by
// gRPC (RESOURCE_EXHAUSTED) or by the size check (INVALID_ARGUMENT). The
// request and reply bytes in the gRPC messages are wiped when the call is
// done; what gRPC's transport buffered is not ours to wipe.
//
// Thread-safety: serve_grpc may run in several threads, each with its own
// listener; the handler is called from several threads at once.
//
// Linking: grpc_server.cc, the server, needs gRPC++. It is linked into the
// static library layercrypt_keyprovider_grpc_server (the engine's gRPC
// tests call it in-process) and into the module
// liblayercrypt-keyprovider-grpc-server.so (grpc_server_module.h).
// layercrypt-keyprovider links neither: its serve_grpc
// (grpc_server_loader.cc) loads the module on its first call and calls the
// server there, so a process that never serves loads no gRPC. Through the
// module, serve_grpc fails first with kIoError, one line naming where the
// module was looked for and LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE, when
// it cannot be found or loaded, and with kInternal when it is from another
// build.
#ifndef LAYERCRYPT_TOOLS_LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_H_
#define LAYERCRYPT_TOOLS_LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/provider/keyprovider_protocol.h"

namespace layercrypt::keyprovider {

// ClientIdentity is what the transport knows of a request's sender.
struct ClientIdentity {
  bool tls = false;               // the connection is TLS
  bool authenticated = false;     // a client certificate verified against client_ca_file
  std::string peer;               // "ipv4:127.0.0.1:5555", "unix:/run/x.sock"
  std::string subject;            // the client certificate's subject CN ("" without)
  std::vector<std::string> sans;  // its DNS, URI and email SANs, as "DNS:x", "URI:x", "email:x"
  std::string cert_sha256;        // hex SHA-256 of its DER ("" without)
};

struct GrpcServerOptions {
  std::string listen;               // "127.0.0.1:PORT" ("...:0": a free port), "unix:/path"
  std::string cert_file, key_file;  // server TLS (PEM); both empty: h2c
  std::string client_ca_file;       // set: mutual TLS, client certificates required and verified
  int max_concurrent = 16;          // requests in flight; more get RESOURCE_EXHAUSTED
  size_t max_message = kMaxKeyProviderMessage;  // larger requests are refused
  bool handle_signals = true;  // SIGTERM/SIGINT stop serve_grpc (handlers restored on return)
};

// Handler answers one request with the reply JSON, or a Status whose message
// goes to the client as the gRPC status message: kKeyError ->
// PERMISSION_DENIED, kDataError and kInvalidArgument -> INVALID_ARGUMENT,
// anything else -> INTERNAL. It must not throw (an exception is answered
// INTERNAL "internal error"). Called from several threads at once.
using Handler = std::function<StatusOr<kernels::SecretBytes>(
    KeyProviderOp op, std::span<const uint8_t> request, const ClientIdentity& who)>;

// serve_grpc listens on opts.listen, calls `ready(address)` once listening
// (the bound address: "127.0.0.1:0" is reported with the port picked), and
// serves until *stop becomes true (polled every 50 ms; `stop` may be null)
// or, with opts.handle_signals, a SIGTERM or SIGINT arrives. It then stops
// accepting, gives calls in flight up to 5 s to finish (then cancels them),
// waits for running handlers to return, and returns OK.
// Errors, before `ready` is called: kInvalidArgument for inconsistent
// options (a cert without a key, client_ca_file without server TLS,
// max_concurrent < 1); kIoError naming the file for an unreadable TLS file
// and naming the address when it cannot listen.
Status serve_grpc(const GrpcServerOptions& opts, const Handler& handler,
                  const std::function<void(const std::string&)>& ready,
                  const std::atomic<bool>* stop);

}  // namespace layercrypt::keyprovider

#endif  // LAYERCRYPT_TOOLS_LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_H_
