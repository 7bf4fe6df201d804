// engine/keyrelease/key_release.h: the reference key provider's service:
// wrap a layer's private options under a policy key's KEK, and unwrap them
// only for callers the policy lists (execution geofencing: a node outside
// the list pulls the image but cannot decrypt it).
//
// One request, as Go ocicrypt sends it (keyprovider_protocol.h), in; one
// reply out:
//   keywrap    the key is chosen by this provider's parameters
//              (Parameters[NAME], NAME = KeyReleaseOptions::name): each
//              entry is "key=ID", a bare "ID", or "Enabled" (no choice);
//              with no choice, the policy's default-key. Two different ids
//              in one request are refused (one call returns one
//              annotation). The caller must match the key's "wrap-by" when
//              the policy has one. The reply's annotation is a WrappedKey
//              (wrapped_key.h) sealed with a fresh random nonce.
//   keyunwrap  the key is the one the annotation names; the caller must
//              match its "release-to" before anything is decrypted; the
//              KEK must be of the annotation's kind and open it. Parameters
//              are ignored (containerd's decoder sends none).
//
// Errors (one line, naming the key and the caller's identity, never key
// material nor request bytes):
//   kKeyError        the policy refuses: unknown key, caller not listed,
//                    no key chosen and no default, no good policy;
//   kIntegrityError  the blob does not open under its key's KEK (tampered,
//                    or sealed elsewhere);
//   kDataError       the request or annotation is malformed;
//   kUnsupported     an annotation of another format version;
//   kIoError         a KEK cannot be read or its token fails.
//
// Logging: every decision is one line through KeyReleaseOptions::log:
//   2026-12-06T11:03:06.123Z keyunwrap transport=cmd peer="pid 812 uid 0"
//     identity="local uid:0" key=prod allowed
//   ... key=prod refused: key prod may not be released to cn:node-9 ...
// (one line; wrapped here). The caller writes it to stderr or a file.
//
// Thread-safety: handle, wrap and unwrap may run concurrently.
#ifndef LAYERCRYPT_ENGINE_KEYRELEASE_KEY_RELEASE_H_
#define LAYERCRYPT_ENGINE_KEYRELEASE_KEY_RELEASE_H_

#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "engine/core/status.h"
#include "engine/keyrelease/policy.h"
#include "engine/keywrap/provider/keyprovider_protocol.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// kDefaultProviderName is the provider's default config name.
inline constexpr const char* kDefaultProviderName = "layercrypt";

struct KeyReleaseOptions {
  std::string policy_path;
  // name is the provider's key in ocicrypt's config (its parameters are
  // Parameters[name]).
  std::string name = kDefaultProviderName;
  // log receives each decision and policy event, one line, no newline;
  // never from two threads at once (calls are serialised).
  std::function<void(const std::string&)> log;
};

class KeyRelease {
 public:
  explicit KeyRelease(KeyReleaseOptions options);

  // handle parses `request` (at most kMaxKeyProviderMessage bytes) and
  // answers it with the reply JSON. `expected` is the operation the
  // transport called (gRPC WrapKey / UnWrapKey): a request whose "op"
  // differs is refused. Errors as above.
  StatusOr<kernels::SecretBytes> handle(std::span<const uint8_t> request, const Caller& who,
                                        std::optional<KeyProviderOp> expected = std::nullopt);

  // wrap returns the annotation for `optsdata` (a keywrap request's parts).
  StatusOr<std::vector<uint8_t>> wrap(const ProviderParams& params,
                                      std::span<const uint8_t> optsdata, const Caller& who);

  // unwrap returns the private options sealed in `annotation`.
  StatusOr<kernels::SecretBytes> unwrap(std::span<const uint8_t> annotation, const Caller& who);

  PolicyStore& policy() { return store_; }

 private:
  void decide(const char* op, const Caller& who, const std::string& key, const Status& outcome);
  void emit(const std::string& line);
  KeyReleaseOptions options_;
  std::mutex log_mutex_;  // serialises options_.log
  PolicyStore store_;
};

// chosen_key returns the key id the wrap parameters `entries` choose ("" for
// none), or kKeyError when they name two, kDataError for an entry that is
// not "key=ID", "ID" or "Enabled".
StatusOr<std::string> chosen_key(const std::vector<kernels::SecretBytes>& entries);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYRELEASE_KEY_RELEASE_H_
