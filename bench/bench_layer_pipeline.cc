// bench/bench_layer_pipeline.cc: the engine's whole layer paths in memory,
// with a thread sweep (1 and 2 threads, and the default): no disk, no
// pipes, so these are the pipeline's own ceilings.
//
//   encrypt          blob -> ciphertext, with the input and output SHA-256
//   decrypt          ciphertext -> blob, verify first (MAC pass, then CTR)
//   gzip_encrypt     tar -> gzip (ISA-L level 1, 1 MiB chunks) -> encrypt,
//                    with the tar's, the gzip's and the ciphertext's SHA-256
//   decrypt_gunzip   ciphertext of our gzip -> tar, verify first, inflated
//                    by the chunk index (index:1) or on one core (index:0)
//
// Bytes processed = TAR (uncompressed) bytes for the gzip paths, blob bytes
// otherwise. Input: the tar-like corpus (tests/support/corpus.h).
#include <benchmark/benchmark.h>

#include <optional>
#include <vector>

#include "engine/core/io.h"
#include "engine/stream/layer_cipher.h"
#include "tests/support/corpus.h"

namespace {

using Bytes = std::vector<uint8_t>;
constexpr size_t kSize = size_t{256} << 20;

const Bytes& tar() {
  static const Bytes t = layercrypt::testing::make_tar_like_corpus(kSize, 7);
  return t;
}

layercrypt::LayerKey key() {
  layercrypt::LayerKey k;
  k.symkey.assign(32, 0x11);
  k.nonce.assign(16, 0x22);
  return k;
}

// A sink that only counts (the pipeline's own speed, not memcpy's).
class NullSink final : public layercrypt::ByteSink {
 public:
  layercrypt::Status write(const uint8_t*, size_t len) override {
    bytes += len;
    return layercrypt::Status::Ok();
  }
  uint64_t bytes = 0;
};

layercrypt::PipelineOptions threads(const benchmark::State& st) {
  layercrypt::PipelineOptions po;
  po.threads = static_cast<size_t>(st.range(0));
  return po;
}

struct Encrypted {
  Bytes blob;
  layercrypt::LayerEncryptResult result;
};

const Encrypted& gzip_encrypted() {
  static const Encrypted e = [] {
    layercrypt::MemorySource src(tar().data(), tar().size());
    layercrypt::VectorSink sink;
    auto r = layercrypt::encrypt_layer_gzip(src, sink, key(), 1, {});
    return Encrypted{std::move(sink.out), *r};
  }();
  return e;
}

void BM_Encrypt(benchmark::State& st) {
  for (auto _ : st) {
    layercrypt::MemorySource src(tar().data(), tar().size());
    NullSink sink;
    auto r = layercrypt::encrypt_layer(src, sink, key(), threads(st));
    if (!r.ok()) st.SkipWithError(r.status().message().c_str());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSize));
}

const Encrypted& plain_encrypted() {
  static const Encrypted e = [] {
    layercrypt::MemorySource src(tar().data(), tar().size());
    layercrypt::VectorSink sink;
    auto r = layercrypt::encrypt_layer(src, sink, key(), {});
    return Encrypted{std::move(sink.out), *r};
  }();
  return e;
}

void BM_Decrypt(benchmark::State& st) {
  const Encrypted& e = plain_encrypted();
  for (auto _ : st) {
    layercrypt::MemorySource src(e.blob.data(), e.blob.size());
    NullSink sink;
    layercrypt::LayerDecryptOptions o;
    o.pipeline = threads(st);
    auto r = layercrypt::decrypt_layer(src, sink, key(), e.result.hmac, o);
    if (!r.ok()) st.SkipWithError(r.status().message().c_str());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSize));
}

void BM_GzipEncrypt(benchmark::State& st) {
  for (auto _ : st) {
    layercrypt::MemorySource src(tar().data(), tar().size());
    NullSink sink;
    auto r = layercrypt::encrypt_layer_gzip(src, sink, key(), 1, threads(st));
    if (!r.ok()) st.SkipWithError(r.status().message().c_str());
    st.counters["ratio"] = static_cast<double>(sink.bytes) / kSize;
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSize));
}

void BM_DecryptGunzip(benchmark::State& st) {
  const Encrypted& e = gzip_encrypted();
  for (auto _ : st) {
    layercrypt::MemorySource src(e.blob.data(), e.blob.size());
    NullSink sink;
    layercrypt::LayerDecryptOptions o;
    o.pipeline = threads(st);
    o.decompress = layercrypt::Compression::kGzip;
    if (st.range(1) != 0) o.gzip_index = e.result.gzip_index;
    auto r = layercrypt::decrypt_layer(src, sink, key(), e.result.hmac, o);
    if (!r.ok() || sink.bytes != kSize) st.SkipWithError("decrypt+gunzip failed");
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kSize));
}

// The inputs are made once, before any timing.
const bool kInputsReady = (tar(), gzip_encrypted(), plain_encrypted(), true);

// threads: 1, 2 and 0 (the default: every CPU).
BENCHMARK(BM_Encrypt)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Decrypt)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GzipEncrypt)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_DecryptGunzip)
    ->ArgNames({"threads", "index"})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Args({2, 0})
    ->Args({2, 1})
    ->Args({0, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
