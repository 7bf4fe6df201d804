// tests/install/consumer/main.cc: encrypts a small layer with the installed
// engine, decrypts it with verify-before-release, and checks the bytes.
// Exits 0 and prints "consumer ok" when all of that holds.
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/core/io.h"
#include "engine/core/version.h"
#include "engine/stream/layer_cipher.h"

int main() {
  std::vector<uint8_t> layer(300000);
  for (size_t i = 0; i < layer.size(); ++i) layer[i] = static_cast<uint8_t>(i * 131 + 7);
  auto key = layercrypt::new_layer_key();
  if (!key.ok()) return 1;
  layercrypt::MemorySource in(layer.data(), layer.size());
  layercrypt::VectorSink enc;
  auto res = layercrypt::encrypt_layer(in, enc, *key, {});
  if (!res.ok()) {
    std::fprintf(stderr, "encrypt: %s\n", res.status().message().c_str());
    return 1;
  }
  layercrypt::MemorySource cin(enc.out.data(), enc.out.size());
  layercrypt::VectorSink dec;
  auto back = layercrypt::decrypt_layer(cin, dec, *key, res->hmac, {});
  if (!back.ok() || dec.out != layer) {
    std::fprintf(stderr, "decrypt failed\n");
    return 1;
  }
  std::printf("consumer ok: layercrypt %s, %zu bytes\n", layercrypt::version_string(),
              layer.size());
  return 0;
}
