// engine/keywrap/provider/grpc_loader.cc: call_grpc_key_provider
// (keyprovider_call.h) for a build without the gRPC module.
#include "engine/keywrap/provider/keyprovider_call.h"

namespace layercrypt {

StatusOr<kernels::SecretBytes> call_grpc_key_provider(const KeyProviderEntry& entry, KeyProviderOp,
                                                      std::span<const uint8_t>,
                                                      std::chrono::milliseconds) {
  return IoError("key provider " + entry.name + " (" + entry.describe() +
                 "): this build has no gRPC key-provider support");
}

}  // namespace layercrypt
