// tests/fuzz/sha256_mb_fuzz.cc: the multi-lane SHA-256 / HMAC-SHA256 kernel
// (kernels/sha256_mb.h) under any sequence of lanes, keys, pieces and resets.
//
// Property: on every path this CPU runs, each lane's final() equals
// OpenSSL's one-shot SHA256() or HMAC() of exactly the bytes that lane was
// fed since the last reset, however they were split and whatever the other
// lanes were fed; and no call crashes or reads outside its pieces.
//
// Input: byte 0 picks the number of lanes (1..8). Then per lane one byte:
// bit 0 set makes it an HMAC lane whose key is the next (byte >> 1) % 100
// input bytes. The rest is a list of operations, one byte each plus its
// arguments: op % 8 == 0 resets every lane; op % 8 == 1 feeds all lanes the
// same piece (2 bytes: length, 2 bytes: offset into a fixed pseudo-random
// pool); otherwise every lane gets its own piece (the same 4 bytes each).
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/sha256_mb.h"

namespace {

namespace k = layercrypt::kernels;

constexpr size_t kPoolLen = size_t{1} << 16;

const std::vector<uint8_t>& pool() {
  static const std::vector<uint8_t> p = [] {
    std::mt19937 rng(20);
    std::vector<uint8_t> v(kPoolLen);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
  }();
  return p;
}

struct Reader {
  const uint8_t* p;
  size_t n;
  bool take(size_t len, const uint8_t** out) {
    if (n < len) return false;
    *out = p;
    p += len;
    n -= len;
    return true;
  }
  bool u8(uint8_t* v) {
    const uint8_t* b;
    if (!take(1, &b)) return false;
    *v = *b;
    return true;
  }
  bool u16(size_t* v) {
    const uint8_t* b;
    if (!take(2, &b)) return false;
    *v = size_t{b[0]} | size_t{b[1]} << 8;
    return true;
  }
};

struct LaneRef {
  bool hmac = false;
  std::vector<uint8_t> key;
  std::vector<uint8_t> fed;
};

void check(const LaneRef& ref, const uint8_t* got) {
  static const uint8_t kEmpty = 0;
  uint8_t want[32];
  const uint8_t* msg = ref.fed.empty() ? &kEmpty : ref.fed.data();
  if (ref.hmac) {
    unsigned len = 0;
    if (HMAC(EVP_sha256(), ref.key.empty() ? &kEmpty : ref.key.data(),
             static_cast<int>(ref.key.size()), msg, ref.fed.size(), want, &len) == nullptr)
      abort();
  } else {
    SHA256(msg, ref.fed.size(), want);
  }
  if (std::memcmp(want, got, 32) != 0) abort();
}

void run(k::Sha256Path path, const uint8_t* data, size_t size) {
  Reader in{data, size};
  uint8_t b = 0;
  if (!in.u8(&b)) return;
  const size_t num = 1 + b % k::kSha256MaxLanes;
  k::Sha256Lanes lanes(path);
  std::vector<LaneRef> refs(num);
  for (auto& ref : refs) {
    if (!in.u8(&b)) return;
    ref.hmac = (b & 1) != 0;
    if (ref.hmac) {
      const uint8_t* key = nullptr;
      const size_t key_len = (b >> 1) % 100;
      if (!in.take(key_len, &key)) return;
      ref.key.assign(key, key + key_len);
      if (!lanes.add_hmac(key, key_len)) abort();
    } else if (!lanes.add_sha256()) {
      abort();
    }
  }
  std::vector<const uint8_t*> pieces(num);
  std::vector<size_t> lens(num);
  uint8_t op = 0;
  while (in.u8(&op)) {
    if (op % 8 == 0) {
      if (!lanes.reset()) abort();
      for (auto& ref : refs) ref.fed.clear();
      continue;
    }
    const size_t lanes_given = op % 8 == 1 ? 1 : num;
    for (size_t i = 0; i < lanes_given; ++i) {
      size_t len = 0, off = 0;
      if (!in.u16(&len) || !in.u16(&off)) return;
      len %= 5000;
      off %= kPoolLen - len + 1;
      pieces[i] = pool().data() + off;
      lens[i] = len;
    }
    if (op % 8 == 1) {
      if (!lanes.update_all(pieces[0], lens[0])) abort();
      for (auto& ref : refs) ref.fed.insert(ref.fed.end(), pieces[0], pieces[0] + lens[0]);
    } else {
      if (!lanes.update(pieces.data(), lens.data())) abort();
      for (size_t i = 0; i < num; ++i)
        refs[i].fed.insert(refs[i].fed.end(), pieces[i], pieces[i] + lens[i]);
    }
  }
  for (size_t i = 0; i < num; ++i) {
    uint8_t got[k::kSha256LanesOutLen];
    if (!lanes.final(i, got, sizeof got)) abort();
    check(refs[i], got);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (k::Sha256Path path : k::sha256_supported_paths()) run(path, data, size);
  return 0;
}
