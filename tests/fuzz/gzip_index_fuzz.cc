// tests/fuzz/gzip_index_fuzz.cc: the chunk index and the parallel inflater
// that follows it, on hostile input.
//
// Property: for any annotation text and any gzip blob, parse_gzip_index
// never crashes; and when the index parses and IndexedGunzip (through the
// pipeline, as the decoder runs it) reports success, its output is exactly
// what a sequential inflater (GzipInflater) makes of the blob, which must
// also succeed. A wrong index may cost a fallback or an error, never other
// bytes.
//
// Input: the annotation text, a NUL byte, then the gzip blob. With no NUL,
// the input is the blob and the index is computed for a blob of this size
// with 64 KiB chunks (so the interesting path is reached often).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/core/io.h"
#include "engine/stream/gzip_index.h"
#include "engine/stream/layer_decompress.h"
#include "engine/stream/pipeline.h"

namespace {

bool sequential(const uint8_t* blob, size_t len, std::vector<uint8_t>* out) {
  layercrypt::VectorSink sink;
  auto s = layercrypt::DecompressingSink::make(layercrypt::Compression::kGzip, sink);
  if (!s.ok()) return false;
  if (!(*s)->write(blob, len).ok() || !(*s)->finish().ok()) return false;
  *out = std::move(sink.out);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  std::string text;
  const uint8_t* blob = data;
  size_t blob_len = size;
  if (nul != nullptr) {
    text.assign(reinterpret_cast<const char*>(data), static_cast<size_t>(nul - data));
    blob = nul + 1;
    blob_len = size - (text.size() + 1);
  }
  if (text.empty()) {
    // Split the deflate data evenly: a plausible but usually wrong index.
    layercrypt::GzipIndex guess;
    guess.chunk_size = 65536;
    guess.uncompressed_size = 65536 * 2 + 5;
    const uint64_t body = blob_len > 18 ? blob_len - 18 : 0;
    guess.deflate_sizes = {body / 3, body / 3, body - 2 * (body / 3)};
    text = layercrypt::format_gzip_index(guess);
  }
  auto index = layercrypt::parse_gzip_index(text, blob_len);
  if (!index.ok()) return 0;
  // The formatted index parses back to the same thing.
  auto again = layercrypt::parse_gzip_index(layercrypt::format_gzip_index(*index), blob_len);
  if (!again.ok() || again->deflate_sizes != index->deflate_sizes) std::abort();

  layercrypt::VectorSink sink;
  layercrypt::IndexedGunzip gunzip(*index, sink);
  layercrypt::PipelineOptions po;
  po.segments = gunzip.segments();
  po.out_buffer_size = gunzip.out_buffer_size();
  po.threads = 1;
  layercrypt::MemorySource src(blob, blob_len);
  const std::vector<layercrypt::Stage> stages = {gunzip.inflate_stage(), gunzip.join_stage()};
  const bool ok = layercrypt::run_pipeline(src, stages, po, nullptr).ok() && gunzip.finish().ok();
  if (ok) {
    std::vector<uint8_t> want;
    if (!sequential(blob, blob_len, &want)) std::abort();  // we accepted what gzip refuses
    if (want != sink.out) std::abort();                    // other bytes
  }
  return 0;
}
