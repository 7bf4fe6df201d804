// engine/stream/selfcheck.cc: fixed known answers for every kernel.
//
// The vectors are published ones (NIST SP 800-38A, the GCM specification's
// test case 16, FIPS 180-2, RFC 4231) and ocicrypt's own (a nonce that wraps
// the 128-bit counter, made by Go ocicrypt 1.0.3). The test suite checks far
// more; this is the quick check a user or an operator runs on a machine.
#include "engine/stream/selfcheck.h"

#include <cstring>
#include <string>
#include <vector>

#include "engine/core/io.h"
#include "engine/stream/layer_cipher.h"
#include "kernels/aes_ctr.h"
#include "kernels/aes_gcm.h"
#include "kernels/cpu.h"
#include "kernels/crc32.h"
#include "kernels/deflate.h"
#include "kernels/hmac_sha256.h"
#include "kernels/hmac_sha256_mb.h"
#include "kernels/inflate.h"
#include "kernels/sha256.h"

namespace layercrypt {
namespace {

std::vector<uint8_t> unhex(const char* s) {
  std::vector<uint8_t> out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; s[i] && s[i + 1]; i += 2)
    out.push_back(static_cast<uint8_t>(nib(s[i]) << 4 | nib(s[i + 1])));
  return out;
}

bool same(const uint8_t* a, const std::vector<uint8_t>& b) {
  return std::memcmp(a, b.data(), b.size()) == 0;
}

SelfCheckResult check_ctr_nist() {
  // NIST SP 800-38A F.5.5, CTR-AES256.Encrypt, blocks 1-2.
  const auto key = unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  const auto iv = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  const auto pt = unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
  const auto ct = unhex("601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5");
  kernels::AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size());
  std::vector<uint8_t> out(pt.size());
  // Two calls, the second at an unaligned offset: the seek path too.
  const bool ok = ctr.ok() && ctr.xor_at(0, pt.data(), out.data(), 7) &&
                  ctr.xor_at(7, pt.data() + 7, out.data() + 7, pt.size() - 7) &&
                  same(out.data(), ct);
  return {"AES-256-CTR (NIST SP 800-38A F.5.5)", ok, std::string("ipsec-mb ") + ctr.arch_name()};
}

SelfCheckResult check_ocicrypt_wrap() {
  // ocicrypt vector: nonce ff..fe wraps the 128-bit counter after 2 blocks.
  LayerKey key;
  const auto k = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const auto n = unhex("fffffffffffffffffffffffffffffffe");
  key.symkey.assign(k.begin(), k.end());
  key.nonce.assign(n.begin(), n.end());
  const auto pt =
      unhex("4142434445464748494a4b4c4d4e4f505152535455565758595a4142434445464748494a4b4c4d4e");
  const auto ct =
      unhex("22a7f746f0580f95b3a7b292d4826814b8cbb74919f127820add50391ecb12a8b5d849fc6105d29e");
  const auto mac = unhex("5089c617e3d20df51588f15edf24455828f09605759f949c621255f630650f3f");
  MemorySource src(pt.data(), pt.size());
  VectorSink sink;
  auto r = encrypt_layer(src, sink, key, {});
  const bool ok = r.ok() && sink.out == ct && same(r->hmac.data(), mac);
  return {"AES_256_CTR_HMAC_SHA256 (ocicrypt, 2^128 wrap)", ok,
          r.ok() ? "engine pipeline" : r.status().message()};
}

SelfCheckResult check_gcm() {
  // The GCM specification (McGrew & Viega), test case 16: AES-256, AAD.
  const auto key = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = unhex("cafebabefacedbaddecaf888");
  const auto aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const auto pt = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e"
      "2449a6b525b16aedf5aa0de657ba637b39");
  const auto ct = unhex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b"
      "1056828838c5f61e6393ba7a0abcc9f662");
  const auto tag = unhex("76fc6ece0f4e1768cddf8853bb2d551b");
  kernels::AesGcmKey gcm(key.data(), key.size());
  std::vector<uint8_t> out(pt.size()), back(pt.size());
  uint8_t t[16];
  bool ok =
      gcm.ok() &&
      gcm.seal(iv.data(), iv.size(), aad.data(), aad.size(), pt.data(), pt.size(), out.data(), t) &&
      same(out.data(), ct) && same(t, tag) &&
      gcm.open(iv.data(), iv.size(), aad.data(), aad.size(), ct.data(), ct.size(), tag.data(),
               tag.size(), back.data()) &&
      back == pt;
  // A forged tag must be refused.
  uint8_t bad[16];
  std::memcpy(bad, tag.data(), 16);
  bad[0] ^= 1;
  ok = ok && !gcm.open(iv.data(), iv.size(), aad.data(), aad.size(), ct.data(), ct.size(), bad,
                       sizeof bad, back.data());
  return {"AES-256-GCM (GCM spec test case 16)", ok, std::string("ipsec-mb ") + gcm.arch_name()};
}

SelfCheckResult check_sha256() {
  // FIPS 180-2 appendix B.1: SHA-256("abc").
  const auto want = unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  uint8_t d[32];
  const bool ok =
      kernels::sha256(reinterpret_cast<const uint8_t*>("abc"), 3, d, sizeof d) && same(d, want);
  return {"SHA-256 (FIPS 180-2 B.1)", ok, "OpenSSL EVP"};
}

SelfCheckResult check_hmac() {
  // RFC 4231 test case 2.
  const std::string key = "Jefe", msg = "what do ya want for nothing?";
  const auto want = unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  kernels::HmacSha256 mac;
  uint8_t tag[32];
  const bool ok = mac.init(reinterpret_cast<const uint8_t*>(key.data()), key.size()) &&
                  mac.update(reinterpret_cast<const uint8_t*>(msg.data()), 5) &&
                  mac.update(reinterpret_cast<const uint8_t*>(msg.data()) + 5, msg.size() - 5) &&
                  mac.final(tag, sizeof tag) && same(tag, want);
  return {"HMAC-SHA256 streaming (RFC 4231 case 2)", ok, "OpenSSL EVP_MAC"};
}

SelfCheckResult check_hmac_many() {
  // Multi-buffer lanes against the streaming HMAC on 16 messages of mixed
  // lengths (two independent implementations must agree).
  std::vector<uint8_t> data(70000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
  const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                           17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  const size_t lens[16] = {0,    1,     55,    56,    63,    64,    65,  1000,
                           4096, 16384, 65533, 65534, 65535, 70000, 333, 12345};
  const uint8_t* msgs[16];
  for (auto& m : msgs) m = data.data();
  uint8_t tags[16][32];
  const kernels::ImbTier tier = kernels::hmac_sha256_many_tier(kernels::ImbTier::kAuto);
  bool ok = kernels::hmac_sha256_many(key, sizeof key, msgs, lens, 16, tags);
  for (size_t i = 0; ok && i < 16; ++i) {
    uint8_t want[32];
    ok = kernels::hmac_sha256(key, sizeof key, data.data(), lens[i], want, sizeof want) &&
         std::memcmp(want, tags[i], 32) == 0;
  }
  return {"HMAC-SHA256 multi-buffer (16 lanes vs streaming)", ok,
          std::string("ipsec-mb ") + kernels::imb_manager_arch_name(kernels::imb_manager(tier)) +
              " manager"};
}

SelfCheckResult check_crc32() {
  // The CRC-32 check value of "123456789".
  const uint8_t* s = reinterpret_cast<const uint8_t*>("123456789");
  const uint32_t a = kernels::crc32_gzip(0, s, 4), b = kernels::crc32_gzip(0, s + 4, 5);
  const bool ok =
      kernels::crc32_gzip(0, s, 9) == 0xcbf43926u && kernels::crc32_combine(a, b, 5) == 0xcbf43926u;
  return {"CRC-32 (check value, combine)", ok, "ISA-L crc32_gzip_refl"};
}

SelfCheckResult check_gzip() {
  // Two chunks through the chunked deflater, joined into one member, then
  // inflated by the streaming inflater: the round trip must be exact.
  std::vector<uint8_t> text;
  const std::string line = "layercrypt self-check: the quick brown fox jumps over the lazy dog\n";
  while (text.size() < 200000) text.insert(text.end(), line.begin(), line.end());
  for (size_t i = 0; i < text.size(); i += 97) text[i] = static_cast<uint8_t>(i);
  const size_t half = text.size() / 2;
  kernels::DeflateChunker chunker;
  std::vector<uint8_t> gz(kernels::kGzipHeaderSize);
  kernels::gzip_write_header(gz.data());
  uint32_t crc = 0;
  bool ok = true;
  for (int part = 0; part < 2 && ok; ++part) {
    const uint8_t* in = text.data() + (part ? half : 0);
    const size_t in_len = part ? text.size() - half : half;
    std::vector<uint8_t> out(kernels::deflate_chunk_bound(in_len));
    size_t written = 0;
    uint32_t c = 0;
    ok = chunker.compress(1, in, in_len, part == 1, out.data(), out.size(), &written, &c) ==
         kernels::DeflateResult::kOk;
    crc = part ? kernels::crc32_combine(crc, c, in_len) : c;
    gz.insert(gz.end(), out.begin(), out.begin() + static_cast<ptrdiff_t>(written));
  }
  gz.resize(gz.size() + kernels::kGzipTrailerSize);
  kernels::gzip_write_trailer(crc, text.size(), gz.data() + gz.size() - kernels::kGzipTrailerSize);

  kernels::GzipInflater inflater;
  std::vector<uint8_t> back(text.size() + 16);
  size_t used = 0, produced = 0;
  ok = ok &&
       inflater.update(gz.data(), gz.size(), &used, back.data(), back.size(), &produced) ==
           kernels::InflateResult::kNeedInput &&
       inflater.finish() == kernels::InflateResult::kOk && produced == text.size() &&
       std::memcmp(back.data(), text.data(), text.size()) == 0;
  // A corrupted trailer must be caught.
  gz[gz.size() - 8] ^= 1;
  kernels::GzipInflater strict;
  const auto r = strict.update(gz.data(), gz.size(), &used, back.data(), back.size(), &produced);
  ok = ok && r == kernels::InflateResult::kBadCrc;
  return {"gzip deflate (chunked) + inflate round trip", ok, "ISA-L level 1"};
}

}  // namespace

std::vector<SelfCheckResult> run_self_check() {
  return {check_ctr_nist(), check_ocicrypt_wrap(), check_gcm(),   check_sha256(),
          check_hmac(),     check_hmac_many(),     check_crc32(), check_gzip()};
}

}  // namespace layercrypt
