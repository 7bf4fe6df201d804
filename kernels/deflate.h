// kernels/deflate.h: gzip compression with ISA-L (igzip), levels 0-3.
//
// Two ways to produce one standard gzip member (RFC 1952, deflate RFC 1951):
//
//  1. GzipDeflater: a streaming compressor (isal_deflate). Feed the input in
//     pieces of any size, collect the output, finish. One thread.
//
//  2. Chunked mode, for the parallel writer: the input is cut into fixed-size
//     chunks; DeflateChunker compresses each chunk on its own
//     (isal_deflate_stateless, no history shared between chunks) as raw
//     deflate blocks ending byte-aligned (FULL_FLUSH: an empty stored block
//     00 00 ff ff) and, for the last chunk only, with BFINAL set. Chunks can be
//     compressed on any thread in any order. The member is then
//
//        gzip_write_header()  chunk 0  chunk 1 ... chunk n-1  gzip_write_trailer()
//
//     with the trailer CRC folded from per-chunk CRCs by crc32_combine (see
//     kernels/crc32.h) and ISIZE = total input length mod 2^32. gzip, zlib,
//     Go's compress/gzip, pigz and ISA-L read it as an ordinary member.
//     No chunk looks back into the previous one; at 1 MiB chunks that costs
//     nothing measurable (on the tar-like test corpus the chunked ratio is
//     within 0.5% of streaming at every level), and in exchange the chunks can
//     later be inflated in parallel (InflateChunker in kernels/inflate.h) given
//     an index of compressed/uncompressed chunk sizes.
//
// Header: both modes write the same fixed 10 bytes
//     1f 8b 08 00  00 00 00 00  00 ff
// ID1 ID2, CM = 8 (deflate), FLG = 0 (no FNAME, FCOMMENT, FEXTRA, FHCRC),
// MTIME = 0 (no timestamp: layers must be reproducible), XFL = 0, OS = 255
// ("unknown"). These are exactly the bytes ISA-L's own IGZIP_GZIP header has,
// so streaming and chunked output start identically. OS 255 rather than 3
// (Unix) because the bytes must not depend on the build host and because it
// is what ISA-L writes.
//
// Determinism: at levels 0 and 3 the output depends only on the input bytes,
// the level, the chunk size and where the stream ends (see "Ending a chunked
// stream"), never on the number of threads or the order chunks were
// compressed in. It is stable for a given ISA-L build and CPU dispatch path;
// ISA-L does not promise identical bytes across its SSE/AVX2/AVX-512 code
// paths or versions (the output is always valid gzip, it may just differ by a
// few bytes).
//
// Levels 1 and 2 were NOT byte-reproducible with Debian's ISA-L 2.30 on one
// AVX-512 machine measured (a 2 vCPU AMD EPYC Zen 4 VM): while another
// process loaded the CPU, now and then one chunk came out 1-3 bytes longer
// or shorter, a valid deflate stream of the same data. The wrappers rule out
// everything they hand ISA-L: the stream state and level buffer are zeroed
// on every call, and alignment, stack contents, vector registers and the CPU
// the thread runs on were each varied without effect. On a 2 vCPU Intel
// Xeon (family 6 model 207, AVX-512) VM the same library gave identical
// bytes at every level in every stressed run (40 x 64 MiB at level 1 with
// both CPUs loaded; 30 runs of the engine's 1/2/8-thread comparison at
// levels 0, 1 and 3), so the AMD variation looks like a property of that
// platform rather than of ISA-L's code. Levels 0 and 3 never varied
// anywhere; builders who need reproducible digests on every machine can
// choose them. Every level gives valid, independently inflatable chunks.
//
// Levels: ISA-L level 0 is a fast LZ77 with a small hash and a fixed Huffman
// table (not "stored"); 1 is the usual choice (~0.4 GB/s per core on the
// tar-like corpus, ~20x zlib -6, ratio close to zlib -1); 2 is about as fast
// as 1; 3 is about half as fast with a slightly better ratio (still >10x
// faster than zlib -6).
// Every level is a valid deflate stream readable by any inflater.
//
// Thread-safety: the objects are not thread-safe; use one per thread (they
// are cheap to keep: ~100-400 KiB of buffers, no threads, no globals).
#ifndef LAYERCRYPT_KERNELS_DEFLATE_H_
#define LAYERCRYPT_KERNELS_DEFLATE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace layercrypt::kernels {

// DeflateResult is what every compression call returns.
enum class DeflateResult : uint8_t {
  kOk,              // done (finish() completed / a chunk was compressed)
  kNeedInput,       // update(): all input consumed, out not full; feed more or finish()
  kNeedOutput,      // out is full; drain it and call again (remaining input too)
  kBadLevel,        // level outside 0..3
  kOutputTooSmall,  // DeflateChunker: out_len < deflate_chunk_bound(in_len)
  kInputTooLarge,   // DeflateChunker: in_len > kMaxDeflateChunk
  kBadState,        // update() after finish() began, or a call after an error
  kInternalError,   // ISA-L returned an error it should not (a bug)
};

// deflate_result_name returns a static string naming `r` ("ok", "need-input",
// ...). Never null.
const char* deflate_result_name(DeflateResult r);

// kDeflateMinLevel / kDeflateMaxLevel: the ISA-L level range.
inline constexpr int kDeflateMinLevel = 0;
inline constexpr int kDeflateMaxLevel = 3;

// kGzipHeaderSize / kGzipTrailerSize: sizes of the fixed header written by
// gzip_write_header and of the trailer (CRC32 + ISIZE, little endian).
inline constexpr size_t kGzipHeaderSize = 10;
inline constexpr size_t kGzipTrailerSize = 8;

// kMaxDeflateChunk is the largest chunk DeflateChunker accepts (ISA-L counts
// in 32-bit lengths; 256 MiB keeps the bound far from that limit).
inline constexpr size_t kMaxDeflateChunk = size_t{256} << 20;

// gzip_write_header writes the fixed 10-byte gzip header described in the file
// comment to out[0..9]. Cannot fail. Thread-safe.
void gzip_write_header(uint8_t* out);

// gzip_write_trailer writes the 8-byte gzip trailer to out[0..7]: `crc` (the
// CRC-32 of the whole uncompressed input, see crc32_combine) then
// `total_len` mod 2^32, both little endian. Cannot fail. Thread-safe.
void gzip_write_trailer(uint32_t crc, uint64_t total_len, uint8_t* out);

// deflate_chunk_bound returns the largest number of bytes DeflateChunker::
// compress can write for `in_len` input bytes, at any level, last or not:
//     in_len + 5 * max(1, ceil(in_len / 65535)).
// That is the size of the same data as stored blocks. ISA-L's stateless
// compressor first tries to compress into that much space and, if the
// compressed form would not fit (incompressible input), falls back to stored
// blocks itself, so with an `out` this large it never returns
// STATELESS_OVERFLOW. Thread-safe.
size_t deflate_chunk_bound(size_t in_len);

// gzip_chunked_bound returns an upper bound for a whole chunked member of
// `total_len` input bytes cut into chunks of `chunk_size` (> 0): header +
// sum of deflate_chunk_bound over the chunks, counting one extra empty last
// chunk + trailer. Thread-safe.
size_t gzip_chunked_bound(size_t total_len, size_t chunk_size);

// gzip_deflate_bound returns an upper bound for the whole output of a
// GzipDeflater at `level` fed `in_len` bytes in total (header, data,
// trailer), however the input was split. Levels 1-3: ISA-L's stateful
// compressor falls back to stored blocks when a block would expand, so this
// is in_len + in_len/256 + 1 KiB + framing. Level 0 has no such fallback: it
// codes everything with a fixed Huffman table and expands random data by
// ~22% (a match or literal never costs more than 16 bits per input byte), so
// its bound is 2 * in_len + in_len/8 + 1 KiB + framing. (DeflateChunker has
// no such caveat: stateless mode falls back to stored blocks at every level.)
// Thread-safe.
size_t gzip_deflate_bound(size_t in_len, int level);

// GzipDeflater: streaming gzip compressor (one member, header as in the file
// comment, CRC-32 and ISIZE trailer written by ISA-L).
//
//   GzipDeflater d;
//   if (d.init(1) != DeflateResult::kOk) ...
//   for each piece: loop { r = d.update(in, n, &used, out, cap, &w); sink(out, w);
//                          in += used; n -= used; if (r == kNeedInput) break; }
//   loop { r = d.finish(out, cap, &w); sink(out, w); if (r == kOk) break; }
//
// Not thread-safe: one object per stream and thread at a time. Can be reused
// for another stream after init().
class GzipDeflater {
 public:
  GzipDeflater();
  ~GzipDeflater();
  GzipDeflater(const GzipDeflater&) = delete;
  GzipDeflater& operator=(const GzipDeflater&) = delete;

  // init starts a new member at `level` (0..3), discarding any previous
  // stream state. Returns kOk, or kBadLevel (the object is then unusable
  // until a successful init).
  DeflateResult init(int level);

  // update compresses from in[0..in_len) into out[0..out_len). *in_used and
  // *out_written receive how many bytes were consumed / produced (always set).
  // Returns kNeedInput when all input was consumed and out still has room,
  // kNeedOutput when out is full (call again with the unconsumed input, which
  // may be in_len == 0), kBadState if init() was not called or finish()
  // already started. ISA-L buffers up to ~64 KiB of input internally, so
  // output lags input. `in` and `out` must not overlap; either may be null
  // when its length is 0. Any length is accepted (split internally at 1 GiB).
  DeflateResult update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out,
                       size_t out_len, size_t* out_written);

  // finish flushes buffered input, writes the final block and the trailer.
  // Returns kOk when the member is complete (all output delivered),
  // kNeedOutput when out filled first (call again), kBadState if init() was
  // not called. After kOk, further calls return kOk with nothing written.
  DeflateResult finish(uint8_t* out, size_t out_len, size_t* out_written);

  // total_in returns the number of input bytes consumed so far (64-bit, not
  // reduced mod 2^32).
  uint64_t total_in() const { return total_in_; }

 private:
  struct State;
  std::unique_ptr<State> s_;
  uint64_t total_in_ = 0;
};

// DeflateChunker: compresses independent chunks for a chunked gzip member.
// Each call is self-contained (no history from earlier calls), so the same
// object can compress chunks of different streams, in any order; the object
// only holds ISA-L's work buffers. Not thread-safe: one per thread.
class DeflateChunker {
 public:
  DeflateChunker();
  ~DeflateChunker();
  DeflateChunker(const DeflateChunker&) = delete;
  DeflateChunker& operator=(const DeflateChunker&) = delete;

  // compress writes the raw deflate encoding of in[0..in_len) to out and sets
  // *out_written to its length and, if `crc` is not null, *crc to
  // crc32_gzip(0, in, in_len). If `last` is false the output ends with a
  // FULL_FLUSH (byte-aligned, no BFINAL) so the next chunk's bytes can follow
  // directly; if `last` is true the final block has BFINAL set. in_len may be
  // 0 (an empty last chunk encodes to 2 bytes, an empty non-last chunk to the
  // 5-byte empty stored block).
  //
  // `out` must hold at least deflate_chunk_bound(in_len) bytes; in and out
  // must not overlap. Returns kOk, kBadLevel, kOutputTooSmall (nothing
  // written), kInputTooLarge (in_len > kMaxDeflateChunk) or kInternalError.
  // The bytes written depend only on (level, in, in_len, last).
  DeflateResult compress(int level, const uint8_t* in, size_t in_len, bool last, uint8_t* out,
                         size_t out_len, size_t* out_written, uint32_t* crc);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Ending a chunked stream: the member is valid as long as exactly the last
// chunk is compressed with last == true. A writer that knows the total length
// uses max(1, ceil(total / chunk_size)) chunks (the last one full when the
// length is a multiple); a writer reading a pipe that learns about EOF only
// after a full chunk was compressed appends an empty last chunk. Both are
// valid; they differ by that 2-byte block, so a writer must pick one rule to
// stay reproducible.

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_DEFLATE_H_
