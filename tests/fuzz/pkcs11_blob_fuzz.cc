// tests/fuzz/pkcs11_blob_fuzz.cc: hostile `keys.pkcs11` blobs through the
// blob JSON reader and writer (engine/keywrap/pkcs11/pkcs11_blob.h).
//
// Property: for any bytes, parse_pkcs11_blob never crashes, trips a
// sanitizer or leaks, and either fails with a non-empty one-line message or
// returns at least one recipient with a non-empty ciphertext; what parses
// is written back by write_pkcs11_blob into JSON that parses to the same
// recipients (hashes as read, an empty hash written as sha1).
//
// Input: the bytes as the blob JSON. The corpus holds blobs as Go writes
// them (sha256, sha1, several recipients) and malformed variants.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "engine/keywrap/pkcs11/pkcs11_blob.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layercrypt;
  auto parsed = parse_pkcs11_blob(std::span<const uint8_t>(data, size));
  if (!parsed.ok()) {
    const std::string& m = parsed.status().message();
    if (m.empty() || m.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  if (parsed->empty()) std::abort();
  for (const auto& r : *parsed)
    if (r.ciphertext.empty()) std::abort();
  const auto again = parse_pkcs11_blob(write_pkcs11_blob(*parsed));
  if (!again.ok() || again->size() != parsed->size()) std::abort();
  for (size_t i = 0; i < parsed->size(); ++i)
    if ((*again)[i].ciphertext != (*parsed)[i].ciphertext || (*again)[i].hash != (*parsed)[i].hash)
      std::abort();
  return 0;
}
