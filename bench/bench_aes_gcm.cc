// bench/bench_aes_gcm.cc: AES-GCM seal throughput, ipsec-mb (kAuto and every
// explicit tier) through AesGcmKey::seal versus OpenSSL EVP_aes_*_gcm, for
// 128- and 256-bit keys (A256GCM is the main user), 12-byte IV, 16-byte AAD,
// 16-byte tag, one full message per iteration (init + data + tag).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/aes_gcm.h"
#include "kernels/cpu.h"
#include "tests/support/test_util.h"

namespace {

namespace k = layercrypt::kernels;
using layercrypt::testing::random_bytes;

constexpr int64_t kSizes[] = {16 << 10, 1 << 20, 16 << 20};

void BM_ipsecmb_gcm_seal(benchmark::State& state, k::ImbTier tier, size_t key_len) {
  if (!k::imb_tier_supported(tier)) {
    state.SkipWithError("ipsec-mb tier not supported on this CPU");
    return;
  }
  const size_t n = static_cast<size_t>(state.range(0));
  const auto key = random_bytes(key_len, 1), iv = random_bytes(12, 2), aad = random_bytes(16, 4);
  auto buf = random_bytes(n, 3);
  std::vector<uint8_t> tag(16);
  k::AesGcmKey gcm(key.data(), key.size(), tier);
  if (!gcm.ok()) {
    state.SkipWithError("AesGcmKey construction failed");
    return;
  }
  for (auto _ : state) {
    if (!gcm.seal(iv.data(), iv.size(), aad.data(), aad.size(), buf.data(), n, buf.data(),
                  tag.data())) {
      state.SkipWithError("seal failed");
      return;
    }
    benchmark::DoNotOptimize(buf.data());
    benchmark::DoNotOptimize(tag.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetLabel(gcm.arch_name());
}

void BM_ipsecmb_gcm_open(benchmark::State& state, k::ImbTier tier) {
  if (!k::imb_tier_supported(tier)) {
    state.SkipWithError("ipsec-mb tier not supported on this CPU");
    return;
  }
  const size_t n = static_cast<size_t>(state.range(0));
  const auto key = random_bytes(32, 1), iv = random_bytes(12, 2), aad = random_bytes(16, 4);
  const auto pt = random_bytes(n, 3);
  std::vector<uint8_t> ct(n), out(n), tag(16);
  k::AesGcmKey gcm(key.data(), key.size(), tier);
  if (!gcm.ok() || !gcm.seal(iv.data(), 12, aad.data(), 16, pt.data(), n, ct.data(), tag.data())) {
    state.SkipWithError("AesGcmKey setup failed");
    return;
  }
  for (auto _ : state) {
    if (!gcm.open(iv.data(), 12, aad.data(), 16, ct.data(), n, tag.data(), 16, out.data())) {
      state.SkipWithError("open failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetLabel(gcm.arch_name());
}

void BM_openssl_gcm_seal(benchmark::State& state, size_t key_len) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto key = random_bytes(key_len, 1), iv = random_bytes(12, 2), aad = random_bytes(16, 4);
  auto buf = random_bytes(n, 3);
  std::vector<uint8_t> tag(16);
  const EVP_CIPHER* cipher = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  // Key schedule once, outside the loop, like AesGcmKey.
  EVP_EncryptInit_ex(ctx, cipher, nullptr, key.data(), nullptr);
  int len = 0;
  for (auto _ : state) {
    bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv.data()) == 1 &&
              EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), 16) == 1 &&
              EVP_EncryptUpdate(ctx, buf.data(), &len, buf.data(), static_cast<int>(n)) == 1 &&
              EVP_EncryptFinal_ex(ctx, buf.data() + len, &len) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag.data()) == 1;
    if (!ok) {
      state.SkipWithError("EVP GCM failed");
      break;
    }
    benchmark::DoNotOptimize(buf.data());
    benchmark::DoNotOptimize(tag.data());
    benchmark::ClobberMemory();
  }
  EVP_CIPHER_CTX_free(ctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetLabel("openssl-evp");
}

const bool registered = [] {
  const k::ImbTier tiers[] = {k::ImbTier::kAuto, k::ImbTier::kSse, k::ImbTier::kAvx,
                              k::ImbTier::kAvx2, k::ImbTier::kAvx512};
  for (size_t key_len : {size_t{32}, size_t{16}}) {
    const std::string alg = key_len == 32 ? "aes256_gcm" : "aes128_gcm";
    for (k::ImbTier t : tiers) {
      auto* b = benchmark::RegisterBenchmark(
          (alg + "_seal/ipsec-mb/" + k::imb_tier_name(t)).c_str(), BM_ipsecmb_gcm_seal, t, key_len);
      for (int64_t s : kSizes) b->Arg(s);
    }
    auto* b =
        benchmark::RegisterBenchmark((alg + "_seal/openssl").c_str(), BM_openssl_gcm_seal, key_len);
    for (int64_t s : kSizes) b->Arg(s);
  }
  for (k::ImbTier t : tiers) {
    auto* b = benchmark::RegisterBenchmark(
        (std::string("aes256_gcm_open/ipsec-mb/") + k::imb_tier_name(t)).c_str(),
        BM_ipsecmb_gcm_open, t);
    for (int64_t s : kSizes) b->Arg(s);
  }
  return true;
}();

}  // namespace
