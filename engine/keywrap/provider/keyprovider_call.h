// engine/keywrap/provider/keyprovider_call.h: one call to a key provider
// over its transport, bounded in time and size.
//
//   cmd   the provider's program runs (execv of `path` with `args`, no
//         shell, the caller's environment, stdin/stdout pipes, stderr
//         captured) with the request on stdin; its stdout is the reply. It
//         must exit 0 within the timeout; otherwise it is killed (SIGKILL to
//         the process) and reaped, so nothing is left running.
//   grpc  the request goes as KeyProviderService/WrapKey or /UnWrapKey
//         (keyprovider.proto) to the target, over h2c or (grpc-tls) TLS,
//         with the timeout as the call's deadline. The gRPC client lives in
//         a module loaded on first use (grpc_client.h), so a program that
//         never calls a gRPC provider does not load gRPC at all.
//
// Errors name the provider and the cause in one line, never the request:
//   kIoError      the program cannot be started, the endpoint cannot be
//                 reached, the gRPC module is not installed, or no reply
//                 came within the timeout ("timed out after 30 s");
//   kKeyError     the provider refused (non-zero exit with its first
//                 stderr line, a gRPC status other than OK with its message);
//   kDataError    a reply larger than kMaxKeyProviderMessage.
//
// Thread-safety: reentrant; calls may run in parallel (one per layer).
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_CALL_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_CALL_H_

#include <chrono>
#include <span>

#include "engine/core/status.h"
#include "engine/keywrap/provider/keyprovider_config.h"
#include "engine/keywrap/provider/keyprovider_protocol.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// call_key_provider sends `request` to `entry` and returns its reply.
StatusOr<kernels::SecretBytes> call_key_provider(const KeyProviderEntry& entry, KeyProviderOp op,
                                                 std::span<const uint8_t> request,
                                                 std::chrono::milliseconds timeout);

// call_cmd_key_provider and call_grpc_key_provider are the two transports
// (call_key_provider picks one as the entry says).
StatusOr<kernels::SecretBytes> call_cmd_key_provider(const KeyProviderEntry& entry,
                                                     std::span<const uint8_t> request,
                                                     std::chrono::milliseconds timeout);
StatusOr<kernels::SecretBytes> call_grpc_key_provider(const KeyProviderEntry& entry,
                                                      KeyProviderOp op,
                                                      std::span<const uint8_t> request,
                                                      std::chrono::milliseconds timeout);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_CALL_H_
