// engine/layer_compress.cc: see layer_compress.h.
#include "engine/layer_compress.h"

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
  return {"deflate", StageKind::kParallel, [this](Chunk& c) {
            const size_t head = c.seq == 0 ? kernels::kGzipHeaderSize : 0;
            const size_t room = c.out_cap - head - kernels::kGzipTrailerSize;
            size_t written = 0;
            uint32_t crc = 0;
            const auto r = workers_->chunkers.local().compress(level_, c.data, c.len, c.last,
                                                               c.out + head, room, &written, &crc);
            if (r != kernels::DeflateResult::kOk)
              return Internal(std::string("ISA-L deflate failed: ") +
                              kernels::deflate_result_name(r));
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

}  // namespace layercrypt
