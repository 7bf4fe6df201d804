// kernels/random.cc: see random.h.
#include "kernels/random.h"

#include <openssl/rand.h>

#include <climits>
#include <cstring>

namespace layercrypt::kernels {

namespace {

// fill calls `gen` in pieces of at most INT_MAX bytes (its length is an int).
template <typename Gen>
bool fill(uint8_t* out, size_t len, Gen gen) {
  for (size_t done = 0; done < len;) {
    const size_t n = len - done < INT_MAX ? len - done : INT_MAX;
    if (gen(out + done, static_cast<int>(n)) != 1) {
      std::memset(out, 0, len);
      return false;
    }
    done += n;
  }
  return true;
}

}  // namespace

bool random_bytes(uint8_t* out, size_t len) { return fill(out, len, RAND_bytes); }

bool random_secret_bytes(uint8_t* out, size_t len) { return fill(out, len, RAND_priv_bytes); }

}  // namespace layercrypt::kernels
