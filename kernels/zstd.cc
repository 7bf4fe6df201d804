// kernels/zstd.cc: libzstd streaming compression and decompression; see zstd.h.
#include "kernels/zstd.h"

#include <zstd.h>

namespace layercrypt::kernels {

const char* zstd_result_name(ZstdResult r) {
  switch (r) {
    case ZstdResult::kOk:
      return "ok";
    case ZstdResult::kNeedInput:
      return "need-input";
    case ZstdResult::kNeedOutput:
      return "need-output";
    case ZstdResult::kBadData:
      return "bad-data";
    case ZstdResult::kTruncated:
      return "truncated";
    case ZstdResult::kInternalError:
      return "internal-error";
  }
  return "unknown";
}

const char* zstd_version() { return ZSTD_versionString(); }

struct ZstdDecompressor::State {
  ZSTD_DCtx* dctx = nullptr;
  ZstdResult error = ZstdResult::kOk;
  std::string error_text;
  // Whether the stream stands at a frame boundary: libzstd returned 0 (a
  // frame completely decoded and flushed) on the last call that moved any
  // byte. Calls that move nothing are not counted: after the last frame,
  // libzstd answers them with the header size of a next frame.
  bool frame_done = false;
  uint64_t total_in = 0, total_out = 0;
  ~State() { ZSTD_freeDCtx(dctx); }
};

ZstdDecompressor::ZstdDecompressor() : s_(std::make_unique<State>()) {
  s_->dctx = ZSTD_createDCtx();
  reset();
}
ZstdDecompressor::~ZstdDecompressor() = default;

bool ZstdDecompressor::ok() const { return s_->dctx != nullptr; }

void ZstdDecompressor::reset() {
  State& s = *s_;
  if (s.dctx != nullptr) ZSTD_DCtx_reset(s.dctx, ZSTD_reset_session_and_parameters);
  s.error = s.dctx != nullptr ? ZstdResult::kOk : ZstdResult::kInternalError;
  s.error_text.clear();
  s.frame_done = false;
  s.total_in = s.total_out = 0;
}

ZstdResult ZstdDecompressor::update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out,
                                    size_t out_len, size_t* out_written) {
  *in_used = 0;
  *out_written = 0;
  State& s = *s_;
  if (s.error != ZstdResult::kOk) return s.error;
  ZSTD_inBuffer ib{in, in_len, 0};
  ZSTD_outBuffer ob{out, out_len, 0};
  for (;;) {
    const size_t before_in = ib.pos, before_out = ob.pos;
    const size_t r = ZSTD_decompressStream(s.dctx, &ob, &ib);
    if (ZSTD_isError(r)) {
      s.error = ZstdResult::kBadData;
      s.error_text = ZSTD_getErrorName(r);
      break;
    }
    if (ib.pos != before_in || ob.pos != before_out) s.frame_done = r == 0;
    if (ob.pos == ob.size) break;  // out full
    if (ib.pos == ib.size) break;  // input consumed, output flushed
    if (ib.pos == before_in && ob.pos == before_out) {
      s.error = ZstdResult::kInternalError;  // no progress: a libzstd bug
      break;
    }
  }
  *in_used = ib.pos;
  *out_written = ob.pos;
  s.total_in += ib.pos;
  s.total_out += ob.pos;
  if (s.error != ZstdResult::kOk) return s.error;
  if (ob.pos == ob.size && out_len != 0) return ZstdResult::kNeedOutput;
  return ZstdResult::kNeedInput;
}

ZstdResult ZstdDecompressor::finish() const {
  const State& s = *s_;
  if (s.error != ZstdResult::kOk) return s.error;
  if (s.total_in == 0 || !s.frame_done) return ZstdResult::kTruncated;
  return ZstdResult::kOk;
}

const std::string& ZstdDecompressor::error_text() const { return s_->error_text; }
uint64_t ZstdDecompressor::total_out() const { return s_->total_out; }
uint64_t ZstdDecompressor::total_in() const { return s_->total_in; }

struct ZstdCompressor::State {
  ZSTD_CCtx* cctx = nullptr;
  ZstdResult error = ZstdResult::kInternalError;  // until start()
  std::string error_text = "ZstdCompressor::start was not called";
  bool ended = false;  // finish() returned kOk: the frame is complete
  ~State() { ZSTD_freeCCtx(cctx); }

  ZstdResult fail(size_t code) {
    error = ZstdResult::kInternalError;
    error_text = ZSTD_getErrorName(code);
    return error;
  }
};

ZstdCompressor::ZstdCompressor() : s_(std::make_unique<State>()) { s_->cctx = ZSTD_createCCtx(); }
ZstdCompressor::~ZstdCompressor() = default;

bool ZstdCompressor::ok() const { return s_->cctx != nullptr; }

ZstdResult ZstdCompressor::start(int level, int num_workers) {
  State& s = *s_;
  if (s.cctx == nullptr) return s.error;
  if (level < kZstdMinLevel || level > kZstdMaxLevel || num_workers < 0) {
    s.error = ZstdResult::kInternalError;
    s.error_text = "zstd level or worker count out of range";
    return s.error;
  }
  size_t r = ZSTD_CCtx_reset(s.cctx, ZSTD_reset_session_and_parameters);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(s.cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(s.cctx, ZSTD_c_checksumFlag, 1);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(s.cctx, ZSTD_c_nbWorkers, num_workers);
  if (ZSTD_isError(r)) return s.fail(r);
  s.error = ZstdResult::kOk;
  s.error_text.clear();
  s.ended = false;
  return s.error;
}

ZstdResult ZstdCompressor::update(const uint8_t* in, size_t in_len, size_t* in_used, uint8_t* out,
                                  size_t out_len, size_t* out_written) {
  *in_used = 0;
  *out_written = 0;
  State& s = *s_;
  if (s.error != ZstdResult::kOk) return s.error;
  if (s.ended) {
    s.error = ZstdResult::kInternalError;
    s.error_text = "ZstdCompressor::update after the frame was finished";
    return s.error;
  }
  ZSTD_inBuffer ib{in, in_len, 0};
  ZSTD_outBuffer ob{out, out_len, 0};
  // With workers, one call may take only part of the input (it stops after
  // any progress): loop until the input is taken or out is full.
  while (ib.pos < ib.size && ob.pos < ob.size) {
    const size_t r = ZSTD_compressStream2(s.cctx, &ob, &ib, ZSTD_e_continue);
    if (ZSTD_isError(r)) {
      s.fail(r);
      break;
    }
  }
  *in_used = ib.pos;
  *out_written = ob.pos;
  if (s.error != ZstdResult::kOk) return s.error;
  return ib.pos == ib.size ? ZstdResult::kNeedInput : ZstdResult::kNeedOutput;
}

ZstdResult ZstdCompressor::finish(uint8_t* out, size_t out_len, size_t* out_written) {
  *out_written = 0;
  State& s = *s_;
  if (s.error != ZstdResult::kOk) return s.error;
  if (s.ended) return ZstdResult::kOk;  // a further call would begin a new frame
  ZSTD_inBuffer ib{nullptr, 0, 0};
  ZSTD_outBuffer ob{out, out_len, 0};
  size_t left = 1;
  while (left != 0 && ob.pos < ob.size) {
    left = ZSTD_compressStream2(s.cctx, &ob, &ib, ZSTD_e_end);
    if (ZSTD_isError(left)) {
      s.fail(left);
      break;
    }
  }
  *out_written = ob.pos;
  if (s.error != ZstdResult::kOk) return s.error;
  s.ended = left == 0;
  return s.ended ? ZstdResult::kOk : ZstdResult::kNeedOutput;
}

const std::string& ZstdCompressor::error_text() const { return s_->error_text; }

}  // namespace layercrypt::kernels
