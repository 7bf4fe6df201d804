// kernels/random.h: random bytes from OpenSSL's DRBG.
//
// What: random_bytes fills a buffer from RAND_bytes (nonces, identifiers);
// random_secret_bytes from RAND_priv_bytes, OpenSSL's separate generator for
// values that must stay secret (keys), so that a nonce an attacker sees and
// a key come from different DRBG instances.
//
// Thread-safety: both are thread-safe (OpenSSL's DRBGs are per thread).
#ifndef LAYERCRYPT_KERNELS_RANDOM_H_
#define LAYERCRYPT_KERNELS_RANDOM_H_

#include <cstddef>
#include <cstdint>

namespace layercrypt::kernels {

// random_bytes writes `len` random bytes to `out`. Returns false (and
// zero-fills `out`) only if OpenSSL's generator failed (not seeded).
bool random_bytes(uint8_t* out, size_t len);

// random_secret_bytes is random_bytes for key material (RAND_priv_bytes).
bool random_secret_bytes(uint8_t* out, size_t len);

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_RANDOM_H_
