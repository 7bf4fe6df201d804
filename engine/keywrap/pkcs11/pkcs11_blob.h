// engine/keywrap/pkcs11/pkcs11_blob.h: the `pkcs11` scheme's wrapped-key
// blob (ocicrypt's Pkcs11Blob, spec §B.2), the JSON
//
//   {"version":0,"recipients":[{"version":0,"blob":"<b64>","hash":"sha256"}, ...]}
//
// where each blob is the RSA-OAEP encryption (empty label, MGF1 with the
// same hash) of the private-options JSON for one recipient, standard base64.
// The writer emits exactly what Go's json.Marshal does (member order, `hash`
// always written). The reader follows Go where interop needs it (member
// names matched as Go matches them, unknown members ignored, an empty or
// null `hash` meaning sha1 as older writers left it out) and is stricter
// elsewhere: wrong JSON types, a `version` other than 0 (the blob's or a
// recipient's), a hash other than sha1/sha256, and a recipient whose blob is
// empty or not base64 make the whole blob malformed (Go skips such a
// recipient). Errors are one line and never quote the input.
//
// Thread-safety: pure functions.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_BLOB_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_BLOB_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/core/status.h"

namespace layercrypt {

// OaepHash is an OAEP hash of the pkcs11 scheme (also its MGF1 hash).
enum class OaepHash { kSha1, kSha256 };

// oaep_hash_name returns "sha1" or "sha256".
const char* oaep_hash_name(OaepHash hash);

// oaep_hash_from_env returns the hash OCICRYPT_OAEP_HASHALG selects, as Go
// reads it: unset, "" or "sha256" is SHA-256, "sha1" is SHA-1; anything
// else is kInvalidArgument "unsupported OAEP hash ...".
StatusOr<OaepHash> oaep_hash_from_env();

// Pkcs11BlobRecipient is one recipient of a blob.
struct Pkcs11BlobRecipient {
  std::vector<uint8_t> ciphertext;  // the RSA-OAEP ciphertext
  OaepHash hash = OaepHash::kSha256;
  bool hash_written = true;  // false when `hash` was empty or absent (read as sha1)
};

// parse_pkcs11_blob reads a blob (the JSON, already base64-decoded from the
// annotation). Returns its recipients (at least one), or kDataError for
// malformed JSON or members, kUnsupported for a version other than 0 or an
// unknown hash.
StatusOr<std::vector<Pkcs11BlobRecipient>> parse_pkcs11_blob(std::span<const uint8_t> json);

// write_pkcs11_blob returns the JSON for `recipients`, byte for byte as Go
// writes it. Never fails.
std::vector<uint8_t> write_pkcs11_blob(const std::vector<Pkcs11BlobRecipient>& recipients);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_BLOB_H_
