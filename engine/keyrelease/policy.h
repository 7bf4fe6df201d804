// engine/keyrelease/policy.h: the reference key provider's policy: which
// keys exist, where their KEKs are, and to whom each key is released.
//
// The policy file (JSON, at most 1 MiB; unknown members are errors, so a
// typo cannot silently widen access):
//
//   {
//     "default-key": "prod",                  optional: wraps that name no key
//     "keys": {
//       "prod": {
//         "kek": {"file": "prod.kek"},        relative paths: from the policy's directory
//         "release-to": ["cn:node-1.example.com", "san:spiffe://c1/ns/ci",
//                        "sha256:<64 hex>", "local", "uid:0"],
//         "wrap-by": ["local"]                optional: absent = anyone who reaches us
//       },
//       "hsm": {
//         "kek": {"pkcs11": {"module": "/usr/lib/softhsm/libsofthsm2.so",
//                            "token": "layercrypt", "label": "kek-hsm", "id": "01a2",
//                            "pin-file": "/etc/layercrypt/pin"}},   or "pin-env": "VAR"
//         "release-to": ["cn:node-2.example.com"]
//       }
//     }
//   }
//
// Key ids follow wrapped_key.h's grammar. A key's "release-to" (unwrap) and
// "wrap-by" (wrap) list the identities allowed, each one of:
//   cn:NAME         a TLS client certificate whose subject CN is NAME
//   san:NAME        ... with NAME among its subject alternative names
//                   (DNS name, URI, e-mail, as written; the gRPC transport
//                   also gives them typed, so san:DNS:NAME matches too)
//   sha256:HEX      ... whose DER encoding has SHA-256 HEX (64 hex digits,
//                   colons allowed): pins one certificate
//   local           the process that ran us in cmd mode (containerd's
//                   decoder, skopeo): whoever can run the provider
//   uid:N           ... when it runs as user N
//   *               anyone, authenticated or not
// Certificate identities count only when the gRPC server verified the
// client's certificate against --client-ca; a plaintext gRPC client matches
// nothing but "*". An empty "release-to" releases the key to no one.
//
// Per image: a provider sees the request's parameters, never the image's
// name, and on unwrap containerd's decoder sends no parameters at all. So
// the unit of policy is the key: give each image (or group of images) its
// own key id when encrypting (provider:NAME:key=ID) and list who may run it
// under that key. Changing a key's list takes effect on the next request
// and needs no re-encryption.
//
// Reloading: PolicyStore re-reads the file when its mtime, size or inode
// changes. A file that does not parse keeps the last good policy (and the
// reason is logged once per change); before any good one, every request is
// refused with the reason.
//
// Thread-safety: a Policy is immutable; PolicyStore is thread-safe.
#ifndef LAYERCRYPT_ENGINE_KEYRELEASE_POLICY_H_
#define LAYERCRYPT_ENGINE_KEYRELEASE_POLICY_H_

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/keyrelease/kek.h"

namespace layercrypt {

inline constexpr size_t kMaxPolicySize = 1 << 20;

// Caller is who sent a request, as the transport established it.
struct Caller {
  std::string transport;  // "cmd" or "grpc"
  std::string peer;       // "pid 812 uid 0", "ipv4:10.0.0.7:51234": for logs only
  bool local = false;     // cmd mode: our parent process ran us
  std::optional<uint32_t> uid;
  bool tls_verified = false;  // a client certificate verified against the client CA
  std::string subject_cn;
  std::vector<std::string> sans;
  std::string cert_sha256;  // 64 lower-case hex digits

  // matches says whether identity pattern `pattern` (above) names this caller.
  bool matches(std::string_view pattern) const;
  // identity returns how the caller is known, for logs and messages:
  // "cn:node-1 sha256:0123456789abcdef...", "local uid:0", "unauthenticated".
  // Printable ASCII only (the CN aside): it travels in refusals, which
  // clients and logs show with other bytes replaced by '?'.
  std::string identity() const;
};

// is_valid_identity_pattern says whether `pattern` is one of the forms above.
bool is_valid_identity_pattern(std::string_view pattern);

struct PolicyKey {
  std::string id;
  KekSpec kek;
  std::vector<std::string> release_to;
  std::optional<std::vector<std::string>> wrap_by;  // nullopt: anyone
};

struct Policy {
  std::string source;       // the file, for messages
  std::string default_key;  // "" when none
  std::map<std::string, PolicyKey> keys;
  // find returns key `id`, or nullptr.
  const PolicyKey* find(std::string_view id) const;
};

// parse_policy parses a policy file's contents; relative KEK paths are
// taken from `base_dir`. kDataError "SOURCE: keys.ID.release-to[2]: why".
StatusOr<Policy> parse_policy(std::string_view json, std::string_view source,
                              const std::string& base_dir);

// PolicyStore holds the current policy of one file and the KEKs opened
// for it.
class PolicyStore {
 public:
  // PolicyStore reads nothing yet; `log` receives one line per reload or
  // rejected file (never key material).
  PolicyStore(std::string path, std::function<void(const std::string&)> log);

  // current returns the policy to decide with, reloading the file if it
  // changed. An error only when no good policy was ever loaded (the
  // message says why the file is not one).
  StatusOr<std::shared_ptr<const Policy>> current();

  // kek returns the opened KEK of `key`, opening it on first use (a KEK
  // that fails to open is tried again on the next request).
  StatusOr<std::shared_ptr<const Kek>> kek(const PolicyKey& key);

  const std::string& path() const { return path_; }

 private:
  struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const FileStamp& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
             mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };
  std::string path_;
  std::function<void(const std::string&)> log_;
  std::mutex mu_;
  std::optional<FileStamp> stamp_;  // of the file last read (good or not)
  std::shared_ptr<const Policy> good_;
  Status last_error_;
  std::vector<std::pair<KekSpec, std::shared_ptr<const Kek>>> keks_;
};

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYRELEASE_POLICY_H_
