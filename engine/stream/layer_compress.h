// engine/stream/layer_compress.h: compression of a tar layer on every core, for
// the fused tar -> gzip -> encrypt and tar -> zstd -> encrypt passes
// (engine/stream/layer_cipher.h, encrypt_layer_gzip and encrypt_layer_zstd).
//
// gzip.
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
// chunk index (engine/stream/gzip_index.h).
//
// Reproducibility. The member's bytes depend only on the tar, the level and
// the chunk size: not on the thread count or on which thread compressed
// which chunk (each chunk is compressed from scratch, and the chunk
// boundaries come from the reader, which always fills whole chunks), as far
// as ISA-L's own output is reproducible for the level (see
// kernels/deflate.h).
//
// zstd. A zstd frame cannot be cut into independently compressed pipeline
// chunks the way a gzip member can (a frame's blocks share one window), so
// the compression happens before the pipeline, in its source: ZstdTarSource
// reads the tar, digests it, and hands it to libzstd's multithreaded
// streaming compressor (kernels/zstd.h), whose own worker threads compress
// it in jobs of several MiB; the pipeline's read stage then reads the frame
// from it, and the hash, cipher and write stages run on the frame as they
// do for any blob. The frame's bytes depend only on the tar and the level,
// never on the thread count (libzstd's guarantee for any worker count >= 1).
#ifndef LAYERCRYPT_ENGINE_STREAM_LAYER_COMPRESS_H_
#define LAYERCRYPT_ENGINE_STREAM_LAYER_COMPRESS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/core/io.h"
#include "engine/core/status.h"
#include "engine/stream/gzip_index.h"
#include "engine/stream/pipeline.h"
#include "kernels/sha256.h"
#include "kernels/zstd.h"

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

// kDefaultZstdLevel is the level `--compress zstd` uses, zstd(1)'s default;
// kMinZstdLevel..kMaxZstdLevel are the levels accepted (the levels above
// 19 need --ultra in zstd(1) and windows some readers refuse).
inline constexpr int kDefaultZstdLevel = 3;
inline constexpr int kMinZstdLevel = 1;
inline constexpr int kMaxZstdLevel = 19;

// ZstdTarSource is a ByteSource that reads a tar from another source and
// yields ONE zstd frame (with a content checksum) of it, compressed by
// libzstd with its own worker threads; see the file comment. It also
// digests the tar it reads. Not thread-safe: one reader at a time (the
// pipeline's read stage). It cannot be rewound.
class ZstdTarSource final : public ByteSource {
 public:
  // make returns a source over `tar` (which must outlive it) compressing at
  // `level` (kMinZstdLevel..kMaxZstdLevel) with `num_workers` libzstd
  // threads (at least 1). kInvalidArgument for a level or worker count out
  // of range; kInternal if libzstd cannot start.
  static StatusOr<std::unique_ptr<ZstdTarSource>> make(ByteSource& tar, int level, int num_workers);
  ~ZstdTarSource() override;

  // read fills out[0..cap) with the frame's next bytes and returns how many
  // (fewer than cap only at its end, 0 after it). Errors: the tar source's,
  // or kInternal if libzstd failed.
  StatusOr<size_t> read(uint8_t* out, size_t cap) override;

  // tar_bytes returns the tar bytes read so far.
  uint64_t tar_bytes() const { return tar_bytes_; }
  // tar_sha256 writes the tar's SHA-256 to `out` once read() has returned 0;
  // kInternal before that or if the digest failed. Call at most once.
  Status tar_sha256(std::array<uint8_t, 32>& out);

 private:
  ZstdTarSource(ByteSource& tar);
  ByteSource& tar_;
  kernels::ZstdCompressor zstd_;
  kernels::Sha256 sha_;
  std::vector<uint8_t> in_;  // tar bytes read, not yet given to libzstd
  size_t in_pos_ = 0, in_len_ = 0;
  uint64_t tar_bytes_ = 0;
  bool tar_ended_ = false;
  bool frame_ended_ = false;
};

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_STREAM_LAYER_COMPRESS_H_
