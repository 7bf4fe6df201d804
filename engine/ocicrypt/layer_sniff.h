// engine/ocicrypt/layer_sniff.h: what a layer blob is, from its first bytes.
//
// `encrypt-layer` is given a blob and, unless told, must know its media
// type: a tar+gzip labelled as a tar would get the gzip's digest as its
// diff_id. The magic numbers decide:
//
//   gzip   1f 8b                         (RFC 1952)
//   zstd   28 b5 2f fd                   (RFC 8878 frame magic, little-endian
//                                         0xFD2FB528)
//   tar    a 512-byte header whose checksum field (8 bytes at offset 148:
//          octal digits, then NUL or space) equals the sum of the header's
//          bytes with that field counted as spaces, as tar(1) checks it;
//          the sum of unsigned bytes or, as old tars wrote it, of signed
//          ones. The "ustar" magic at 257 is not required (v7 headers have
//          none). An archive with no member is two zero blocks: a first
//          block of zeros counts as tar only if the first 1024 bytes are
//          all zero.
//   empty  no byte at all
//
// Anything else (a zip, a single compressed file that is not a tar is still
// "gzip": what is inside a compressed stream is not looked at) is unknown.
// All functions are pure and thread-safe.
#ifndef LAYERCRYPT_ENGINE_OCICRYPT_LAYER_SNIFF_H_
#define LAYERCRYPT_ENGINE_OCICRYPT_LAYER_SNIFF_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/status.h"

namespace layercrypt {

// LayerBlobKind is what sniff_layer_blob found.
enum class LayerBlobKind : uint8_t { kEmpty, kTar, kGzip, kZstd, kUnknown };

// layer_blob_kind_name returns "empty", "tar", "gzip", "zstd" or "unknown".
const char* layer_blob_kind_name(LayerBlobKind kind);

// kLayerSniffLen is how many first bytes sniff_layer_blob needs to decide:
// two tar blocks.
inline constexpr size_t kLayerSniffLen = 1024;

// sniff_layer_blob classifies a blob from head[0..head_len), which must be
// its first min(blob length, kLayerSniffLen) bytes (fewer only if the blob
// is that short: a blob cut at its head is judged by what it holds, so a
// 1-byte 1f is unknown, not gzip). Extra bytes beyond kLayerSniffLen are
// ignored. `head` may be null when head_len is 0.
LayerBlobKind sniff_layer_blob(const uint8_t* head, size_t head_len);

// sniffed_layer_media_type returns the OCI layer media type of the blob
// whose head is given as for sniff_layer_blob: kOciLayerTar, ...TarGzip or
// ...TarZstd. Otherwise kInvalidArgument naming `input_name` ("stdin", a
// path): "INPUT is empty", or "INPUT is not a tar, gzip or zstd stream
// (first bytes: 50 4b 03 04)" with up to the first 4 bytes in hex.
StatusOr<std::string> sniffed_layer_media_type(const uint8_t* head, size_t head_len,
                                               std::string_view input_name);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_OCICRYPT_LAYER_SNIFF_H_
