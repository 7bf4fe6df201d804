// engine/image/blob_store.cc
#include "engine/image/blob_store.h"

#include <array>

#include "engine/core/hex.h"
#include "kernels/sha256.h"

namespace layercrypt {

Status check_blob_bytes(std::span<const uint8_t> bytes, std::string_view digest, int64_t size,
                        const std::string& name) {
  if (size < 0 || bytes.size() != static_cast<uint64_t>(size))
    return IntegrityError("blob " + name + " is " + std::to_string(bytes.size()) +
                          " bytes, its descriptor says " + std::to_string(size));
  std::array<uint8_t, 32> d{};
  if (!kernels::sha256(bytes.data(), bytes.size(), d.data(), d.size()))
    return Internal("sha256 failed");
  const std::string got = sha256_digest_string(d);
  if (got != digest)
    return IntegrityError("blob " + name + " does not match its digest (content is " + got + ")");
  return Status::Ok();
}

}  // namespace layercrypt
