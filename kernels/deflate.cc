// kernels/deflate.cc: ISA-L gzip compression; see deflate.h for the contract.
#include "kernels/deflate.h"

#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cstring>

#include "kernels/crc32.h"

namespace layercrypt::kernels {
namespace {

// ISA-L counts in uint32_t; feed it at most 1 GiB per call so that neither
// avail_in nor avail_out (nor its internal uint32 arithmetic on them) wraps.
constexpr size_t kMaxIsalSpan = size_t{1} << 30;

// Level buffer sizes. ISA-L's "DEFAULT" (= LARGE) sizes: 64 Ki tokens of
// intermediate code per pass. The size changes where ISA-L cuts blocks, hence
// the exact output bytes, so it is a fixed constant per level (never derived
// from the input) to keep chunked output reproducible.
constexpr uint32_t kLevelBufSize[4] = {ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT,
                                       ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};
constexpr uint32_t kMaxLevelBuf =
    std::max({ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT});

// The header ISA-L writes for IGZIP_GZIP; gzip_write_header emits the same
// bytes so both modes agree (a test checks ISA-L still does).
constexpr uint8_t kGzipHeader[kGzipHeaderSize] = {0x1f, 0x8b, 0x08, 0x00, 0x00,
                                                  0x00, 0x00, 0x00, 0x00, 0xff};

bool valid_level(int level) { return level >= kDeflateMinLevel && level <= kDeflateMaxLevel; }

void store_le32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

}  // namespace

const char* deflate_result_name(DeflateResult r) {
  switch (r) {
    case DeflateResult::kOk:
      return "ok";
    case DeflateResult::kNeedInput:
      return "need-input";
    case DeflateResult::kNeedOutput:
      return "need-output";
    case DeflateResult::kBadLevel:
      return "bad-level";
    case DeflateResult::kOutputTooSmall:
      return "output-too-small";
    case DeflateResult::kInputTooLarge:
      return "input-too-large";
    case DeflateResult::kBadState:
      return "bad-state";
    case DeflateResult::kInternalError:
      return "internal-error";
  }
  return "unknown";
}

void gzip_write_header(uint8_t* out) { std::memcpy(out, kGzipHeader, kGzipHeaderSize); }

void gzip_write_trailer(uint32_t crc, uint64_t total_len, uint8_t* out) {
  store_le32(out, crc);
  store_le32(out + 4, static_cast<uint32_t>(total_len));  // ISIZE is mod 2^32
}

size_t deflate_chunk_bound(size_t in_len) {
  // Mirrors ISA-L's stored_len in isal_deflate_stateless: 5-byte header per
  // stored block of at most 65535 bytes, one block for empty input.
  const size_t blocks = in_len == 0 ? 1 : (in_len + 65534) / 65535;
  return in_len + 5 * blocks;
}

size_t gzip_chunked_bound(size_t total_len, size_t chunk_size) {
  if (chunk_size == 0) chunk_size = 1;
  const size_t full = total_len / chunk_size;
  const size_t rest = total_len % chunk_size;
  // Every full chunk, the partial tail (possibly empty) as its own chunk: this
  // also covers a writer that appends an empty last chunk.
  return kGzipHeaderSize + full * deflate_chunk_bound(chunk_size) + deflate_chunk_bound(rest) +
         kGzipTrailerSize;
}

size_t gzip_deflate_bound(size_t in_len, int level) {
  constexpr size_t kFraming = 1024 + kGzipHeaderSize + kGzipTrailerSize;
  if (level <= 0) {
    // Fixed-table level 0 never switches to stored blocks; deflate spends at
    // most 15+5 bits (length) + 15+13 bits (distance) on a 3-byte match and
    // 15 bits on a literal, i.e. <= 16 bits per input byte, plus headers.
    return 2 * in_len + in_len / 8 + kFraming;
  }
  // Levels 1-3 fall back to stored blocks when a block would expand, so
  // expansion is a few bytes per block of >= 4 KiB; 1/256 covers the block
  // headers and the bit-buffer flush with room to spare (tests check it on
  // random input at every level and feed pattern).
  return in_len + in_len / 256 + kFraming;
}

// ---------------------------------------------------------------------------
// GzipDeflater

struct GzipDeflater::State {
  enum class Phase : uint8_t { kUninit, kUpdating, kFinishing, kDone };
  isal_zstream z{};
  std::unique_ptr<uint8_t[]> level_buf{new uint8_t[kMaxLevelBuf]};
  Phase phase = Phase::kUninit;
};

GzipDeflater::GzipDeflater() : s_(std::make_unique<State>()) {}
GzipDeflater::~GzipDeflater() = default;

DeflateResult GzipDeflater::init(int level) {
  s_->phase = State::Phase::kUninit;
  total_in_ = 0;
  if (!valid_level(level)) return DeflateResult::kBadLevel;
  isal_zstream& z = s_->z;
  isal_deflate_init(&z);
  z.level = static_cast<uint32_t>(level);
  z.level_buf = level == 0 ? nullptr : s_->level_buf.get();
  z.level_buf_size = kLevelBufSize[level];
  // As in DeflateChunker::compress: no stale bytes may reach ISA-L.
  if (level != 0) std::memset(s_->level_buf.get(), 0, kLevelBufSize[level]);
  // ISA-L writes the header (same bytes as gzip_write_header) and computes the
  // CRC-32 / ISIZE trailer itself while compressing.
  z.gzip_flag = IGZIP_GZIP;
  z.flush = NO_FLUSH;
  z.end_of_stream = 0;
  s_->phase = State::Phase::kUpdating;
  return DeflateResult::kOk;
}

DeflateResult GzipDeflater::update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out,
                                   size_t out_len, size_t* out_written) {
  *in_used = 0;
  *out_written = 0;
  if (s_->phase != State::Phase::kUpdating) return DeflateResult::kBadState;
  isal_zstream& z = s_->z;
  size_t used = 0, written = 0;
  for (;;) {
    const size_t in_span = std::min(in_len - used, kMaxIsalSpan);
    const size_t out_span = std::min(out_len - written, kMaxIsalSpan);
    if (out_span == 0) break;
    // ISA-L's API takes non-const input pointers but never writes through them.
    z.next_in = const_cast<uint8_t*>(in_len ? in + used : nullptr);
    z.avail_in = static_cast<uint32_t>(in_span);
    z.next_out = out + written;
    z.avail_out = static_cast<uint32_t>(out_span);
    z.end_of_stream = 0;
    z.flush = NO_FLUSH;
    if (isal_deflate(&z) != COMP_OK) return DeflateResult::kInternalError;
    const size_t took = in_span - z.avail_in;
    const size_t gave = out_span - z.avail_out;
    used += took;
    written += gave;
    if (used == in_len) break;
    // isal_deflate returns only when its input is empty or its output full; if
    // neither moved we would spin, which would be an ISA-L bug.
    if (took == 0 && gave == 0) return DeflateResult::kInternalError;
  }
  *in_used = used;
  *out_written = written;
  total_in_ += used;
  if (written == out_len) return DeflateResult::kNeedOutput;
  return DeflateResult::kNeedInput;
}

DeflateResult GzipDeflater::finish(uint8_t* out, size_t out_len, size_t* out_written) {
  *out_written = 0;
  if (s_->phase == State::Phase::kDone) return DeflateResult::kOk;
  if (s_->phase == State::Phase::kUninit) return DeflateResult::kBadState;
  s_->phase = State::Phase::kFinishing;
  isal_zstream& z = s_->z;
  size_t written = 0;
  for (;;) {
    if (z.internal_state.state == ZSTATE_END) {
      s_->phase = State::Phase::kDone;
      *out_written = written;
      return DeflateResult::kOk;
    }
    const size_t out_span = std::min(out_len - written, kMaxIsalSpan);
    if (out_span == 0) break;
    z.next_in = nullptr;
    z.avail_in = 0;
    z.next_out = out + written;
    z.avail_out = static_cast<uint32_t>(out_span);
    z.end_of_stream = 1;
    z.flush = NO_FLUSH;
    if (isal_deflate(&z) != COMP_OK) return DeflateResult::kInternalError;
    const size_t gave = out_span - z.avail_out;
    written += gave;
    if (gave == 0 && z.internal_state.state != ZSTATE_END) return DeflateResult::kInternalError;
  }
  *out_written = written;
  return DeflateResult::kNeedOutput;
}

// ---------------------------------------------------------------------------
// DeflateChunker

struct DeflateChunker::State {
  isal_zstream z{};
  std::unique_ptr<uint8_t[]> level_buf{new uint8_t[kMaxLevelBuf]};
};

DeflateChunker::DeflateChunker() : s_(std::make_unique<State>()) {}
DeflateChunker::~DeflateChunker() = default;

DeflateResult DeflateChunker::compress(int level, const uint8_t* in, size_t in_len, bool last,
                                       uint8_t* out, size_t out_len, size_t* out_written,
                                       uint32_t* crc) {
  *out_written = 0;
  if (!valid_level(level)) return DeflateResult::kBadLevel;
  if (in_len > kMaxDeflateChunk) return DeflateResult::kInputTooLarge;
  const size_t bound = deflate_chunk_bound(in_len);
  if (out_len < bound) return DeflateResult::kOutputTooSmall;

  isal_zstream& z = s_->z;
  // Fresh stream state every call, so the output depends only on the
  // arguments, not on what this object did before: isal_deflate_stateless_init
  // resets only part of it. ISA-L 2.30 also reads level-buffer bytes it has
  // not written in the call (valgrind flags branches on them in the level 1
  // body), so the buffer is zeroed too (~300 KiB, about 1% of compressing a
  // 1 MiB chunk).
  std::memset(&z, 0, sizeof z);
  isal_deflate_stateless_init(&z);
  z.level = static_cast<uint32_t>(level);
  z.level_buf = level == 0 ? nullptr : s_->level_buf.get();
  z.level_buf_size = kLevelBufSize[level];
  if (level != 0) std::memset(s_->level_buf.get(), 0, kLevelBufSize[level]);
  z.gzip_flag = IGZIP_DEFLATE;  // raw deflate; framing is ours
  // Stateless treats NO_FLUSH as "end of stream"; a non-last chunk needs
  // FULL_FLUSH: byte-aligned end, no BFINAL, no match reaching back before it.
  z.end_of_stream = last ? 1 : 0;
  z.flush = last ? NO_FLUSH : FULL_FLUSH;
  z.next_in = const_cast<uint8_t*>(in_len ? in : nullptr);
  z.avail_in = static_cast<uint32_t>(in_len);
  z.next_out = out;
  // Offer exactly the bound: it is what ISA-L needs for its stored fallback,
  // and offering more changes nothing in the output.
  z.avail_out = static_cast<uint32_t>(bound);
  const int ret = isal_deflate_stateless(&z);
  if (ret != COMP_OK || z.avail_in != 0) return DeflateResult::kInternalError;
  *out_written = bound - z.avail_out;
  if (crc != nullptr) *crc = crc32_gzip(0, in, in_len);
  return DeflateResult::kOk;
}

}  // namespace layercrypt::kernels
