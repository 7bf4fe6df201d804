// tests/fuzz/c_api_decrypt_fuzz.cc: lc_decrypt_layer, the C API's decrypt
// entry point, with hostile descriptors and blobs.
//
// Property: for any bytes, lc_decrypt_layer never crashes, trips a
// sanitizer or leaks; it returns a defined lc_status with a one-line
// message on failure; and with the default (verify-first) release it
// writes nothing unless it returns LC_OK. A layer that decrypts is exactly
// the bytes written. The keys are the Go-made vectors' RSA-2048 and P-256
// private keys and the pkcs7 key and certificate.
//
// Input: byte 0 selects the flags (bit 0 LC_DECRYPT_STREAM, bit 1
// LC_DECRYPT_DECOMPRESS); then the descriptor JSON up to the first NUL;
// the rest is the blob. The corpus holds Go-made layers with their
// descriptors (gzip, tar, zstd; jwe and pkcs7), a truncated blob, a
// flipped bit and descriptors with bad base64 and missing annotations.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bindings/c/layercrypt.h"

namespace {

lc_decrypt_config* keys() {
  static lc_decrypt_config* config = [] {
    lc_decrypt_config* c = lc_decrypt_config_new();
    const std::string dir = std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/ocicrypt/keys/";
    for (const char* f : {"rsa2048.pem", "ecp256.pem", "pkcs7.key.pem", "pkcs7.cert.pem"})
      if (lc_decrypt_config_add_key_file(c, (dir + f).c_str(), nullptr) != LC_OK) std::abort();
    return c;
  }();
  return config;
}

struct In {
  const uint8_t* p;
  size_t n;
  static int64_t read(void* ctx, uint8_t* buf, size_t cap) {
    auto* in = static_cast<In*>(ctx);
    const size_t k = in->n < cap ? in->n : cap;
    std::memcpy(buf, in->p, k);
    in->p += k;
    in->n -= k;
    return static_cast<int64_t>(k);
  }
};

struct Out {
  size_t bytes = 0;
  static int write(void* ctx, const uint8_t*, size_t len) {
    static_cast<Out*>(ctx)->bytes += len;
    return 0;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned flags = data[0] & 3u;
  const uint8_t* rest = data + 1;
  const size_t rest_len = size - 1;
  const void* nul = std::memchr(rest, 0, rest_len);
  const size_t desc_len =
      nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - rest) : rest_len;
  const std::string desc(reinterpret_cast<const char*>(rest), desc_len);
  In in{rest + desc_len + (nul ? 1 : 0), rest_len - desc_len - (nul ? 1 : 0)};
  Out out;
  lc_layer* layer = nullptr;
  const lc_status st = lc_decrypt_layer(keys(), desc.c_str(), lc_reader{&in, &In::read},
                                        lc_writer{&out, &Out::write}, flags, &layer);
  if (st < LC_OK || st > LC_ERR_INTERNAL) std::abort();
  if (st == LC_OK) {
    if (layer == nullptr) std::abort();
    if ((flags & LC_DECRYPT_DECOMPRESS) == 0 && lc_layer_size(layer) != out.bytes) std::abort();
  } else {
    const char* m = lc_last_error();
    if (layer != nullptr || m[0] == '\0' || std::strchr(m, '\n') != nullptr) std::abort();
    if (flags == 0 && out.bytes != 0) std::abort();  // verify-first released nothing
  }
  lc_layer_free(layer);
  return 0;
}
