// bench/bench_aes_ctr.cc: AES-256-CTR throughput, ipsec-mb (kAuto and every
// explicit tier) through AesCtr256::xor_at versus OpenSSL EVP_aes_256_ctr.
// Sizes are the engine's interesting points: 16 KiB (small layers, metadata),
// 1 MiB (the engine's chunk) and 16 MiB (streaming).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/aes_ctr.h"
#include "kernels/cpu.h"
#include "tests/support/test_util.h"

namespace {

namespace k = layercrypt::kernels;
using layercrypt::testing::random_bytes;

constexpr int64_t kSizes[] = {16 << 10, 1 << 20, 16 << 20};

void BM_ipsecmb_ctr(benchmark::State& state, k::ImbTier tier) {
  if (!k::imb_tier_supported(tier)) {
    state.SkipWithError("ipsec-mb tier not supported on this CPU");
    return;
  }
  const size_t n = static_cast<size_t>(state.range(0));
  const auto key = random_bytes(32, 1), iv = random_bytes(16, 2);
  auto buf = random_bytes(n, 3);
  k::AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size(), tier);
  if (!ctr.ok()) {
    state.SkipWithError("AesCtr256 construction failed");
    return;
  }
  uint64_t offset = 0;
  for (auto _ : state) {
    // In place, advancing through the keystream like the engine does.
    if (!ctr.xor_at(offset, buf.data(), buf.data(), n)) {
      state.SkipWithError("xor_at failed");
      return;
    }
    offset += n;
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetLabel(ctr.arch_name());
}

void BM_openssl_ctr(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto key = random_bytes(32, 1), iv = random_bytes(16, 2);
  auto buf = random_bytes(n, 3);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr, key.data(), iv.data()) != 1) {
    state.SkipWithError("EVP_EncryptInit_ex failed");
    EVP_CIPHER_CTX_free(ctx);
    return;
  }
  int out_len = 0;
  for (auto _ : state) {
    // A continuing stream (no re-init), the cheapest way to use EVP.
    if (EVP_EncryptUpdate(ctx, buf.data(), &out_len, buf.data(), static_cast<int>(n)) != 1) {
      state.SkipWithError("EVP_EncryptUpdate failed");
      break;
    }
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  EVP_CIPHER_CTX_free(ctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetLabel("openssl-evp");
}

const bool registered = [] {
  const k::ImbTier tiers[] = {k::ImbTier::kAuto, k::ImbTier::kSse, k::ImbTier::kAvx,
                              k::ImbTier::kAvx2, k::ImbTier::kAvx512};
  for (k::ImbTier t : tiers) {
    auto* b = benchmark::RegisterBenchmark(
        (std::string("aes256_ctr/ipsec-mb/") + k::imb_tier_name(t)).c_str(), BM_ipsecmb_ctr, t);
    for (int64_t s : kSizes) b->Arg(s);
  }
  auto* b = benchmark::RegisterBenchmark("aes256_ctr/openssl", BM_openssl_ctr);
  for (int64_t s : kSizes) b->Arg(s);
  return true;
}();

}  // namespace
