// engine/keywrap/key_wrapper.h: the seam between the layer key and the
// schemes that wrap it for recipients.
//
// ocicrypt wraps each layer's private options (the layer key, nonce and
// plaintext digest, as JSON) once per scheme, for all of that scheme's
// recipients at once, and stores the blob base64-encoded in the layer
// annotation `org.opencontainers.image.enc.keys.<scheme>` (several blobs
// are joined with ','). A KeyWrapper is one scheme (Go ocicrypt's
// keywrap.KeyWrapper, age's Recipient/Identity): it wraps for its
// recipients, says whether the keys at hand could possibly open a blob
// (ocicrypt's NoPossibleKeys), unwraps, describes a blob for messages and
// `layerinfo` without key material, lists a blob's recipients and takes
// some of them off.
//
// The registry (key_wrappers) holds the schemes in the fixed order
// layercrypt tries them when it unwraps: jwe, then pkcs7, then pkcs11 (in
// builds with LAYERCRYPT_WITH_PKCS11), then pgp (LAYERCRYPT_WITH_PGP). The key providers
// (provider.NAME) exist only with a config, so they come from a KeyProviders object, after the
// fixed schemes (provider/key_providers.h). Go iterates a map, so its order is random; ours is
// fixed so that messages and fixed costs are repeatable. Adding a scheme adds a folder under
// keywrap/ with its wrapper and one line in key_wrapper.cc.
//
// Thread-safety: wrappers are stateless and shared; every method is
// reentrant.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_KEY_WRAPPER_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_KEY_WRAPPER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/recipients.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

class KeyProviders;

// BlobRecipient is one recipient inside one wrapped-key blob.
struct BlobRecipient {
  std::string alg;  // the key algorithm, e.g. "RSA-OAEP", "rsaEncryption"
  // id names the recipient's key where the blob itself does (a PKCS7
  // issuer and serial, a JWE kid): see recipient_list.h; "" when it does not.
  std::string id;
  // entry_digest names this entry of the blob (for a JWE recipient the
  // SHA-256 of its encrypted_key), so that a record kept beside the blob
  // can name it (recipient_list.h); "" when the scheme needs none.
  std::string entry_digest;
};

class KeyWrapper {
 public:
  virtual ~KeyWrapper() = default;

  // scheme returns the scheme's name, the suffix of its keys annotation.
  virtual std::string_view scheme() const = 0;

  // recipient_count returns how many of `recipients` are this scheme's.
  virtual size_t recipient_count(const Recipients& recipients) const = 0;

  // wrap returns one blob that opens to `priv_json` for every recipient of
  // this scheme in `recipients` (there is at least one). Errors are the
  // scheme's (kInvalidArgument for an unusable recipient, kInternal).
  virtual StatusOr<std::vector<uint8_t>> wrap(std::span<const uint8_t> priv_json,
                                              const Recipients& recipients) const = 0;

  // recipient_ids returns the id (recipient_list.h) of each of this
  // scheme's recipients in `recipients`, in the order wrap() takes them.
  // kInternal if a key cannot be exported.
  virtual StatusOr<std::vector<std::string>> recipient_ids(const Recipients& recipients) const = 0;

  // missing_keys returns "" when `keys` hold something this scheme could
  // use to open a blob, else why not, for messages (e.g. "needs the
  // recipient certificate as well as the key"). Never fails.
  virtual std::string missing_keys(const PreparedKeys& keys) const = 0;

  // unwrap returns the private options a blob wraps, with `keys`.
  // kKeyError when none of them opens it (the message names no key
  // material and does not say why an RSA decryption failed);
  // kDataError/kUnsupported for a blob this scheme cannot read.
  virtual StatusOr<kernels::SecretBytes> unwrap(std::span<const uint8_t> blob,
                                                const PreparedKeys& keys) const = 0;

  // describe returns a one-line summary of a blob (form, algorithms,
  // recipient count), or kDataError if it does not parse.
  virtual StatusOr<std::string> describe(std::span<const uint8_t> blob) const = 0;

  // recipients returns the recipients of a blob, in the order remove()
  // counts them, or kDataError if it does not parse.
  virtual StatusOr<std::vector<BlobRecipient>> recipients(std::span<const uint8_t> blob) const = 0;

  // remove returns the blob without the recipients at the positions in
  // `drop`, std::nullopt when none would remain, or kDataError. What stays
  // is kept as it was (the shared content key is not re-wrapped).
  virtual StatusOr<std::optional<std::vector<uint8_t>>> remove(
      std::span<const uint8_t> blob, const std::vector<size_t>& drop) const = 0;
};

// key_wrappers returns every scheme this build has, in the fixed order.
std::span<const KeyWrapper* const> key_wrappers();

// key_wrappers(providers) returns the fixed schemes, then the configured
// key providers' (provider/key_providers.h) in name order; `providers`
// may be null.
std::vector<const KeyWrapper*> key_wrappers(const KeyProviders* providers);

// find_key_wrapper returns the wrapper of `scheme`, or nullptr when this
// build has none (pkcs11 without LAYERCRYPT_WITH_PKCS11, pgp without LAYERCRYPT_WITH_PGP) or, for
// provider.NAME, when `providers` (may be null) has no provider NAME.
const KeyWrapper* find_key_wrapper(std::string_view scheme,
                                   const KeyProviders* providers = nullptr);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_KEY_WRAPPER_H_
