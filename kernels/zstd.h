// kernels/zstd.h: zstd compression and decompression with libzstd, for
// tar+zstd layers.
//
// ZstdDecompressor is a streaming Zstandard (RFC 8878) decompressor: feed
// compressed bytes in pieces of any size, collect decompressed bytes into
// buffers of any size. Like kernels/inflate.h's GzipInflater it is strict
// where the command-line tool is lenient, because a layer's bytes are
// covered by a digest:
//  - several frames back to back decompress to the concatenation of their
//    contents; skippable frames are skipped;
//  - every frame's content checksum, when the frame has one, is verified
//    by libzstd (kBadData on mismatch);
//  - bytes after a frame that do not start a frame are kBadData (libzstd
//    reports "unknown frame descriptor");
//  - input that ends inside a frame, or no frame at all, is kTruncated at
//    finish().
// The window is bounded by libzstd's default (ZSTD_WINDOWLOG_LIMIT_DEFAULT,
// 128 MiB): frames written with --long=31 are refused as kBadData, as Go's
// and containerd's decoders refuse large windows too.
//
// Errors are sticky until reset(). Not thread-safe: one object per stream.
//
// ZstdCompressor is libzstd's streaming compressor: it writes ONE standard
// frame with a content checksum (as `zstd` and Go's klauspost/compress
// write by default) and no content size (the length is not known in
// advance; a frame finished before any update() says 0). With num_workers > 0, libzstd compresses
// in that many threads of its own; its output then does not depend on num_workers (libzstd
// guarantees that for every num_workers >= 1), but differs from the
// single-threaded (num_workers == 0) output.
#ifndef LAYERCRYPT_KERNELS_ZSTD_H_
#define LAYERCRYPT_KERNELS_ZSTD_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace layercrypt::kernels {

// ZstdResult is what every decompression call returns.
enum class ZstdResult : uint8_t {
  kOk,          // finish(): complete and valid
  kNeedInput,   // update(): all input consumed, out not full
  kNeedOutput,  // update(): out is full; call again with the rest of the input
  kBadData,     // corrupt or unsupported data (the message says which)
  kTruncated,   // finish(): the input ended inside a frame, or had no frame
  kInternalError,
};

// zstd_result_name returns a static string naming `r`. Never null.
const char* zstd_result_name(ZstdResult r);

// zstd_version returns libzstd's version string ("1.5.4").
const char* zstd_version();

class ZstdDecompressor {
 public:
  // The constructor allocates libzstd's context; ok() says whether it could.
  ZstdDecompressor();
  ~ZstdDecompressor();
  ZstdDecompressor(const ZstdDecompressor&) = delete;
  ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;

  bool ok() const;

  // reset forgets the current stream and any sticky error.
  void reset();

  // update decompresses from in[0..in_len) into out[0..out_len); *in_used
  // and *out_written are always set. Returns kNeedInput, kNeedOutput, or a
  // sticky kBadData / kInternalError. in and out must not overlap.
  ZstdResult update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out, size_t out_len,
                    size_t* out_written);

  // finish reports whether the input so far is complete: kOk if at least one
  // frame was read and the last one ended with all its output delivered
  // (call after update returned kNeedInput for the final piece); kTruncated
  // otherwise; or the sticky error.
  ZstdResult finish() const;

  // error_text returns libzstd's description of the last kBadData ("" if none).
  const std::string& error_text() const;
  // total_out / total_in: bytes produced / consumed since reset.
  uint64_t total_out() const;
  uint64_t total_in() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// kZstdMinLevel / kZstdMaxLevel bound the levels ZstdCompressor accepts
// (libzstd's regular levels; negative "fast" levels are not offered).
inline constexpr int kZstdMinLevel = 1;
inline constexpr int kZstdMaxLevel = 22;

class ZstdCompressor {
 public:
  // The constructor allocates libzstd's context; ok() says whether it could.
  ZstdCompressor();
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  bool ok() const;

  // start begins a new frame at `level` (kZstdMinLevel..kZstdMaxLevel) with
  // `num_workers` libzstd threads (0: compress on the calling thread),
  // forgetting any previous frame and error. Returns kOk, or kInternalError
  // with error_text() for a level out of range or a libzstd built without
  // threads.
  ZstdResult start(int level, int num_workers);

  // update compresses in[0..in_len) into out[0..out_len); *in_used and
  // *out_written are always set. Returns kNeedInput when all the input was
  // taken (libzstd may hold some of it back until later calls), kNeedOutput
  // when out is full (call again with the rest of the input), or a sticky
  // kInternalError. in and out must not overlap. With workers, a call may
  // wait for them when their queue is full.
  ZstdResult update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out, size_t out_len,
                    size_t* out_written);

  // finish ends the frame into out[0..out_len); *out_written is always set.
  // Returns kOk once the whole frame has been written (and again, writing
  // nothing, until the next start(); update() is then an error), kNeedOutput
  // when out filled first (call again), or a sticky kInternalError. Waits
  // for the workers.
  ZstdResult finish(uint8_t* out, size_t out_len, size_t* out_written);

  // error_text returns libzstd's description of the last error ("" if none).
  const std::string& error_text() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_ZSTD_H_
