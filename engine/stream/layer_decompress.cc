// engine/stream/layer_decompress.cc: see layer_decompress.h.
#include "engine/stream/layer_decompress.h"

#include <oneapi/tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <cstring>

#include "kernels/crc32.h"
#include "kernels/deflate.h"
#include "kernels/inflate.h"
#include "kernels/secure_memory.h"
#include "kernels/zstd.h"

namespace layercrypt {
namespace {

constexpr size_t kScratchSize = size_t{1} << 20;
constexpr size_t kWindowSize = size_t{32} << 10;

std::string inflate_problem(kernels::InflateResult r) {
  using kernels::InflateResult;
  switch (r) {
    case InflateResult::kBadHeader:
      return "it does not start with a gzip header";
    case InflateResult::kBadData:
      return "its deflate data is invalid";
    case InflateResult::kBadCrc:
      return "a member's CRC-32 does not match its data";
    case InflateResult::kBadLength:
      return "a member's ISIZE does not match its length";
    case InflateResult::kTrailingGarbage:
      return "bytes follow the last gzip member";
    case InflateResult::kTruncated:
      return "it ends inside a gzip member";
    default:
      return std::string("the inflater failed (") + kernels::inflate_result_name(r) + ")";
  }
}

Status corrupt(const char* format, const std::string& problem, uint64_t tar_bytes) {
  return DataError(std::string("the decrypted layer is not valid ") + format + ": " + problem +
                   " (after " + std::to_string(tar_bytes) +
                   " bytes of tar); the tar written so far is incomplete");
}

// PassSink writes bytes through unchanged (an uncompressed tar layer).
class PassSink final : public DecompressingSink {
 public:
  explicit PassSink(ByteSink& inner) : inner_(inner) {}
  Status write(const uint8_t* data, size_t len) override {
    LC_RETURN_IF_ERROR(inner_.write(data, len));
    out_ += len;
    return Status::Ok();
  }
  Status finish() override { return Status::Ok(); }
  uint64_t bytes_out() const override { return out_; }

 private:
  ByteSink& inner_;
  uint64_t out_ = 0;
};

// ScratchSink holds the output buffer shared by the decompressing sinks; it
// held plaintext, so it is wiped.
class ScratchSink : public DecompressingSink {
 protected:
  explicit ScratchSink(ByteSink& inner) : inner_(inner), scratch_(kScratchSize) {}
  ~ScratchSink() override { kernels::secure_wipe(scratch_.data(), scratch_.size()); }
  Status emit(size_t len) {
    if (len == 0) return Status::Ok();
    out_ += len;
    return inner_.write(scratch_.data(), len);
  }
  uint64_t bytes_out() const override { return out_; }

  // pump feeds data[0..len) to a streaming decompressor's update(in, n,
  // &used, out, cap, &written) and emits what it yields, until it returns
  // something other than `need_output` (need-input, or an error); returns
  // that result.
  template <typename Result, typename Update>
  StatusOr<Result> pump(const uint8_t* data, size_t len, Result need_output, Update update) {
    for (;;) {
      size_t used = 0, written = 0;
      const Result r = update(data, len, &used, scratch_.data(), scratch_.size(), &written);
      LC_RETURN_IF_ERROR(emit(written));
      data += used;
      len -= used;
      if (r != need_output) return r;
    }
  }

  ByteSink& inner_;
  std::vector<uint8_t> scratch_;
  uint64_t out_ = 0;
};

class GunzipSink final : public ScratchSink {
 public:
  explicit GunzipSink(ByteSink& inner) : ScratchSink(inner) {}
  Status write(const uint8_t* data, size_t len) override {
    using kernels::InflateResult;
    LC_ASSIGN_OR_RETURN(InflateResult r,
                        pump(data, len, InflateResult::kNeedOutput,
                             [this](auto... a) { return inflater_.update(a...); }));
    if (r != InflateResult::kNeedInput) return corrupt("gzip", inflate_problem(r), out_);
    return Status::Ok();
  }
  Status finish() override {
    const kernels::InflateResult r = inflater_.finish();
    if (r != kernels::InflateResult::kOk) return corrupt("gzip", inflate_problem(r), out_);
    return Status::Ok();
  }

 private:
  kernels::GzipInflater inflater_;
};

class UnzstdSink final : public ScratchSink {
 public:
  explicit UnzstdSink(ByteSink& inner) : ScratchSink(inner) {}
  bool ok() const { return zstd_.ok(); }
  Status write(const uint8_t* data, size_t len) override {
    using kernels::ZstdResult;
    LC_ASSIGN_OR_RETURN(ZstdResult r, pump(data, len, ZstdResult::kNeedOutput,
                                           [this](auto... a) { return zstd_.update(a...); }));
    if (r != ZstdResult::kNeedInput) return corrupt("zstd", problem(r), out_);
    return Status::Ok();
  }
  Status finish() override {
    const kernels::ZstdResult r = zstd_.finish();
    if (r != kernels::ZstdResult::kOk) return corrupt("zstd", problem(r), out_);
    return Status::Ok();
  }

 private:
  std::string problem(kernels::ZstdResult r) const {
    if (r == kernels::ZstdResult::kTruncated) return "it ends inside a zstd frame";
    if (r == kernels::ZstdResult::kBadData) return zstd_.error_text();
    return std::string("libzstd failed (") + kernels::zstd_result_name(r) + ")";
  }
  kernels::ZstdDecompressor zstd_;
};

}  // namespace

StatusOr<std::unique_ptr<DecompressingSink>> DecompressingSink::make(Compression compression,
                                                                     ByteSink& inner) {
  switch (compression) {
    case Compression::kNone:
      return std::unique_ptr<DecompressingSink>(new PassSink(inner));
    case Compression::kGzip:
      return std::unique_ptr<DecompressingSink>(new GunzipSink(inner));
    case Compression::kZstd: {
      auto sink = std::make_unique<UnzstdSink>(inner);
      if (!sink->ok()) return Internal("libzstd could not allocate a decompression context");
      return std::unique_ptr<DecompressingSink>(std::move(sink));
    }
  }
  return Internal("unknown compression");
}

// ---------------------------------------------------------------------------
// IndexedGunzip
//
// Segments: 0 is the 10-byte header, 1..n the chunks' deflate data, n+1 the
// 8-byte trailer.

struct IndexedGunzip::Workers {
  tbb::enumerable_thread_specific<kernels::InflateChunker> chunkers;
  kernels::RawInflater raw;
  bool raw_active = false;
};

IndexedGunzip::IndexedGunzip(GzipIndex index, ByteSink& out)
    : index_(std::move(index)), out_(out), workers_(std::make_unique<Workers>()) {
  taken_.assign(index_.chunk_count() + 2, 0);
}

IndexedGunzip::~IndexedGunzip() {
  kernels::secure_wipe(window_.data(), window_.size());
  kernels::secure_wipe(scratch_.data(), scratch_.size());
}

std::vector<size_t> IndexedGunzip::segments_of(const GzipIndex& index) {
  std::vector<size_t> seg;
  seg.reserve(index.deflate_sizes.size() + 2);
  seg.push_back(kernels::kGzipHeaderSize);
  for (uint64_t d : index.deflate_sizes) seg.push_back(static_cast<size_t>(d));
  seg.push_back(kernels::kGzipTrailerSize);
  return seg;
}

size_t IndexedGunzip::out_buffer_size() const { return static_cast<size_t>(index_.chunk_size); }

Stage IndexedGunzip::inflate_stage() {
  return {"inflate", StageKind::kParallel, [this](Chunk& c) {
            const uint64_t n = index_.chunk_count();
            if (c.seq == 0 || c.seq > n) return Status::Ok();
            // Once the serial stage has fallen back, chunk results are unused.
            if (falling_back_.load(std::memory_order_relaxed)) return Status::Ok();
            const uint64_t expect = index_.chunk_uncompressed_size(c.seq - 1);
            size_t written = 0;
            uint32_t crc = 0;
            const auto r = workers_->chunkers.local().inflate(c.data, c.len, c.seq == n, c.out,
                                                              expect, &written, &crc);
            if (r == kernels::InflateResult::kOk && written == expect) {
              c.out_len = written;
              c.crc = crc;
              taken_[c.seq] = 1;
            }
            return Status::Ok();
          }};
}

Stage IndexedGunzip::join_stage() {
  return {"join+write", StageKind::kSerialInOrder, [this](Chunk& c) { return join(c); }};
}

Status IndexedGunzip::write_out(const uint8_t* data, size_t len) {
  if (len == 0) return Status::Ok();
  crc_ = kernels::crc32_combine(crc_, kernels::crc32_gzip(0, data, len), len);
  total_out_ += len;
  return out_.write(data, len);
}

Status IndexedGunzip::join(Chunk& c) {
  const uint64_t n = index_.chunk_count();
  if (c.seq == 0) {
    // Our header has no optional fields, so the deflate data starts at 10;
    // any other header means the index does not describe this blob.
    const bool ours = c.len == kernels::kGzipHeaderSize && c.data[0] == 0x1f && c.data[1] == 0x8b &&
                      c.data[2] == 8 && c.data[3] == 0;
    if (ours) return Status::Ok();
    falling_back_.store(true, std::memory_order_relaxed);
    fallback_chunk_ = 0;
    auto sink = DecompressingSink::make(Compression::kGzip, out_);
    if (!sink.ok()) return sink.status();
    gzip_ = std::move(*sink);
    return gzip_->write(c.data, c.len);
  }
  if (gzip_ != nullptr) {
    LC_RETURN_IF_ERROR(gzip_->write(c.data, c.len));
    if (c.last) {
      ended_ = true;
      trailer_status_ = gzip_->finish();
      total_out_ = gzip_->bytes_out();
      return trailer_status_;
    }
    return Status::Ok();
  }
  if (c.seq <= n) {
    if (!workers_->raw_active && taken_[c.seq]) {
      const uint8_t* p = c.out;
      const size_t len = c.out_len;
      total_out_ += len;
      crc_ = kernels::crc32_combine(crc_, c.crc, len);
      if (len >= kWindowSize) {
        window_.assign(p + len - kWindowSize, p + len);
      } else {
        window_.insert(window_.end(), p, p + len);
        if (window_.size() > kWindowSize)
          window_.erase(window_.begin(), window_.end() - static_cast<ptrdiff_t>(kWindowSize));
      }
      return out_.write(p, len);
    }
    if (!workers_->raw_active) {
      // The first chunk that did not check out: continue sequentially from
      // its first byte, where the previous (checked) chunk ended.
      falling_back_.store(true, std::memory_order_relaxed);
      fallback_chunk_ = static_cast<int64_t>(c.seq - 1);
      if (!workers_->raw.reset(window_.data(), window_.size()))
        return Internal("ISA-L refused the inflate dictionary");
      workers_->raw_active = true;
      scratch_.resize(kScratchSize);
    }
    const uint8_t* in = c.data;
    size_t left = c.len;
    for (;;) {
      size_t used = 0, written = 0;
      const auto r =
          workers_->raw.update(in, left, &used, scratch_.data(), scratch_.size(), &written);
      LC_RETURN_IF_ERROR(write_out(scratch_.data(), written));
      in += used;
      left -= used;
      if (r == kernels::InflateResult::kNeedOutput) continue;
      if (r == kernels::InflateResult::kNeedInput || r == kernels::InflateResult::kOk) break;
      return corrupt("gzip", inflate_problem(r), total_out_);
    }
    if (c.seq == n && !workers_->raw.finished())
      return corrupt("gzip", inflate_problem(kernels::InflateResult::kTruncated), total_out_);
    return Status::Ok();
  }
  // The trailer: CRC-32 and ISIZE of everything inflated.
  ended_ = true;
  const uint32_t want_crc = uint32_t{c.data[0]} | uint32_t{c.data[1]} << 8 |
                            uint32_t{c.data[2]} << 16 | uint32_t{c.data[3]} << 24;
  const uint32_t want_len = uint32_t{c.data[4]} | uint32_t{c.data[5]} << 8 |
                            uint32_t{c.data[6]} << 16 | uint32_t{c.data[7]} << 24;
  if (want_crc != crc_)
    trailer_status_ = corrupt("gzip", inflate_problem(kernels::InflateResult::kBadCrc), total_out_);
  else if (want_len != static_cast<uint32_t>(total_out_))
    trailer_status_ =
        corrupt("gzip", inflate_problem(kernels::InflateResult::kBadLength), total_out_);
  else
    trailer_status_ = Status::Ok();
  return trailer_status_;
}

Status IndexedGunzip::finish() const {
  if (!ended_) return DataError("the gzip member has no trailer");
  return trailer_status_;
}

}  // namespace layercrypt
