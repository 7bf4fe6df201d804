// bench/bench_hmac_sha256.cc: streaming HMAC-SHA256 and SHA-256
// (kernels/hmac_sha256.h, kernels/sha256.h), multi-buffer HMAC-SHA256
// (kernels/hmac_sha256_mb.h) per ipsec-mb tier and job count, streaming
// multi-lane SHA-256 / HMAC (kernels/sha256_mb.h) per path and lane count, and
// the OpenSSL peers (one-shot HMAC(), EVP_Digest) in the same binary.
//
// Bytes processed are message bytes, so every row reads as GB/s of payload.
// Inputs are deterministic (a fixed byte pattern, a fixed key, fixed
// pseudo-random sizes).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/hmac_sha256.h"
#include "kernels/hmac_sha256_mb.h"
#include "kernels/sha256.h"
#include "kernels/sha256_mb.h"

namespace {

namespace k = layercrypt::kernels;

constexpr size_t kMaxTotal = size_t{16} << 20;
constexpr size_t kChunk = size_t{1} << 20;  // the engine's streaming piece size

const std::vector<uint8_t>& input() {
  static const std::vector<uint8_t> data = [] {
    std::vector<uint8_t> v(kMaxTotal + 4096);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 131 + (i >> 11));
    return v;
  }();
  return data;
}

const uint8_t kKey[32] = {0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, 0x72, 0x83, 0x94, 0xa5,
                          0xb6, 0xc7, 0xd8, 0xe9, 0xfa, 0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50,
                          0x61, 0x72, 0x83, 0x94, 0xa5, 0xb6, 0xc7, 0xd8, 0xe9, 0xfa};

// Streaming HMAC over range(0) bytes fed in min(range(0), 1 MiB) updates;
// keyed once, reset() per message, as the engine does per layer.
void BM_HmacSha256Stream(benchmark::State& state) {
  const size_t total = static_cast<size_t>(state.range(0));
  const uint8_t* data = input().data();
  k::HmacSha256 mac;
  if (!mac.init(kKey, sizeof(kKey))) return state.SkipWithError("init failed");
  uint8_t tag[k::kHmacSha256TagLen];
  for (auto _ : state) {
    if (!mac.reset()) return state.SkipWithError("reset failed");
    for (size_t pos = 0; pos < total; pos += kChunk)
      mac.update(data + pos, std::min(kChunk, total - pos));
    mac.final(tag, sizeof(tag));
    benchmark::DoNotOptimize(tag);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
}
BENCHMARK(BM_HmacSha256Stream)->Arg(16 << 10)->Arg(1 << 20)->Arg(16 << 20);

// Per-update overhead: 1 MiB authenticated in range(0)-byte updates.
void BM_HmacSha256UpdateSize(benchmark::State& state) {
  const size_t piece = static_cast<size_t>(state.range(0));
  const size_t total = size_t{1} << 20;
  const uint8_t* data = input().data();
  k::HmacSha256 mac;
  if (!mac.init(kKey, sizeof(kKey))) return state.SkipWithError("init failed");
  uint8_t tag[k::kHmacSha256TagLen];
  for (auto _ : state) {
    mac.reset();
    for (size_t pos = 0; pos < total; pos += piece) mac.update(data + pos, piece);
    mac.final(tag, sizeof(tag));
    benchmark::DoNotOptimize(tag);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
  state.counters["updates"] = static_cast<double>(total / piece);
}
BENCHMARK(BM_HmacSha256UpdateSize)
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->Arg(4096)
    ->Arg(16384)
    ->Arg(1 << 20);

// Cost of keying + one short message (object creation, init, final).
void BM_HmacSha256KeyAndTag64(benchmark::State& state) {
  const uint8_t* data = input().data();
  uint8_t tag[k::kHmacSha256TagLen];
  for (auto _ : state) {
    k::hmac_sha256(kKey, sizeof(kKey), data, 64, tag, sizeof(tag));
    benchmark::DoNotOptimize(tag);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * 64));
}
BENCHMARK(BM_HmacSha256KeyAndTag64);

void BM_Sha256Stream(benchmark::State& state) {
  const size_t total = static_cast<size_t>(state.range(0));
  const uint8_t* data = input().data();
  k::Sha256 sha;
  if (!sha.ok()) return state.SkipWithError("init failed");
  uint8_t digest[k::kSha256DigestLen];
  for (auto _ : state) {
    sha.reset();
    for (size_t pos = 0; pos < total; pos += kChunk)
      sha.update(data + pos, std::min(kChunk, total - pos));
    sha.final(digest, sizeof(digest));
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
}
BENCHMARK(BM_Sha256Stream)->Arg(16 << 10)->Arg(1 << 20)->Arg(16 << 20);

// Per-object cost: a fresh Sha256 per 64-byte digest (the cached EVP_MD
// keeps this to one allocation).
void BM_Sha256NewObject64(benchmark::State& state) {
  const uint8_t* data = input().data();
  uint8_t digest[k::kSha256DigestLen];
  for (auto _ : state) {
    k::Sha256 sha;
    sha.update(data, 64);
    sha.final(digest, sizeof(digest));
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * 64));
}
BENCHMARK(BM_Sha256NewObject64);

// Peer: OpenSSL's one-shot HMAC() (implicit fetch each call).
void BM_OpenSslHmacOneShot(benchmark::State& state) {
  const size_t total = static_cast<size_t>(state.range(0));
  const uint8_t* data = input().data();
  uint8_t tag[32];
  unsigned len = 0;
  for (auto _ : state) {
    HMAC(EVP_sha256(), kKey, sizeof(kKey), data, total, tag, &len);
    benchmark::DoNotOptimize(tag);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
}
BENCHMARK(BM_OpenSslHmacOneShot)->Arg(64)->Arg(16 << 10)->Arg(1 << 20)->Arg(16 << 20);

// Peer: OpenSSL's one-shot EVP_Digest SHA-256.
void BM_OpenSslEvpSha256(benchmark::State& state) {
  const size_t total = static_cast<size_t>(state.range(0));
  const uint8_t* data = input().data();
  uint8_t digest[32];
  unsigned len = 0;
  for (auto _ : state) {
    EVP_Digest(data, total, digest, &len, EVP_sha256(), nullptr);
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
}
BENCHMARK(BM_OpenSslEvpSha256)->Arg(64)->Arg(16 << 10)->Arg(1 << 20)->Arg(16 << 20);

// Multi-buffer: `jobs` messages of `len` bytes (len 0 = deterministic mixed
// sizes in 1..65534) per compute() on `tier`.
void BM_HmacMany(benchmark::State& state, k::ImbTier tier, size_t jobs, size_t len) {
  if (!k::imb_tier_supported(tier))
    return state.SkipWithError(
        (std::string("tier unsupported: ") + k::imb_tier_name(tier)).c_str());
  std::mt19937 rng(static_cast<uint32_t>(jobs));
  std::vector<const uint8_t*> msgs(jobs);
  std::vector<size_t> lens(jobs);
  size_t total = 0;
  for (size_t i = 0; i < jobs; ++i) {
    lens[i] = len != 0 ? len : 1 + rng() % k::kImbHmacSha256MaxJobLen;
    // Distinct, non-overlapping messages, as the engine would pass.
    msgs[i] = input().data() + (i * 65536) % (kMaxTotal - 65536);
    total += lens[i];
  }
  std::vector<std::array<uint8_t, 32>> tags(jobs);
  auto* out = reinterpret_cast<uint8_t(*)[32]>(tags.data());
  k::HmacSha256Many many;
  if (!many.init(kKey, sizeof(kKey))) return state.SkipWithError("init failed");
  for (auto _ : state) {
    if (!many.compute(msgs.data(), lens.data(), jobs, out, tier))
      return state.SkipWithError("compute failed");
    benchmark::DoNotOptimize(tags.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
  state.SetLabel(std::string("manager=") +
                 k::imb_manager_arch_name(k::imb_manager(k::hmac_sha256_many_tier(tier))));
}

// Peer for the multi-buffer rows: the same messages one by one through the
// streaming OpenSSL kernel (one context, reset per message).
void BM_HmacManyOpenSslLoop(benchmark::State& state, size_t jobs, size_t len) {
  std::mt19937 rng(static_cast<uint32_t>(jobs));
  std::vector<size_t> lens(jobs);
  size_t total = 0;
  for (size_t i = 0; i < jobs; ++i) {
    lens[i] = len != 0 ? len : 1 + rng() % k::kImbHmacSha256MaxJobLen;
    total += lens[i];
  }
  k::HmacSha256 mac;
  if (!mac.init(kKey, sizeof(kKey))) return state.SkipWithError("init failed");
  uint8_t tag[32];
  for (auto _ : state) {
    for (size_t i = 0; i < jobs; ++i) {
      mac.reset();
      mac.update(input().data() + (i * 65536) % (kMaxTotal - 65536), lens[i]);
      mac.final(tag, sizeof(tag));
      benchmark::DoNotOptimize(tag);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
}

// Streaming lanes as the layer pipelines run them: lane 0 an HMAC, the
// others plain SHA-256, each over its own 4 MiB message fed in 1 MiB
// update() calls. Bytes processed count every lane, so the row reads as
// hashing throughput per core; compare with BM_Sha256Stream/1048576 (one
// OpenSSL stream).
void BM_Sha256Lanes(benchmark::State& state, k::Sha256Path path, size_t num_lanes) {
  if (!k::sha256_path_supported(path))
    return state.SkipWithError(
        (std::string("path unsupported: ") + k::sha256_path_name(path)).c_str());
  constexpr size_t kPerLane = size_t{4} << 20;
  k::Sha256Lanes lanes(path);
  if (!lanes.add_hmac(kKey, sizeof(kKey))) return state.SkipWithError("add_hmac failed");
  for (size_t i = 1; i < num_lanes; ++i)
    if (!lanes.add_sha256()) return state.SkipWithError("add_sha256 failed");
  const uint8_t* data[k::kSha256MaxLanes];
  size_t lens[k::kSha256MaxLanes];
  uint8_t out[k::kSha256LanesOutLen];
  for (auto _ : state) {
    lanes.reset();
    for (size_t pos = 0; pos < kPerLane; pos += kChunk) {
      for (size_t i = 0; i < num_lanes; ++i) {
        data[i] = input().data() + i * kPerLane + pos;
        lens[i] = kChunk;
      }
      if (!lanes.update(data, lens)) return state.SkipWithError("update failed");
    }
    for (size_t i = 0; i < num_lanes; ++i) lanes.final(i, out, sizeof(out));
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPerLane * num_lanes));
}

const int kRegistered = [] {
  for (k::Sha256Path path : {k::Sha256Path::kShaNi, k::Sha256Path::kOpenSsl})
    for (size_t num_lanes : {1, 2, 3, 4})
      benchmark::RegisterBenchmark(("BM_Sha256Lanes/" + std::string(k::sha256_path_name(path)) +
                                    "/lanes:" + std::to_string(num_lanes))
                                       .c_str(),
                                   BM_Sha256Lanes, path, num_lanes);

  const k::ImbTier tiers[] = {k::ImbTier::kAuto, k::ImbTier::kSse, k::ImbTier::kAvx,
                              k::ImbTier::kAvx2, k::ImbTier::kAvx512};
  const size_t job_counts[] = {1, 2, 3, 4, 8, 16, 17, 64};
  // 0 = mixed sizes 1..65534.
  const size_t lens[] = {16384, k::kImbHmacSha256MaxJobLen, 0};
  for (size_t len : lens) {
    const std::string len_name = len == 0 ? "mixed" : std::to_string(len);
    for (size_t jobs : job_counts) {
      for (k::ImbTier tier : tiers) {
        benchmark::RegisterBenchmark(("BM_HmacMany/" + std::string(k::imb_tier_name(tier)) +
                                      "/jobs:" + std::to_string(jobs) + "/len:" + len_name)
                                         .c_str(),
                                     BM_HmacMany, tier, jobs, len);
      }
      benchmark::RegisterBenchmark(
          ("BM_HmacManyOpenSslLoop/jobs:" + std::to_string(jobs) + "/len:" + len_name).c_str(),
          BM_HmacManyOpenSslLoop, jobs, len);
    }
  }
  return 0;
}();

}  // namespace
