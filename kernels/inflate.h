// kernels/inflate.h: gzip decompression with ISA-L (isal_inflate).
//
// GzipInflater is a streaming gzip (RFC 1952) decompressor: feed compressed
// bytes in pieces of any size (down to one byte), collect decompressed bytes
// into buffers of any size (down to one byte). It accepts what `gzip -d`
// accepts, minus the leniencies listed below:
//
//  - several members back to back (as `cat a.gz b.gz` or pigz --independent
//    produce): they decompress to the concatenation of their contents;
//  - any header flags: FTEXT, FEXTRA, FNAME, FCOMMENT, FHCRC (the header CRC
//    is verified), any MTIME/XFL/OS; reserved flag bits 5-7 are rejected
//    (gzip, zlib and Go reject them too);
//  - every member's trailer is verified: CRC-32 of its data (kBadCrc) and
//    ISIZE = its length mod 2^32 (kBadLength). ISA-L 2.30 checks the trailer
//    itself when it parses the wrapper (crc_flag ISAL_GZIP) but reports both
//    mismatches as one ISAL_INCORRECT_CHECKSUM; this wrapper tells them apart
//    by re-reading the 8 trailer bytes it saw go by.
//
// Strictness (where gzip -d only warns, we fail, because a layer's bytes are
// covered by a digest and anything after the last member is corruption):
//  - bytes after a member that do not start with the gzip magic 1f 8b are
//    kTrailingGarbage, including zero padding (gzip: "decompression OK,
//    trailing zero bytes ignored" / "trailing garbage ignored");
//  - a stream that ends inside a member (or is empty, or ends with a partial
//    next-member header such as a lone 1f) is kTruncated at finish().
//
// InflateChunker inflates one chunk of raw deflate data written by
// DeflateChunker (kernels/deflate.h) on its own, without the preceding
// chunks, for a parallel inflater that has an index of chunk offsets/sizes.
// It works only for data whose chunks share no history (our chunked writer's
// output), not for arbitrary gzip files.
//
// RawInflater is a streaming raw-deflate (RFC 1951) decompressor that can
// start from a preset dictionary: the fallback of a parallel inflater that
// has inflated chunks 0..k-1 on its own and must continue sequentially from
// chunk k with the output so far as history.
//
// Errors are sticky: after an error every call returns the same result until
// reset(). Thread-safety: objects are not thread-safe; use one per thread.
#ifndef LAYERCRYPT_KERNELS_INFLATE_H_
#define LAYERCRYPT_KERNELS_INFLATE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace layercrypt::kernels {

// InflateResult is what every decompression call returns.
enum class InflateResult : uint8_t {
  kOk,               // finish(): stream complete and valid; InflateChunker: chunk ok
  kNeedInput,        // update(): all input consumed, out not full; feed more or finish()
  kNeedOutput,       // out is full (update: drain and call again; chunk: out too small)
  kBadHeader,        // not a gzip member: bad magic in the first member, CM != 8,
                     // reserved flag bits set, or FHCRC mismatch
  kBadData,          // invalid deflate data (bad block type, code, distance ...)
  kBadCrc,           // a member's CRC-32 does not match its data
  kBadLength,        // a member's ISIZE does not match its length mod 2^32
  kTrailingGarbage,  // bytes after a complete member that are not another member
  kTruncated,        // input ended inside a member (or no member at all)
  kInternalError,    // ISA-L made no progress where it should have (a bug)
};

// inflate_result_name returns a static string naming `r` ("ok", "bad-crc",
// ...). Never null.
const char* inflate_result_name(InflateResult r);

// GzipInflater: streaming multi-member gzip decompressor.
//
//   GzipInflater inf;
//   for each piece: loop { r = inf.update(in, n, &used, out, cap, &w); sink(out, w);
//                          in += used; n -= used;
//                          if (r == kNeedInput) break; if (r != kNeedOutput) fail(r); }
//   if (inf.finish() != kOk) fail;
//
// Not thread-safe. ~100 KiB of state (ISA-L's inflate_state incl. its 64 KiB
// history buffer), allocated once by the constructor.
class GzipInflater {
 public:
  GzipInflater();
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  // reset forgets the current stream (and any sticky error) so the object
  // can decompress a new one. The constructor leaves it reset.
  void reset();

  // update decompresses from in[0..in_len) into out[0..out_len). *in_used and
  // *out_written receive how many bytes were consumed / produced (always set,
  // also on error: the bytes written before the error are valid output of
  // the stream so far, but the stream as a whole is not). Returns
  //   kNeedInput  all input consumed and out not full;
  //   kNeedOutput out full: call again (with the unconsumed input, possibly
  //               in_len == 0) until kNeedInput, ISA-L may hold up to 64 KiB;
  //   kBadHeader, kBadData, kBadCrc, kBadLength, kTrailingGarbage on corrupt
  //   input (sticky), kInternalError.
  // `in` and `out` must not overlap; either may be null when its length is 0.
  // Any lengths are accepted (split internally at 1 GiB).
  InflateResult update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out,
                       size_t out_len, size_t* out_written);

  // finish reports whether the input given so far is a complete stream: kOk
  // if at least one member was read and the last one ended (with its trailer
  // verified) and no bytes of a further member were seen; kTruncated
  // otherwise; or the sticky error. Call it only after update() returned
  // kNeedInput for the final piece (all output drained). Does not change
  // state; call reset() before reusing the object.
  InflateResult finish() const;

  // members returns how many complete members have been verified so far.
  uint64_t members() const;
  // total_out returns the number of decompressed bytes produced so far
  // (64-bit, over all members).
  uint64_t total_out() const;
  // total_in returns the number of compressed bytes consumed so far.
  uint64_t total_in() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// InflateChunker: one-shot inflate of a single chunk written by
// DeflateChunker::compress (raw deflate, no gzip framing, no history from
// earlier chunks). Not thread-safe: one per thread.
class InflateChunker {
 public:
  InflateChunker();
  ~InflateChunker();
  InflateChunker(const InflateChunker&) = delete;
  InflateChunker& operator=(const InflateChunker&) = delete;

  // inflate decompresses in[0..in_len) (exactly one chunk's compressed bytes)
  // into out[0..out_len) and sets *out_written to the decompressed length
  // and, if `crc` is not null, *crc to its crc32_gzip. `last` must match the
  // flag the chunk was compressed with: a last chunk must end with a BFINAL
  // block exactly at in_len, a non-last chunk must end at a block boundary
  // without BFINAL. Returns kOk; kNeedOutput if the chunk decompresses to
  // more than out_len bytes (size `out` from the chunk index: out_len =
  // expected length); kBadData on invalid deflate data or a BFINAL block in a
  // non-last chunk; kTruncated if the data stops inside a block (or a last
  // chunk has no BFINAL block); kTrailingGarbage if bytes follow the BFINAL
  // block. A non-last chunk cut exactly at a block boundary cannot be told
  // from a shorter valid one: the caller must compare *out_written with the
  // index and the combined CRC with the trailer. in/out must not overlap.
  // in_len or out_len >= 2^32 (no chunk is that large) returns kBadData.
  // "Ends at a block boundary" is exact: the last block of a non-last chunk
  // ends on a byte boundary with no bit left over (our chunks end with an
  // empty stored block), so where the chunk ends is where a sequential
  // decoder of the whole stream would read the next block header.
  InflateResult inflate(const uint8_t* in, size_t in_len, bool last, uint8_t* out, size_t out_len,
                        size_t* out_written, uint32_t* crc);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// RawInflater: streaming raw deflate with an optional dictionary (see the
// file comment). Not thread-safe. ~100 KiB of state.
class RawInflater {
 public:
  RawInflater();
  ~RawInflater();
  RawInflater(const RawInflater&) = delete;
  RawInflater& operator=(const RawInflater&) = delete;

  // reset starts a new raw deflate stream whose matches may reach back into
  // dict[0..dict_len) (the bytes that precede the stream's output; only the
  // last 32 KiB matter, longer dictionaries are cut). dict may be null when
  // dict_len is 0. Returns false if ISA-L refused the dictionary.
  bool reset(const uint8_t* dict, size_t dict_len);

  // update decompresses from in[0..in_len) into out[0..out_len); *in_used
  // and *out_written are always set. Returns
  //   kNeedInput  all input consumed, out not full, final block not reached;
  //   kNeedOutput out is full: call again with the unconsumed input;
  //   kOk         the final (BFINAL) block ended and all its output is in
  //               out; any further input byte is kTrailingGarbage;
  //   kBadData (invalid data, a match reaching before the dictionary),
  //   kTrailingGarbage, kInternalError (sticky).
  // in and out must not overlap.
  InflateResult update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out,
                       size_t out_len, size_t* out_written);

  // finished says whether the final block has ended without error.
  bool finished() const;
  // total_out returns the bytes produced since reset.
  uint64_t total_out() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_INFLATE_H_
