// engine/stream/layer_compress.cc: see layer_compress.h.
#include "engine/stream/layer_compress.h"

#include <oneapi/tbb/enumerable_thread_specific.h>

#include "kernels/crc32.h"
#include "kernels/deflate.h"

namespace layercrypt {

struct ChunkedGzip::Workers {
  tbb::enumerable_thread_specific<kernels::DeflateChunker> chunkers;
};

ChunkedGzip::ChunkedGzip(int level, size_t chunk_size)
    : level_(level), chunk_size_(chunk_size), workers_(std::make_unique<Workers>()) {
  index_.chunk_size = chunk_size;
}
ChunkedGzip::~ChunkedGzip() = default;

StatusOr<std::unique_ptr<ChunkedGzip>> ChunkedGzip::make(int level, size_t chunk_size) {
  if (level < kernels::kDeflateMinLevel || level > kernels::kDeflateMaxLevel)
    return InvalidArgument("gzip level " + std::to_string(level) +
                           " is not one ISA-L has; use 0 (fastest) to 3 (smallest)");
  if (chunk_size < (size_t{64} << 10) || chunk_size > kernels::kMaxDeflateChunk)
    return InvalidArgument("gzip chunk size must be 64 KiB to 256 MiB");
  return std::unique_ptr<ChunkedGzip>(new ChunkedGzip(level, chunk_size));
}

size_t ChunkedGzip::out_buffer_size() const {
  return kernels::kGzipHeaderSize + kernels::deflate_chunk_bound(chunk_size_) +
         kernels::kGzipTrailerSize;
}

Stage ChunkedGzip::deflate_stage() {
  return {
      "deflate", StageKind::kParallel, [this](Chunk& c) {
        const size_t head = c.seq == 0 ? kernels::kGzipHeaderSize : 0;
        const size_t room = c.out_cap - head - kernels::kGzipTrailerSize;
        size_t written = 0;
        uint32_t crc = 0;
        const auto r = workers_->chunkers.local().compress(level_, c.data, c.len, c.last,
                                                           c.out + head, room, &written, &crc);
        if (r != kernels::DeflateResult::kOk)
          return Internal(std::string("ISA-L deflate failed: ") + kernels::deflate_result_name(r));
        c.out_len = head + written;
        c.crc = crc;
        return Status::Ok();
      }};
}

Stage ChunkedGzip::frame_stage() {
  return {"gzip-frame", StageKind::kSerialInOrder, [this](Chunk& c) {
            const size_t head = c.seq == 0 ? kernels::kGzipHeaderSize : 0;
            if (c.seq == 0) kernels::gzip_write_header(c.out);
            index_.deflate_sizes.push_back(c.out_len - head);
            index_.uncompressed_size += c.len;
            crc_ = kernels::crc32_combine(crc_, c.crc, c.len);
            if (c.last) {
              kernels::gzip_write_trailer(crc_, index_.uncompressed_size, c.out + c.out_len);
              c.out_len += kernels::kGzipTrailerSize;
            }
            c.out_offset = offset_;
            offset_ += c.out_len;
            return Status::Ok();
          }};
}

ZstdTarSource::ZstdTarSource(ByteSource& tar) : tar_(tar), in_(size_t{256} << 10) {}
ZstdTarSource::~ZstdTarSource() = default;

StatusOr<std::unique_ptr<ZstdTarSource>> ZstdTarSource::make(ByteSource& tar, int level,
                                                             int num_workers) {
  if (level < kMinZstdLevel || level > kMaxZstdLevel)
    return InvalidArgument("zstd level " + std::to_string(level) + " is out of range; use " +
                           std::to_string(kMinZstdLevel) + " (fastest) to " +
                           std::to_string(kMaxZstdLevel) + " (smallest)");
  if (num_workers < 1 || num_workers > 256)
    return InvalidArgument("zstd worker count must be 1 to 256");
  std::unique_ptr<ZstdTarSource> src(new ZstdTarSource(tar));
  if (!src->zstd_.ok() || !src->sha_.ok()) return Internal("zstd or SHA-256 setup failed");
  if (src->zstd_.start(level, num_workers) != kernels::ZstdResult::kOk)
    return Internal("libzstd could not start a multithreaded frame: " + src->zstd_.error_text());
  return src;
}

StatusOr<size_t> ZstdTarSource::read(uint8_t* out, size_t cap) {
  size_t produced = 0;
  while (produced < cap && !frame_ended_) {
    size_t written = 0;
    kernels::ZstdResult r;
    if (in_pos_ < in_len_) {
      size_t used = 0;
      r = zstd_.update(in_.data() + in_pos_, in_len_ - in_pos_, &used, out + produced,
                       cap - produced, &written);
      in_pos_ += used;
    } else if (!tar_ended_) {
      auto n = tar_.read(in_.data(), in_.size());
      if (!n.ok()) return n.status();
      if (!sha_.update(in_.data(), *n)) return Internal("SHA-256 update failed");
      in_pos_ = 0;
      in_len_ = *n;
      tar_bytes_ += *n;
      tar_ended_ = *n == 0;
      continue;
    } else {
      r = zstd_.finish(out + produced, cap - produced, &written);
      frame_ended_ = r == kernels::ZstdResult::kOk;
    }
    produced += written;
    if (r == kernels::ZstdResult::kInternalError)
      return Internal("zstd compression failed: " + zstd_.error_text());
  }
  return produced;
}

Status ZstdTarSource::tar_sha256(std::array<uint8_t, 32>& out) {
  if (!frame_ended_) return Internal("the tar's digest was asked for before its end");
  if (!sha_.final(out.data(), out.size())) return Internal("finishing the tar digest failed");
  return Status::Ok();
}

}  // namespace layercrypt
