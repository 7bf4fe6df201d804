// engine/stream/gzip_index.h: the chunk index of a gzip layer written by
// layercrypt, carried in a layer annotation so that our decoder can inflate
// the layer on every core.
//
// layercrypt's compressor (engine/stream/layer_compress.h) cuts a tar into
// fixed-size chunks and deflates each on its own (kernels/deflate.h,
// DeflateChunker), so each chunk's deflate data can be inflated without the
// others, given where it starts. The blob is ONE ordinary gzip member:
//
//   offset 0            10-byte header (1f 8b 08 00 00000000 00 ff)
//   offset 10           chunk 0: deflate blocks of uncompressed bytes
//                       [0, C), ending with an empty stored block
//   10 + d0             chunk 1: bytes [C, 2C) ...
//   ...                 chunk n-1: the rest, its last block BFINAL
//   size - 8            trailer: CRC-32 and ISIZE
//
// The index records C, the uncompressed size and every d_i (the compressed
// length of chunk i). Its text, the value of the annotation
// kGzipIndexAnnotation on the layer descriptor, is
//
//   gzip-chunks/1 chunk=<C> size=<uncompressed bytes> deflate=<base64>
//
// where <base64> is standard padded base64 of the d_i as unsigned LEB128
// varints, in chunk order. n = max(1, ceil(size / C)): a tar that is a
// multiple of C long ends with a full last chunk, an empty one is one empty
// chunk. docs/format.md describes it for other implementations.
//
// The annotation is not authenticated (the layer MAC covers the blob only),
// so a reader must treat it as a hint: parse_gzip_index checks it against
// the blob's size, and the parallel inflater (engine/stream/layer_decompress.h)
// proves every chunk boundary while it inflates and falls back to
// sequential inflation at the first chunk that does not check out. A
// hostile index can cost speed, never produce wrong output.
#ifndef LAYERCRYPT_ENGINE_STREAM_GZIP_INDEX_H_
#define LAYERCRYPT_ENGINE_STREAM_GZIP_INDEX_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace layercrypt {

// kGzipIndexAnnotation is the descriptor annotation that carries the index.
inline constexpr const char* kGzipIndexAnnotation = "dev.layercrypt.gzip.index";

// kGzipIndexMaxText bounds the annotation we accept (1 MiB: ~350,000
// chunks, a 350 GB layer at 1 MiB chunks).
inline constexpr size_t kGzipIndexMaxText = size_t{1} << 20;

// GzipIndex is the parsed index.
struct GzipIndex {
  uint64_t chunk_size = 0;              // C: uncompressed bytes per chunk but the last
  uint64_t uncompressed_size = 0;       // the tar's length
  std::vector<uint64_t> deflate_sizes;  // d_i, one per chunk

  // chunk_count returns max(1, ceil(uncompressed_size / chunk_size)).
  uint64_t chunk_count() const;
  // chunk_uncompressed_size returns the uncompressed length of chunk i.
  uint64_t chunk_uncompressed_size(uint64_t i) const;
  // blob_size returns the gzip member's length: 10 + sum(d_i) + 8.
  uint64_t blob_size() const;
};

// format_gzip_index returns the annotation text of `index` (see the file
// comment). Never fails; the index must be consistent (as the compressor
// makes it).
std::string format_gzip_index(const GzipIndex& index);

// parse_gzip_index parses an annotation value and checks it against the
// blob it describes: the text form above exactly; chunk size between
// 64 KiB and 256 MiB; as many sizes as chunks; each size possible for its
// chunk (at least the 2-byte empty final block, at most the stored-block
// bound of its uncompressed length); and 10 + sum + 8 == `blob_size`.
// Returns the index, or a kDataError naming what is wrong. Pure, thread-safe.
StatusOr<GzipIndex> parse_gzip_index(std::string_view text, uint64_t blob_size);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_STREAM_GZIP_INDEX_H_
