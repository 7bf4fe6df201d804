// kernels/crc32.cc: thin wrappers; see crc32.h for the contract.
#include "kernels/crc32.h"

#include <isa-l/crc.h>
#include <zlib.h>

namespace layercrypt::kernels {

uint32_t crc32_gzip(uint32_t crc, const uint8_t* p, size_t len) {
  // crc32_gzip_refl uses zlib's convention (pre/post inversion inside), so the
  // running value can be passed straight back in. A null pointer with a zero
  // length never reaches ISA-L, which would not dereference it anyway but
  // keeps UBSan quiet about passing null to a non-null parameter.
  if (len == 0) return crc;
  return crc32_gzip_refl(crc, p, static_cast<uint64_t>(len));
}

uint32_t crc32_combine(uint32_t crc1, uint32_t crc2, uint64_t len2) {
  // zlib's z_off64_t is signed; lengths beyond 2^63 cannot occur for a layer.
  return static_cast<uint32_t>(crc32_combine64(crc1, crc2, static_cast<z_off64_t>(len2)));
}

}  // namespace layercrypt::kernels
