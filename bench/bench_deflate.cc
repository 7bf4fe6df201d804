// bench/bench_deflate.cc: gzip compression throughput on tar-like data.
// ISA-L levels 0-3 through our kernels (streaming GzipDeflater and chunked
// DeflateChunker on one thread, 1 MiB chunks) against zlib -1 and -6 (what
// `gzip` does). Bytes processed = INPUT bytes; counter "ratio" = input size /
// gzip member size.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdint>
#include <map>
#include <vector>

#include "kernels/crc32.h"
#include "kernels/deflate.h"
#include "tests/support/corpus.h"

namespace {

namespace k = layercrypt::kernels;
using Bytes = std::vector<uint8_t>;

const Bytes& corpus(size_t n) {
  static std::map<size_t, Bytes> cache;
  auto it = cache.find(n);
  if (it == cache.end())
    it = cache.emplace(n, layercrypt::testing::make_tar_like_corpus(n, 1)).first;
  return it->second;
}

void set_counters(benchmark::State& state, size_t in, size_t out) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(in));
  state.counters["ratio"] = static_cast<double>(in) / static_cast<double>(out);
}

void BM_IsalStreaming(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const Bytes& in = corpus(static_cast<size_t>(state.range(1)));
  Bytes out(k::gzip_deflate_bound(in.size(), level));
  k::GzipDeflater d;
  size_t total = 0;
  for (auto _ : state) {
    d.init(level);
    size_t used, w, fw;
    // Whole input in one update, as the engine's stream stage feeds 1-4 MiB.
    if (d.update(in.data(), in.size(), &used, out.data(), out.size(), &w) !=
            k::DeflateResult::kNeedInput ||
        d.finish(out.data() + w, out.size() - w, &fw) != k::DeflateResult::kOk) {
      state.SkipWithError("deflate failed");
      return;
    }
    total = w + fw;
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, in.size(), total);
}

void BM_IsalChunked(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const Bytes& in = corpus(static_cast<size_t>(state.range(1)));
  const size_t chunk = size_t{1} << 20;
  Bytes out(k::gzip_chunked_bound(in.size(), chunk));
  k::DeflateChunker c;
  size_t total = 0;
  for (auto _ : state) {
    size_t pos = k::kGzipHeaderSize;
    k::gzip_write_header(out.data());
    uint32_t crc = 0;
    size_t off = 0;
    do {
      const size_t n = std::min(chunk, in.size() - off);
      size_t w;
      uint32_t ccrc;
      if (c.compress(level, in.data() + off, n, off + n == in.size(), out.data() + pos,
                     out.size() - pos, &w, &ccrc) != k::DeflateResult::kOk) {
        state.SkipWithError("chunk failed");
        return;
      }
      crc = k::crc32_combine(crc, ccrc, n);
      pos += w;
      off += n;
    } while (off < in.size());
    k::gzip_write_trailer(crc, in.size(), out.data() + pos);
    total = pos + k::kGzipTrailerSize;
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, in.size(), total);
}

void BM_Zlib(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const Bytes& in = corpus(static_cast<size_t>(state.range(1)));
  Bytes out(compressBound(in.size()) + 64);
  size_t total = 0;
  for (auto _ : state) {
    z_stream zs{};
    deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = const_cast<uint8_t*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
      state.SkipWithError("zlib deflate failed");
      return;
    }
    total = zs.total_out;
    deflateEnd(&zs);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, in.size(), total);
}

void Sizes(benchmark::internal::Benchmark* b, std::vector<int64_t> levels) {
  for (int64_t level : levels)
    for (int64_t size : {int64_t{16} << 10, int64_t{1} << 20, int64_t{16} << 20})
      b->Args({level, size});
  b->ArgNames({"level", "bytes"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_IsalStreaming)->Apply([](auto* b) { Sizes(b, {0, 1, 2, 3}); });
BENCHMARK(BM_IsalChunked)->Apply([](auto* b) { Sizes(b, {0, 1, 2, 3}); });
BENCHMARK(BM_Zlib)->Apply([](auto* b) { Sizes(b, {1, 6}); });

}  // namespace
