// kernels/inflate.cc: ISA-L gzip decompression; see inflate.h for the contract.
#include "kernels/inflate.h"

#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cstring>

#include "kernels/crc32.h"

namespace layercrypt::kernels {
namespace {

constexpr size_t kMaxIsalSpan = size_t{1} << 30;  // ISA-L counts in uint32_t

uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// inflate_step runs isal_inflate once on at most 1 GiB of input and output
// (ISA-L counts in uint32_t) and reports how much it took and gave.
int inflate_step(inflate_state& st, const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len,
                 size_t* took, size_t* gave) {
  const size_t in_span = std::min(in_len, kMaxIsalSpan);
  const size_t out_span = std::min(out_len, kMaxIsalSpan);
  st.next_in = const_cast<uint8_t*>(in_span ? in : nullptr);
  st.avail_in = static_cast<uint32_t>(in_span);
  st.next_out = out;
  st.avail_out = static_cast<uint32_t>(out_span);
  const int r = isal_inflate(&st);
  *took = in_span - st.avail_in;
  *gave = out_span - st.avail_out;
  return r;
}

}  // namespace

const char* inflate_result_name(InflateResult r) {
  switch (r) {
    case InflateResult::kOk:
      return "ok";
    case InflateResult::kNeedInput:
      return "need-input";
    case InflateResult::kNeedOutput:
      return "need-output";
    case InflateResult::kBadHeader:
      return "bad-header";
    case InflateResult::kBadData:
      return "bad-data";
    case InflateResult::kBadCrc:
      return "bad-crc";
    case InflateResult::kBadLength:
      return "bad-length";
    case InflateResult::kTrailingGarbage:
      return "trailing-garbage";
    case InflateResult::kTruncated:
      return "truncated";
    case InflateResult::kInternalError:
      return "internal-error";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// GzipInflater
//
// Per member: (1) the first 4 header bytes are checked here as they pass by
// (magic, CM, reserved flags), which is what lets us call non-magic bytes
// after a member "trailing garbage" rather than a bad header; (2) the rest of
// the header is parsed by isal_read_gzip_header with a gz_hdr that lives as
// long as the member — isal_inflate's built-in header parsing uses a fresh
// gz_hdr per call and so loses FLG/FHCRC progress when a header arrives in
// pieces; (3) isal_inflate with crc_flag = ISAL_GZIP decodes the body and
// checks the trailer. At ISAL_BLOCK_FINISH ISA-L has consumed exactly through
// the trailer (it never reads ahead past it), so the next byte is the next
// member's first byte.

struct GzipInflater::State {
  inflate_state st;
  isal_gzip_header hdr;
  bool header_done = false;
  bool member_finished = false;  // current member's trailer verified
  uint8_t prefix_len = 0;        // header bytes 0..3 checked so far
  uint64_t member_in = 0;        // bytes consumed for the current member
  uint64_t members = 0;
  uint64_t total_in = 0;
  uint64_t total_out = 0;
  uint8_t tail[8] = {};                      // last 8 bytes consumed, oldest first
  InflateResult error = InflateResult::kOk;  // kOk = no error

  void start_member() {
    isal_inflate_init(&st);
    isal_gzip_header_init(&hdr);  // NULL name/comment/extra: skipped, not kept
    header_done = false;
    member_finished = false;
    prefix_len = 0;
    member_in = 0;
  }

  void note_consumed(const uint8_t* p, size_t n) {
    if (n == 0) return;
    member_in += n;
    total_in += n;
    if (n >= 8) {
      std::memcpy(tail, p + n - 8, 8);
    } else {
      std::memmove(tail, tail + n, 8 - n);
      std::memcpy(tail + 8 - n, p, n);
    }
  }

  InflateResult fail(InflateResult r) {
    error = r;
    return r;
  }

  // check_prefix validates header bytes 0..3 of the current member among
  // p[0..n); returns kOk or the error.
  InflateResult check_prefix(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n && prefix_len < 4; ++i, ++prefix_len) {
      const uint8_t b = p[i];
      switch (prefix_len) {
        case 0:
          if (b != 0x1f)
            return members > 0 ? InflateResult::kTrailingGarbage : InflateResult::kBadHeader;
          break;
        case 1:
          if (b != 0x8b)
            return members > 0 ? InflateResult::kTrailingGarbage : InflateResult::kBadHeader;
          break;
        case 2:
          if (b != 8) return InflateResult::kBadHeader;  // CM must be deflate
          break;
        case 3:
          if (b & 0xe0) return InflateResult::kBadHeader;  // reserved FLG bits
          break;
      }
    }
    return InflateResult::kOk;
  }
};

GzipInflater::GzipInflater() : s_(std::make_unique<State>()) { reset(); }
GzipInflater::~GzipInflater() = default;

void GzipInflater::reset() {
  s_->start_member();
  s_->members = 0;
  s_->total_in = 0;
  s_->total_out = 0;
  std::memset(s_->tail, 0, sizeof(s_->tail));
  s_->error = InflateResult::kOk;
}

uint64_t GzipInflater::members() const { return s_->members; }
uint64_t GzipInflater::total_out() const { return s_->total_out; }
uint64_t GzipInflater::total_in() const { return s_->total_in; }

InflateResult GzipInflater::update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out,
                                   size_t out_len, size_t* out_written) {
  State& s = *s_;
  size_t used = 0, written = 0;
  InflateResult result = InflateResult::kNeedInput;
  *in_used = 0;
  *out_written = 0;
  if (s.error != InflateResult::kOk) return s.error;

  for (;;) {
    if (s.member_finished) {
      // A member ended; anything more is the start of the next one.
      if (used == in_len) break;
      s.start_member();
    }
    if (!s.header_done) {
      if (used == in_len) break;
      const size_t span = std::min(in_len - used, kMaxIsalSpan);
      if (s.prefix_len < 4) {
        const InflateResult pr = s.check_prefix(in + used, std::min<size_t>(span, 4));
        if (pr != InflateResult::kOk) {
          result = s.fail(pr);
          break;
        }
      }
      s.st.next_in = const_cast<uint8_t*>(in + used);
      s.st.avail_in = static_cast<uint32_t>(span);
      const int r = isal_read_gzip_header(&s.st, &s.hdr);
      const size_t took = span - s.st.avail_in;
      s.note_consumed(in + used, took);
      used += took;
      if (r == ISAL_DECOMP_OK) {
        // read_gzip_header set wrapper_flag, so isal_inflate will not parse
        // a header again but will verify the trailer against ISAL_GZIP.
        s.header_done = true;
        s.st.crc_flag = ISAL_GZIP;
        continue;
      }
      if (r == ISAL_END_INPUT) {
        if (took != span) {
          result = s.fail(InflateResult::kInternalError);
          break;
        }
        continue;  // header needs more bytes; loop exits on used == in_len
      }
      result = s.fail(InflateResult::kBadHeader);  // wrapper, method, FHCRC
      break;
    }

    // Body (and trailer).
    if (written == out_len) {
      result = InflateResult::kNeedOutput;
      break;
    }
    size_t took, gave;
    const int r = inflate_step(s.st, in + used, in_len - used, out + written, out_len - written,
                               &took, &gave);
    s.note_consumed(in + used, took);
    used += took;
    written += gave;
    s.total_out += gave;
    if (r == ISAL_INCORRECT_CHECKSUM) {
      // Trailer mismatch; ISA-L compared crc | isize << 32 against the 8 bytes
      // it just consumed, which are our tail.
      result = s.fail(load_le32(s.tail) != s.st.crc ? InflateResult::kBadCrc
                                                    : InflateResult::kBadLength);
      break;
    }
    if (r < 0) {
      result = s.fail(InflateResult::kBadData);
      break;
    }
    if (s.st.block_state == ISAL_BLOCK_FINISH) {
      s.member_finished = true;
      ++s.members;
      continue;
    }
    if (written == out_len) {
      result = InflateResult::kNeedOutput;
      break;
    }
    if (used == in_len) break;  // need input
    // isal_inflate returns only on empty input, full output or an error.
    if (took == 0 && gave == 0) {
      result = s.fail(InflateResult::kInternalError);
      break;
    }
  }
  *in_used = used;
  *out_written = written;
  if (result == InflateResult::kNeedInput && written == out_len && out_len != 0)
    result = InflateResult::kNeedOutput;  // pending output may remain
  return result;
}

InflateResult GzipInflater::finish() const {
  const State& s = *s_;
  if (s.error != InflateResult::kOk) return s.error;
  if (s.members == 0) return InflateResult::kTruncated;
  if (s.member_finished) return InflateResult::kOk;  // ended right after a trailer
  // A next member was started: any byte of it seen means truncation.
  return s.member_in == 0 ? InflateResult::kOk : InflateResult::kTruncated;
}

// ---------------------------------------------------------------------------
// InflateChunker

struct InflateChunker::State {
  inflate_state st;
};

InflateChunker::InflateChunker() : s_(std::make_unique<State>()) {}
InflateChunker::~InflateChunker() = default;

InflateResult InflateChunker::inflate(const uint8_t* in, size_t in_len, bool last, uint8_t* out,
                                      size_t out_len, size_t* out_written, uint32_t* crc) {
  *out_written = 0;
  if (in_len > UINT32_MAX || out_len > UINT32_MAX) return InflateResult::kBadData;
  inflate_state& st = s_->st;
  isal_inflate_init(&st);
  st.crc_flag = ISAL_DEFLATE;  // raw; we compute the CRC on our own terms below
  st.next_in = const_cast<uint8_t*>(in_len ? in : nullptr);
  st.avail_in = static_cast<uint32_t>(in_len);
  st.next_out = out;
  st.avail_out = static_cast<uint32_t>(out_len);
  // The stateful decoder, not isal_inflate_stateless: at the end of the
  // input it keeps the bits it has read but not used (read_in_length) and
  // the block state exact, which is what tells a chunk that ends on a block
  // boundary from one cut a few bytes short (the stateless decoder reports
  // both as "between blocks"). With no dictionary, a match may reach back
  // only into this call's output (ISAL_INVALID_LOOKBACK otherwise): exactly
  // the no-shared-history property of our chunks.
  int r = isal_inflate(&st);
  const size_t produced = out_len - st.avail_out;
  if (r >= 0 && st.avail_out == 0 && st.block_state != ISAL_BLOCK_FINISH) {
    // out is full: ISA-L may have stopped just before an end-of-block code
    // (out_len exactly the chunk's length) or with output to spare. Offer
    // one more byte to tell the two apart.
    uint8_t extra;
    st.next_out = &extra;
    st.avail_out = 1;
    r = isal_inflate(&st);
    if (r >= 0 && st.avail_out == 0) return InflateResult::kNeedOutput;
  }
  InflateResult result;
  if (r < 0) {
    result = InflateResult::kBadData;
  } else if (st.block_state == ISAL_BLOCK_FINISH) {
    // A BFINAL block ended; it must end the last chunk exactly.
    if (!last)
      result = InflateResult::kBadData;
    else if (st.avail_in != 0 || st.read_in_length >= 8)
      result = InflateResult::kTrailingGarbage;
    else
      result = InflateResult::kOk;
  } else if (!last && st.avail_in == 0 && st.read_in_length == 0 && st.tmp_in_size == 0 &&
             (st.block_state == ISAL_BLOCK_NEW_HDR || st.block_state == ISAL_BLOCK_HDR)) {
    // A non-last chunk must stop exactly between two blocks, on a byte
    // boundary, with no bit left over: then the next chunk's first byte is
    // where a sequential decoder of the whole stream reads the next block
    // header. ISA-L keeps a partly read block header whole, in read_in or
    // tmp_in_buffer, so with both empty nothing of a next header was read
    // (it reports ISAL_BLOCK_HDR after a stored block that ends the input,
    // ISAL_BLOCK_NEW_HDR after other blocks).
    result = InflateResult::kOk;
  } else {
    result = InflateResult::kTruncated;
  }
  if (result != InflateResult::kOk) return result;
  *out_written = produced;
  if (crc != nullptr) *crc = crc32_gzip(0, out, produced);
  return InflateResult::kOk;
}

// ---------------------------------------------------------------------------
// RawInflater

struct RawInflater::State {
  inflate_state st;
  InflateResult error = InflateResult::kOk;
  bool finished = false;
  uint64_t total_out = 0;
};

RawInflater::RawInflater() : s_(std::make_unique<State>()) { reset(nullptr, 0); }
RawInflater::~RawInflater() = default;

bool RawInflater::reset(const uint8_t* dict, size_t dict_len) {
  State& s = *s_;
  isal_inflate_init(&s.st);
  s.st.crc_flag = ISAL_DEFLATE;
  s.error = InflateResult::kOk;
  s.finished = false;
  s.total_out = 0;
  if (dict_len == 0) return true;
  // Only the last 32 KiB can be referenced; ISA-L keeps at most that much.
  constexpr size_t kWindow = size_t{32} << 10;
  if (dict_len > kWindow) {
    dict += dict_len - kWindow;
    dict_len = kWindow;
  }
  return isal_inflate_set_dict(&s.st, const_cast<uint8_t*>(dict),
                               static_cast<uint32_t>(dict_len)) == COMP_OK;
}

InflateResult RawInflater::update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out,
                                  size_t out_len, size_t* out_written) {
  *in_used = 0;
  *out_written = 0;
  State& s = *s_;
  if (s.error != InflateResult::kOk) return s.error;
  size_t used = 0, written = 0;
  for (;;) {
    if (s.finished) {
      // Anything after the final block is not deflate data of this stream.
      if (used != in_len) s.error = InflateResult::kTrailingGarbage;
      break;
    }
    if (written == out_len) break;
    size_t took, gave;
    const int r = inflate_step(s.st, in + used, in_len - used, out + written, out_len - written,
                               &took, &gave);
    used += took;
    written += gave;
    s.total_out += gave;
    if (r < 0) {
      s.error = InflateResult::kBadData;
      break;
    }
    if (s.st.block_state == ISAL_BLOCK_FINISH) {
      s.finished = true;
      if (s.st.read_in_length >= 8) s.error = InflateResult::kTrailingGarbage;
      continue;
    }
    if (used == in_len && written != out_len) break;  // need input
    if (took == 0 && gave == 0) {
      s.error = InflateResult::kInternalError;
      break;
    }
  }
  *in_used = used;
  *out_written = written;
  if (s.error != InflateResult::kOk) return s.error;
  if (s.finished) return InflateResult::kOk;
  return written == out_len && out_len != 0 ? InflateResult::kNeedOutput
                                            : InflateResult::kNeedInput;
}

bool RawInflater::finished() const { return s_->finished && s_->error == InflateResult::kOk; }
uint64_t RawInflater::total_out() const { return s_->total_out; }

}  // namespace layercrypt::kernels
