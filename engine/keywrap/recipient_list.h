// engine/keywrap/recipient_list.h: who the layer key of an encrypted layer is
// wrapped for, and taking recipients off a layer without re-encrypting it.
//
// A PKCS7 RecipientInfo names its certificate (issuer and serial), but a JWE
// recipient as Go ocicrypt writes it names nobody: no `kid`, and its
// encrypted_key cannot be matched to a public key (RSA-OAEP is randomised,
// ECDH-ES uses an ephemeral key). So that a JWE blob stays exactly what Go
// writes, layercrypt records who its JWE recipients are beside it, in the
// layer annotation `dev.layercrypt.recipients`: a JSON object from the
// base64url SHA-256 of each recipient's encrypted_key (which names that
// entry and nothing else) to "jwe:" + the RFC 7638 thumbprint of the
// recipient's public key. Go ignores the annotation. An entry matches only
// the exact encrypted_key it was made for, so a blob rewritten by another
// tool is never mislabelled: its recipients are just unnamed. Like every
// other annotation it is unauthenticated; it only names, it never grants.
//
// Recipient ids, as `layercrypt recipients list` prints them and `remove`
// takes them: "jwe:<thumbprint>", "jwe:kid=<kid>" (a JWE recipient with its
// own `kid`, e.g. from a JWK), "pkcs7:<issuer>/serial=<hex>".
//
// Thread-safety: all functions are reentrant.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_RECIPIENT_LIST_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_RECIPIENT_LIST_H_

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/recipients.h"
#include "engine/ocicrypt/annotations.h"

namespace layercrypt {

inline constexpr const char* kRecipientIdsAnnotation = "dev.layercrypt.recipients";

// LayerRecipient is one recipient of one layer.
struct LayerRecipient {
  std::string scheme;  // "jwe", "pkcs7", or another scheme's name ("pgp", "provider.x")
  size_t blob = 0;     // which comma-separated blob of the scheme's annotation
  size_t index = 0;    // position in that blob
  std::string alg;     // "RSA-OAEP", "ECDH-ES+A256KW", "rsaEncryption", "" if unknown
  std::string id;      // see the file comment; "" when nothing names it
};

// layer_recipients lists the recipients of a layer's annotations, scheme by
// scheme in encryption_schemes order. A blob that does not parse is one
// entry with alg "unreadable"; schemes we cannot parse (pgp, pkcs11,
// provider) give one entry per blob with an empty alg. Never fails.
std::vector<LayerRecipient> layer_recipients(const Annotations& annotations);

// recipient_ids returns the id of each recipient in `recipients`, scheme by
// scheme in the registry's order (key_wrapper.h). kInternal if a key cannot
// be exported.
StatusOr<std::vector<std::string>> recipient_ids(const Recipients& recipients);

// note_recipients records in `annotations` who the recipients of `blob`
// are, a blob of `scheme` just wrapped for that scheme's recipients in
// `recipients`, for the entries the blob does not name itself (JWE).
// Records for entries no longer in the layer are dropped. kDataError if
// the blob does not parse.
Status note_recipients(std::string_view scheme, std::span<const uint8_t> blob,
                       const Recipients& recipients, Annotations* annotations);

// remove_layer_recipients takes every recipient whose id is in `ids` off the
// layer: its JWE entry or PKCS7 RecipientInfo goes, a blob left with no
// recipient goes, and the ids annotation is pruned. The layer key and the
// blob are unchanged (see RewrapMode in image_crypt.h: this does not
// revoke). Returns how many were removed. kInvalidArgument if that would
// leave the layer with no recipient at all (nothing is changed then);
// kDataError if a blob to change does not parse.
StatusOr<size_t> remove_layer_recipients(Annotations* annotations,
                                         const std::vector<std::string>& ids);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_RECIPIENT_LIST_H_
