// kernels/crc32.h: CRC-32 as used by gzip (ISO-HDLC / IEEE 802.3, reflected,
// polynomial 0xEDB88320), and the combination of two CRCs.
//
// Format: the value is the one stored in a gzip trailer, in zlib's convention:
// start from 0, feed bytes in order, the result is already final (no extra
// inversion by the caller). crc32_gzip(0, p, n) == zlib crc32(0, p, n).
//
// Why: the parallel gzip writer compresses fixed-size chunks on different
// threads; each task computes its chunk's CRC and the trailer CRC is folded
// from them in chunk order with crc32_combine, so no thread ever has to read
// the whole layer. The inflater uses the same values to check trailers.
//
// crc32_gzip is ISA-L's crc32_gzip_refl (PCLMUL/VPCLMUL, tens of GB/s);
// crc32_combine is zlib's crc32_combine64 (ISA-L has no combine).
#ifndef LAYERCRYPT_KERNELS_CRC32_H_
#define LAYERCRYPT_KERNELS_CRC32_H_

#include <cstddef>
#include <cstdint>

namespace layercrypt::kernels {

// crc32_gzip returns the CRC-32 of the `len` bytes at `p` appended to a
// message whose CRC is `crc` (0 for an empty message). It cannot fail. `p` may
// be null when `len` is 0. Any length is accepted (ISA-L takes 64-bit
// lengths). Thread-safe: pure function of its arguments.
//
//   crc32_gzip(crc32_gzip(0, a, na), b, nb) == crc32_gzip(0, a||b, na+nb)
uint32_t crc32_gzip(uint32_t crc, const uint8_t* p, size_t len);

// crc32_combine returns the CRC-32 of A||B given crc1 = CRC(A), crc2 = CRC(B)
// and len2 = length of B in bytes (the length of A is not needed). It cannot
// fail; len2 == 0 returns crc1. Runs in O(log len2). Thread-safe: pure
// function of its arguments.
uint32_t crc32_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_CRC32_H_
