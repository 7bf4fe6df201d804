// engine/layer_compress.h: gzip compression of a tar layer on every core,
// as pipeline stages, for the fused tar -> gzip -> encrypt pass
// (engine/layer_cipher.h, encrypt_layer with a compression level).
//
// The tar arrives in the pipeline's fixed-size chunks. A parallel stage
// deflates each chunk on its own with ISA-L (kernels/deflate.h,
// DeflateChunker: no history shared with the previous chunk, ending
// byte-aligned with an empty stored block, the last chunk's final block
// BFINAL) into the chunk's second buffer, and computes the chunk's CRC-32. A
// serial stage then frames them into ONE gzip member: it puts the 10-byte
// header before chunk 0 and the trailer (the CRC-32 folded from the chunks'
// CRCs with crc32_combine, and ISIZE) after the last, gives every
// compressed chunk its offset in the member (the offset the cipher stages
// that follow need), and records each chunk's compressed length for the
// chunk index (engine/gzip_index.h).
//
// Reproducibility. The member's bytes depend only on the tar, the level and
// the chunk size: not on the thread count or on which thread compressed
// which chunk (each chunk is compressed from scratch, and the chunk
// boundaries come from the reader, which always fills whole chunks), as far
// as ISA-L's own output is reproducible for the level (see
// kernels/deflate.h).
#ifndef LAYERCRYPT_ENGINE_LAYER_COMPRESS_H_
#define LAYERCRYPT_ENGINE_LAYER_COMPRESS_H_

#include <cstdint>
#include <memory>

#include "engine/gzip_index.h"
#include "engine/pipeline.h"
#include "engine/status.h"

namespace layercrypt {

// kDefaultGzipLevel is the ISA-L level `--compress gzip` uses: level 1,
// about the ratio of gzip -1 at ~20x its speed.
inline constexpr int kDefaultGzipLevel = 1;

// ChunkedGzip: the two stages described above. Run the pipeline with
// out_buffer_size() as PipelineOptions::out_buffer_size, the chunk size
// given here as PipelineOptions::chunk_size and deliver_empty set (an empty
// tar still becomes a valid member); after deflate_stage() and
// frame_stage() each chunk's out[0..out_len) holds its part of the member,
// at member offset out_offset. Not thread-safe itself; its stages are safe
// for their kinds.
class ChunkedGzip {
 public:
  // make returns a compressor for `level` (0..3) and `chunk_size`
  // (64 KiB..256 MiB); kInvalidArgument otherwise.
  static StatusOr<std::unique_ptr<ChunkedGzip>> make(int level, size_t chunk_size);
  ~ChunkedGzip();

  // kDefaultChunkSize is the tar bytes per deflate chunk when the caller
  // gives none: larger than the pipeline's default, since each chunk is
  // deflated on its own (no shared window) and its end is a flush point.
  static constexpr size_t kDefaultChunkSize = size_t{1} << 20;

  size_t out_buffer_size() const;
  Stage deflate_stage();
  Stage frame_stage();

  // index returns the chunk index of the member (complete once the last
  // chunk has passed frame_stage()).
  const GzipIndex& index() const { return index_; }
  // compressed_size returns the member's length so far.
  uint64_t compressed_size() const { return offset_; }

 private:
  ChunkedGzip(int level, size_t chunk_size);
  struct Workers;
  int level_;
  size_t chunk_size_;
  std::unique_ptr<Workers> workers_;
  GzipIndex index_;
  uint32_t crc_ = 0;
  uint64_t offset_ = 0;
};

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_LAYER_COMPRESS_H_
