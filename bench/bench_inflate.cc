// bench/bench_inflate.cc: gzip decompression throughput on tar-like data.
// Our ISA-L GzipInflater (streaming, 256 KiB output buffer, like the engine)
// and InflateChunker (1 MiB chunks, one thread) against zlib inflate, on the
// corpus compressed by zlib -6 (what `gzip` makes) and by our chunked ISA-L
// level 1. Bytes processed = OUTPUT (decompressed) bytes.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdint>
#include <map>
#include <vector>

#include "kernels/crc32.h"
#include "kernels/deflate.h"
#include "kernels/inflate.h"
#include "tests/support/corpus.h"

namespace {

namespace k = layercrypt::kernels;
using Bytes = std::vector<uint8_t>;

constexpr size_t kChunk = size_t{1} << 20;
constexpr size_t kOutBuf = size_t{256} << 10;

enum Source : int64_t { kZlib6 = 0, kIsalChunkedL1 = 1 };

struct Compressed {
  Bytes plain;
  Bytes gz;
  std::vector<size_t> chunk_comp;  // compressed size of each chunk (chunked source)
};

Compressed make(size_t n, Source src) {
  Compressed c;
  c.plain = layercrypt::testing::make_tar_like_corpus(n, 1);
  if (src == kZlib6) {
    c.gz.resize(compressBound(n) + 64);
    z_stream zs{};
    deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = c.plain.data();
    zs.avail_in = static_cast<uInt>(n);
    zs.next_out = c.gz.data();
    zs.avail_out = static_cast<uInt>(c.gz.size());
    deflate(&zs, Z_FINISH);
    c.gz.resize(zs.total_out);
    deflateEnd(&zs);
  } else {
    k::DeflateChunker ch;
    c.gz.resize(k::gzip_chunked_bound(n, kChunk));
    k::gzip_write_header(c.gz.data());
    size_t pos = k::kGzipHeaderSize, off = 0;
    uint32_t crc = 0;
    do {
      const size_t len = std::min(kChunk, n - off);
      size_t w;
      uint32_t cc;
      ch.compress(1, c.plain.data() + off, len, off + len == n, c.gz.data() + pos,
                  c.gz.size() - pos, &w, &cc);
      c.chunk_comp.push_back(w);
      crc = k::crc32_combine(crc, cc, len);
      pos += w;
      off += len;
    } while (off < n);
    k::gzip_write_trailer(crc, n, c.gz.data() + pos);
    c.gz.resize(pos + k::kGzipTrailerSize);
  }
  return c;
}

const Compressed& data(size_t n, Source src) {
  static std::map<std::pair<size_t, int64_t>, Compressed> cache;
  auto key = std::make_pair(n, static_cast<int64_t>(src));
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make(n, src)).first;
  return it->second;
}

void BM_IsalInflate(benchmark::State& state) {
  const Compressed& c = data(static_cast<size_t>(state.range(1)), Source(state.range(0)));
  Bytes out(kOutBuf);
  k::GzipInflater inf;
  for (auto _ : state) {
    inf.reset();
    size_t pos = 0;
    k::InflateResult r;
    do {
      size_t used, w;
      r = inf.update(c.gz.data() + pos, c.gz.size() - pos, &used, out.data(), out.size(), &w);
      pos += used;
      benchmark::DoNotOptimize(out.data());
    } while (r == k::InflateResult::kNeedOutput);
    if (r != k::InflateResult::kNeedInput || inf.finish() != k::InflateResult::kOk ||
        inf.total_out() != c.plain.size()) {
      state.SkipWithError("inflate failed");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.plain.size()));
}

void BM_IsalInflateChunks(benchmark::State& state) {
  const Compressed& c = data(static_cast<size_t>(state.range(0)), kIsalChunkedL1);
  Bytes out(kChunk);
  k::InflateChunker ic;
  for (auto _ : state) {
    size_t pos = k::kGzipHeaderSize;
    uint32_t crc = 0;
    for (size_t i = 0; i < c.chunk_comp.size(); ++i) {
      size_t w;
      uint32_t cc;
      if (ic.inflate(c.gz.data() + pos, c.chunk_comp[i], i + 1 == c.chunk_comp.size(), out.data(),
                     out.size(), &w, &cc) != k::InflateResult::kOk) {
        state.SkipWithError("chunk inflate failed");
        return;
      }
      crc = k::crc32_combine(crc, cc, w);
      pos += c.chunk_comp[i];
      benchmark::DoNotOptimize(out.data());
    }
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.plain.size()));
}

void BM_ZlibInflate(benchmark::State& state) {
  const Compressed& c = data(static_cast<size_t>(state.range(1)), Source(state.range(0)));
  Bytes out(kOutBuf);
  for (auto _ : state) {
    z_stream zs{};
    inflateInit2(&zs, 16 + MAX_WBITS);
    zs.next_in = const_cast<uint8_t*>(c.gz.data());
    zs.avail_in = static_cast<uInt>(c.gz.size());
    int r;
    do {
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(out.size());
      r = inflate(&zs, Z_NO_FLUSH);
      benchmark::DoNotOptimize(out.data());
    } while (r == Z_OK);
    if (r != Z_STREAM_END) {
      state.SkipWithError("zlib inflate failed");
      return;
    }
    inflateEnd(&zs);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.plain.size()));
}

void Args(benchmark::internal::Benchmark* b) {
  for (int64_t src : {kZlib6, kIsalChunkedL1})
    for (int64_t size : {int64_t{16} << 10, int64_t{1} << 20, int64_t{16} << 20})
      b->Args({src, size});
  b->ArgNames({"src", "bytes"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

// src: 0 = zlib -6 (gzip), 1 = our chunked ISA-L level 1.
BENCHMARK(BM_IsalInflate)->Apply(Args);
BENCHMARK(BM_ZlibInflate)->Apply(Args);
BENCHMARK(BM_IsalInflateChunks)
    ->ArgNames({"bytes"})
    ->Arg(int64_t{1} << 20)
    ->Arg(int64_t{16} << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
