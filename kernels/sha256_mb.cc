// kernels/sha256_mb.cc: multi-lane SHA-256 with interleaved SHA-NI (up to
// four lanes per pass), and the OpenSSL-per-lane fallback.
#include "kernels/sha256_mb.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <utility>

#include "kernels/hmac_sha256.h"
#include "kernels/secure_memory.h"
#include "kernels/sha256.h"

namespace layercrypt::kernels {
namespace {

constexpr size_t kBlock = 64;
// The most lanes whose rounds are interleaved in one pass.
constexpr size_t kMaxInterleave = 4;

constexpr uint32_t kIv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

alignas(16) constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

bool cpu_has_sha_ni() {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
    const bool sse41 = (c & (1u << 19)) != 0;  // SSE4.1 (implies SSSE3)
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
    return sse41 && (b & (1u << 29)) != 0;  // SHA
  }();
  return has;
}

// ni_blocks compresses `n` consecutive 64-byte blocks into each of L
// states, the L lanes' rounds interleaved so that their SHA256RNDS2 chains
// overlap. State words are h[0..7] (a..h), as FIPS 180-4 numbers them.
template <int L>
__attribute__((target("sha,sse4.1"))) void ni_blocks(uint32_t* const* h, const uint8_t* const* p,
                                                     size_t n) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i abef[L], cdgh[L];
  for (int l = 0; l < L; ++l) {
    const __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<__m128i*>(h[l])), 0xB1);
    const __m128i efgh =
        _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<__m128i*>(h[l] + 4)), 0x1B);
    abef[l] = _mm_alignr_epi8(dcba, efgh, 8);
    cdgh[l] = _mm_blend_epi16(efgh, dcba, 0xF0);
  }
  for (size_t b = 0; b < n; ++b) {
    __m128i w[L][4], save_abef[L], save_cdgh[L];
    for (int l = 0; l < L; ++l) {
      save_abef[l] = abef[l];
      save_cdgh[l] = cdgh[l];
    }
#pragma GCC unroll 16
    for (int q = 0; q < 16; ++q) {
      const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kK + 4 * q));
      for (int l = 0; l < L; ++l) {
        __m128i& wq = w[l][q & 3];
        if (q < 4) {
          wq = _mm_shuffle_epi8(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[l] + b * kBlock + 16 * q)), bswap);
        } else {
          // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time.
          const __m128i w1 = w[l][(q + 3) & 3], w2 = w[l][(q + 2) & 3];
          wq = _mm_sha256msg1_epu32(wq, w[l][(q + 1) & 3]);
          wq = _mm_sha256msg2_epu32(_mm_add_epi32(wq, _mm_alignr_epi8(w1, w2, 4)), w1);
        }
        const __m128i m = _mm_add_epi32(wq, k);
        cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], m);
        abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], _mm_shuffle_epi32(m, 0x0E));
      }
    }
    for (int l = 0; l < L; ++l) {
      abef[l] = _mm_add_epi32(abef[l], save_abef[l]);
      cdgh[l] = _mm_add_epi32(cdgh[l], save_cdgh[l]);
    }
  }
  for (int l = 0; l < L; ++l) {
    const __m128i feba = _mm_shuffle_epi32(abef[l], 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(cdgh[l], 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h[l]), _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h[l] + 4), _mm_alignr_epi8(dchg, feba, 8));
  }
}

using NiBlocksFn = void (*)(uint32_t* const*, const uint8_t* const*, size_t);
constexpr NiBlocksFn kNiBlocks[kMaxInterleave] = {ni_blocks<1>, ni_blocks<2>, ni_blocks<3>,
                                                  ni_blocks<4>};

void ni_one(uint32_t* h, const uint8_t* p, size_t n) { ni_blocks<1>(&h, &p, n); }

void store_be32(uint8_t* out, uint32_t v) {
  out[0] = static_cast<uint8_t>(v >> 24);
  out[1] = static_cast<uint8_t>(v >> 16);
  out[2] = static_cast<uint8_t>(v >> 8);
  out[3] = static_cast<uint8_t>(v);
}

// One SHA-NI lane: running state, buffered tail, message length so far (an
// HMAC lane counts its ipad block), and for HMAC the two keyed states.
struct Lane {
  uint32_t h[8];
  uint32_t ipad[8];
  uint32_t opad[8];
  uint8_t buf[kBlock];
  size_t buf_len;
  uint64_t total;
  bool hmac;
  bool finished;

  void restart() {
    std::memcpy(h, hmac ? ipad : kIv, sizeof h);
    buf_len = 0;
    total = hmac ? kBlock : 0;
    finished = false;
  }

  // finish pads the message and leaves its digest in h.
  void finish() {
    buf[buf_len++] = 0x80;
    if (buf_len > kBlock - 8) {
      std::memset(buf + buf_len, 0, kBlock - buf_len);
      ni_one(h, buf, 1);
      buf_len = 0;
    }
    std::memset(buf + buf_len, 0, kBlock - 8 - buf_len);
    const uint64_t bits = total * 8;
    store_be32(buf + kBlock - 8, static_cast<uint32_t>(bits >> 32));
    store_be32(buf + kBlock - 4, static_cast<uint32_t>(bits));
    ni_one(h, buf, 1);
    buf_len = 0;
  }
};

}  // namespace

const char* sha256_path_name(Sha256Path path) {
  switch (path) {
    case Sha256Path::kAuto:
      return "auto";
    case Sha256Path::kShaNi:
      return "sha-ni";
    case Sha256Path::kOpenSsl:
      return "openssl";
  }
  return "unknown";
}

bool sha256_path_supported(Sha256Path path) {
  return path != Sha256Path::kShaNi || cpu_has_sha_ni();
}

std::vector<Sha256Path> sha256_supported_paths() {
  std::vector<Sha256Path> paths;
  if (cpu_has_sha_ni()) paths.push_back(Sha256Path::kShaNi);
  paths.push_back(Sha256Path::kOpenSsl);
  return paths;
}

Sha256Path sha256_resolve_path(Sha256Path path) {
  if (path != Sha256Path::kAuto) return path;
  return cpu_has_sha_ni() ? Sha256Path::kShaNi : Sha256Path::kOpenSsl;
}

struct Sha256Lanes::State {
  Lane lanes[kSha256MaxLanes];
  // kOpenSsl: one context per lane, either kind.
  std::optional<Sha256> sha[kSha256MaxLanes];
  std::optional<HmacSha256> mac[kSha256MaxLanes];
  bool openssl_finished[kSha256MaxLanes] = {};
  size_t n = 0;
  bool fed = false;

  ~State() { secure_wipe(lanes, sizeof lanes); }
};

Sha256Lanes::Sha256Lanes(Sha256Path path) : path_(sha256_resolve_path(path)) {
  if (!sha256_path_supported(path_)) return;
  s_.reset(new (std::nothrow) State());
}

Sha256Lanes::~Sha256Lanes() = default;
Sha256Lanes::Sha256Lanes(Sha256Lanes&& other) noexcept = default;
Sha256Lanes& Sha256Lanes::operator=(Sha256Lanes&& other) noexcept = default;

size_t Sha256Lanes::num_lanes() const { return s_ ? s_->n : 0; }

bool Sha256Lanes::add_sha256() {
  if (!s_ || s_->n == kSha256MaxLanes || s_->fed) return false;
  const size_t i = s_->n;
  if (path_ == Sha256Path::kOpenSsl) {
    s_->sha[i].emplace();
    if (!s_->sha[i]->ok()) {
      s_->sha[i].reset();
      return false;
    }
    s_->openssl_finished[i] = false;
  } else {
    s_->lanes[i].hmac = false;
    s_->lanes[i].restart();
  }
  s_->n = i + 1;
  return true;
}

bool Sha256Lanes::add_hmac(const uint8_t* key, size_t key_len) {
  if (!s_ || s_->n == kSha256MaxLanes || s_->fed || (key == nullptr && key_len != 0)) return false;
  const size_t i = s_->n;
  if (path_ == Sha256Path::kOpenSsl) {
    s_->mac[i].emplace();
    if (!s_->mac[i]->init(key, key_len)) {
      s_->mac[i].reset();
      return false;
    }
    s_->openssl_finished[i] = false;
    s_->n = i + 1;
    return true;
  }
  // RFC 2104: K0 is the key, or its digest if longer than a block, padded
  // with zeros; the lane starts from SHA-256's state after K0^ipad and
  // finishes from the state after K0^opad.
  uint8_t k0[kBlock] = {}, block[kBlock];
  ScopedWipe wipe_k0(k0, sizeof k0), wipe_block(block, sizeof block);
  if (key_len > kBlock) {
    if (!sha256(key, key_len, k0, sizeof k0)) return false;
  } else if (key_len != 0) {
    std::memcpy(k0, key, key_len);
  }
  Lane& lane = s_->lanes[i];
  for (size_t j = 0; j < kBlock; ++j) block[j] = k0[j] ^ 0x36;
  std::memcpy(lane.ipad, kIv, sizeof lane.ipad);
  ni_one(lane.ipad, block, 1);
  for (size_t j = 0; j < kBlock; ++j) block[j] = k0[j] ^ 0x5c;
  std::memcpy(lane.opad, kIv, sizeof lane.opad);
  ni_one(lane.opad, block, 1);
  lane.hmac = true;
  lane.restart();
  s_->n = i + 1;
  return true;
}

bool Sha256Lanes::update(const uint8_t* const* data, const size_t* lens) {
  if (!s_) return false;
  const size_t n = s_->n;
  if (n != 0 && (data == nullptr || lens == nullptr)) return false;
  for (size_t i = 0; i < n; ++i) {
    if (lens[i] == 0) continue;
    const bool finished =
        path_ == Sha256Path::kOpenSsl ? s_->openssl_finished[i] : s_->lanes[i].finished;
    if (data[i] == nullptr || finished) return false;
  }
  s_->fed = true;

  if (path_ == Sha256Path::kOpenSsl) {
    for (size_t i = 0; i < n; ++i) {
      if (lens[i] == 0) continue;
      const bool ok =
          s_->sha[i] ? s_->sha[i]->update(data[i], lens[i]) : s_->mac[i]->update(data[i], lens[i]);
      if (!ok) return false;
    }
    return true;
  }

  // Top up the buffers, take each lane's whole blocks, keep the tails.
  const uint8_t* p[kSha256MaxLanes];
  size_t blocks[kSha256MaxLanes];
  for (size_t i = 0; i < n; ++i) {
    Lane& lane = s_->lanes[i];
    const uint8_t* in = data[i];
    size_t len = lens[i];
    lane.total += len;
    if (lane.buf_len != 0 && len != 0) {
      const size_t take = std::min(kBlock - lane.buf_len, len);
      std::memcpy(lane.buf + lane.buf_len, in, take);
      lane.buf_len += take;
      in += take;
      len -= take;
      if (lane.buf_len == kBlock) {
        ni_one(lane.h, lane.buf, 1);
        lane.buf_len = 0;
      }
    }
    p[i] = in;
    blocks[i] = len / kBlock;
    const size_t tail = len % kBlock;
    if (tail != 0) {
      std::memcpy(lane.buf, in + blocks[i] * kBlock, tail);
      lane.buf_len = tail;
    }
  }

  // Run the lanes with blocks left together, the busiest kMaxInterleave
  // first, for as many blocks as the least busy of them has; see the header.
  for (;;) {
    size_t group[kSha256MaxLanes];
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {  // insertion by blocks left, descending
      if (blocks[i] == 0) continue;
      size_t j = k++;
      for (; j > 0 && blocks[group[j - 1]] < blocks[i]; --j) group[j] = group[j - 1];
      group[j] = i;
    }
    k = std::min(k, kMaxInterleave);
    if (k == 0) break;
    const size_t step = blocks[group[k - 1]];
    uint32_t* h[kMaxInterleave];
    const uint8_t* in[kMaxInterleave];
    for (size_t j = 0; j < k; ++j) {
      h[j] = s_->lanes[group[j]].h;
      in[j] = p[group[j]];
      p[group[j]] += step * kBlock;
      blocks[group[j]] -= step;
    }
    kNiBlocks[k - 1](h, in, step);
  }
  return true;
}

bool Sha256Lanes::update_all(const uint8_t* data, size_t len) {
  if (!s_) return false;
  const uint8_t* d[kSha256MaxLanes];
  size_t l[kSha256MaxLanes];
  for (size_t i = 0; i < s_->n; ++i) {
    d[i] = data;
    l[i] = len;
  }
  return update(d, l);
}

bool Sha256Lanes::final(size_t lane, uint8_t* out, size_t out_len) {
  if (!s_ || lane >= s_->n || out == nullptr || out_len < kSha256LanesOutLen) return false;
  s_->fed = true;
  if (path_ == Sha256Path::kOpenSsl) {
    if (s_->openssl_finished[lane]) return false;
    const bool ok =
        s_->sha[lane] ? s_->sha[lane]->final(out, out_len) : s_->mac[lane]->final(out, out_len);
    if (ok) s_->openssl_finished[lane] = true;
    return ok;
  }
  Lane& l = s_->lanes[lane];
  if (l.finished) return false;
  l.finish();
  if (l.hmac) {
    // Outer hash: the opad state, then the inner digest as a 32-byte
    // message (64 + 32 bytes in all).
    for (int j = 0; j < 8; ++j) store_be32(l.buf + 4 * j, l.h[j]);
    std::memcpy(l.h, l.opad, sizeof l.h);
    l.buf_len = kSha256LanesOutLen;
    l.total = kBlock + kSha256LanesOutLen;
    l.finish();
  }
  for (int j = 0; j < 8; ++j) store_be32(out + 4 * j, l.h[j]);
  secure_wipe(l.h, sizeof l.h);
  secure_wipe(l.buf, sizeof l.buf);
  l.finished = true;
  return true;
}

bool Sha256Lanes::reset() {
  if (!s_) return false;
  for (size_t i = 0; i < s_->n; ++i) {
    if (path_ == Sha256Path::kOpenSsl) {
      if (!(s_->sha[i] ? s_->sha[i]->reset() : s_->mac[i]->reset())) return false;
      s_->openssl_finished[i] = false;
    } else {
      s_->lanes[i].restart();
    }
  }
  s_->fed = false;
  return true;
}

}  // namespace layercrypt::kernels
