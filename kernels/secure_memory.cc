// kernels/secure_memory.cc: OpenSSL-backed wiping and comparison.
#include "kernels/secure_memory.h"

#include <openssl/crypto.h>
#include <string.h>

namespace layercrypt::kernels {

// glibc's explicit_bzero is a vectorised memset the compiler may not drop;
// OpenSSL 3.0's x86-64 OPENSSL_cleanse is a byte loop, ~10x slower on the
// megabyte pipeline buffers.
void secure_wipe(void* p, size_t len) {
  if (p != nullptr && len != 0) explicit_bzero(p, len);
}

bool constant_time_equal(const void* a, const void* b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}

}  // namespace layercrypt::kernels
