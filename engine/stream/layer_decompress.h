// engine/stream/layer_decompress.h: turning a decrypted layer blob back into the
// tar it was made from, on the way out of the decoder
// (layercrypt-decoder --decompress), so containerd need not decompress.
//
// Two ways, chosen by the layer decryptor (engine/stream/layer_cipher.h):
//
//  * DecompressingSink, for any gzip (multi-member, as gzip and pigz write
//    it) or zstd blob: a ByteSink that decompresses whatever is written to
//    it, in order, on the pipeline's serial write stage, and writes the tar
//    to the sink behind it. One core inflates; ISA-L does ~0.7-1 GB/s of
//    output per core.
//
//  * IndexedGunzip, for a gzip member written by layercrypt's compressor
//    with its chunk index (engine/stream/gzip_index.h): the pipeline reads the blob
//    as segments (header, chunk 0 .. chunk n-1, trailer), a parallel stage
//    inflates every chunk on its own into the chunk's second buffer, and a
//    serial stage checks and writes them in order. Every core inflates.
//
// Trust. The index comes from an unauthenticated annotation. A chunk is
// taken only if it inflates to exactly its uncompressed size and ends
// exactly between two deflate blocks on a byte boundary (kernels/inflate.h
// InflateChunker): then, by induction from the first chunk, which starts
// where the member's deflate data starts, every taken chunk decodes the
// same bits a sequential inflater would, to the same bytes (with no
// history, a match reaching before the chunk fails instead of reading
// something else). At the first chunk that does not check out the serial
// stage falls back to one sequential raw inflater that starts at that
// chunk's first byte with the last 32 KiB of output as its dictionary,
// which is exactly the state a sequential inflater would be in there, and
// feeds it everything that follows. Either way the trailer's CRC-32 and
// ISIZE are checked at the end. A wrong index costs speed, never bytes.
//
// Release. These run after the layer MAC has verified (verify-first) or
// stream unverified bytes (--stream), as the caller decided. A gzip or zstd
// error inside a verified layer means the builder wrote a corrupt stream:
// the tar written so far is cut short and the error says so; callers exit
// non-zero, so containerd discards the unpack.
#ifndef LAYERCRYPT_ENGINE_STREAM_LAYER_DECOMPRESS_H_
#define LAYERCRYPT_ENGINE_STREAM_LAYER_DECOMPRESS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/core/compression.h"
#include "engine/core/io.h"
#include "engine/core/status.h"
#include "engine/stream/gzip_index.h"
#include "engine/stream/pipeline.h"

namespace layercrypt {

// DecompressingSink: see the file comment. Not thread-safe.
class DecompressingSink : public ByteSink {
 public:
  // make returns a sink that decompresses `compression` (kNone passes bytes
  // through unchanged) into `inner`, which must outlive it; kInternal if
  // libzstd's context cannot be allocated.
  static StatusOr<std::unique_ptr<DecompressingSink>> make(Compression compression,
                                                           ByteSink& inner);
  ~DecompressingSink() override = default;

  // write decompresses `len` bytes and writes what they yield to the inner
  // sink. Returns kDataError for corrupt data (the message names the format
  // and the problem: bad CRC, trailing garbage, ...) or the inner sink's
  // error.
  Status write(const uint8_t* data, size_t len) override = 0;
  // finish returns OK if everything written formed complete streams, else
  // kDataError (truncated, no member at all).
  virtual Status finish() = 0;
  // bytes_out returns the decompressed bytes written to the inner sink.
  virtual uint64_t bytes_out() const = 0;
};

// IndexedGunzip: see the file comment. Build it, run the pipeline with
// segments() as PipelineOptions::segments, out_buffer_size() as
// PipelineOptions::out_buffer_size and, after the stages that decrypt each
// chunk in place, inflate_stage() then join_stage(); then call finish().
// Not thread-safe itself; its stages are safe for their kinds.
class IndexedGunzip {
 public:
  // `index` must come from parse_gzip_index for the blob being read; `out`
  // receives the tar and must outlive the object.
  IndexedGunzip(GzipIndex index, ByteSink& out);
  ~IndexedGunzip();
  IndexedGunzip(const IndexedGunzip&) = delete;
  IndexedGunzip& operator=(const IndexedGunzip&) = delete;

  std::vector<size_t> segments() const { return segments_of(index_); }
  // segments_of returns how a blob that `index` describes is read: header,
  // each compressed chunk, trailer.
  static std::vector<size_t> segments_of(const GzipIndex& index);
  size_t out_buffer_size() const;
  Stage inflate_stage();
  Stage join_stage();

  // finish returns OK if the member ended at the trailer with matching
  // CRC-32 and ISIZE; kDataError / kIntegrityError otherwise.
  Status finish() const;

  // fallback_chunk returns the chunk from which the sequential fallback
  // inflated (-1: none; 0 also when the header was not the 10-byte kind).
  int64_t fallback_chunk() const { return fallback_chunk_; }
  uint64_t bytes_out() const { return total_out_; }

 private:
  struct Workers;
  Status join(Chunk& c);
  Status write_out(const uint8_t* data, size_t len);

  GzipIndex index_;
  ByteSink& out_;
  std::unique_ptr<Workers> workers_;
  std::vector<uint8_t> taken_;  // per segment: the parallel inflate checked out
  std::atomic<bool> falling_back_{false};
  int64_t fallback_chunk_ = -1;
  std::unique_ptr<DecompressingSink> gzip_;  // fallback from the header on
  std::vector<uint8_t> window_;              // last <= 32 KiB of output
  std::vector<uint8_t> scratch_;             // fallback output
  uint32_t crc_ = 0;
  uint64_t total_out_ = 0;
  bool ended_ = false;
  Status trailer_status_ = DataError("the gzip member has no trailer");
};

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_STREAM_LAYER_DECOMPRESS_H_
