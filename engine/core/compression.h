// engine/core/compression.h: how a layer blob is compressed.
//
// The stream folder compresses and decompresses, the ocicrypt folder maps
// media types to compressions, the image folder picks one: the enum lives
// here so that none of them has to depend on another for it.
#ifndef LAYERCRYPT_ENGINE_CORE_COMPRESSION_H_
#define LAYERCRYPT_ENGINE_CORE_COMPRESSION_H_

namespace layercrypt {

// Compression is how a (decrypted) layer blob is compressed.
enum class Compression { kNone, kGzip, kZstd };

// compression_name returns "none", "gzip" or "zstd".
const char* compression_name(Compression c);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_COMPRESSION_H_
