// kernels/secure_memory.cc: OpenSSL-backed wiping and comparison.
#include "kernels/secure_memory.h"

#include <openssl/crypto.h>

namespace layercrypt::kernels {

void secure_wipe(void* p, size_t len) {
  if (p != nullptr && len != 0) OPENSSL_cleanse(p, len);
}

bool constant_time_equal(const void* a, const void* b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}

}  // namespace layercrypt::kernels
