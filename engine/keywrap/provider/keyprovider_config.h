// engine/keywrap/provider/keyprovider_config.h: the key-provider config file
// exactly as Go ocicrypt reads it (OCICRYPT_KEYPROVIDER_CONFIG, spec §A.1).
//
//   {"key-providers": {
//      "NAME": {"cmd": {"path": "/bin/prov", "args": ["--x"]}},
//      "NAME": {"grpc": "host:port" | "unix:///path",
//               "grpc-tls": {"root-ca-file": F, "cert-file": F, "key-file": F,
//                            "server-name": S, "insecure-skip-verify": false}}}}
//
// Each entry is one scheme, `provider.NAME`, whose blobs sit in the layer
// annotation org.opencontainers.image.enc.keys.provider.NAME. As in Go,
// `cmd` wins when both transports are set, member names match Go's
// case-insensitive rules and unknown members are ignored. Stricter than Go,
// on purpose:
//   * a file that does not parse, a member of the wrong JSON type, an entry
//     with neither `cmd` nor `grpc`, a `cmd` without `path`, or an empty
//     provider name is an error naming the file and the member
//     ("key-providers.kms.cmd.path: ..."); Go logs it and runs with no
//     providers at all;
//   * a file named by the caller (--keyprovider-config) must exist. One
//     named by OCICRYPT_KEYPROVIDER_CONFIG may be missing, as containerd
//     2.x's built-in processor config names one on every node: that is an
//     empty config whose `missing` says so, and a layer that needs a
//     provider then fails naming the file.
//
// Thread-safety: the types are plain values; the functions are reentrant.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_CONFIG_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_CONFIG_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace layercrypt {

// kKeyProviderConfigEnv is the environment variable Go ocicrypt reads.
inline constexpr const char* kKeyProviderConfigEnv = "OCICRYPT_KEYPROVIDER_CONFIG";

// kDefaultKeyProviderTimeout bounds every provider call (Go has no bound).
inline constexpr std::chrono::milliseconds kDefaultKeyProviderTimeout{30000};

// kMaxKeyProviderConfigSize bounds the config file.
inline constexpr size_t kMaxKeyProviderConfigSize = 1 << 20;

struct KeyProviderCommand {
  std::string path;               // run with execv, no shell, no PATH search
  std::vector<std::string> args;  // argv[1..]
};

struct KeyProviderGrpcTls {
  std::string root_ca_file;  // PEM; "" = the system's CA store
  std::string cert_file;     // client certificate (mutual TLS) ...
  std::string key_file;      // ... sent only when both are set, as in Go
  std::string server_name;   // overrides the name checked and sent as SNI
  bool insecure_skip_verify = false;
};

struct KeyProviderEntry {
  std::string name;                            // the config key: scheme provider.NAME
  std::optional<KeyProviderCommand> cmd;       // set: the cmd transport (wins)
  std::string grpc;                            // else the gRPC target, as grpc.Dial takes it
  std::optional<KeyProviderGrpcTls> grpc_tls;  // with grpc: TLS instead of h2c

  bool uses_grpc() const { return !cmd.has_value(); }
  // describe returns "cmd /path" or "grpc host:port" (TLS noted) for messages.
  std::string describe() const;
};

struct KeyProviderConfig {
  // source names the file for messages: "/etc/x.conf" or
  // "/etc/x.conf (OCICRYPT_KEYPROVIDER_CONFIG)"; "" when there is none.
  std::string source;
  // missing: the environment named a file that does not exist (see above).
  bool missing = false;
  std::vector<KeyProviderEntry> providers;  // sorted by name, names unique
  std::chrono::milliseconds timeout = kDefaultKeyProviderTimeout;

  // find returns the entry called `name`, or nullptr.
  const KeyProviderEntry* find(std::string_view name) const;
  // names returns "a, b" (or "none") for messages.
  std::string names() const;
};

// parse_keyprovider_config parses a config file's contents; `source` names
// it in messages. kDataError "SOURCE: key-providers.NAME.FIELD: why" for
// every problem listed above; never kIoError.
StatusOr<KeyProviderConfig> parse_keyprovider_config(std::string_view json,
                                                     std::string_view source);

// load_keyprovider_config reads and parses `path` (at most
// kMaxKeyProviderConfigSize bytes). kIoError when it is missing or
// unreadable, naming the file.
StatusOr<KeyProviderConfig> load_keyprovider_config(const std::string& path);

// keyprovider_config_from_env loads the file OCICRYPT_KEYPROVIDER_CONFIG
// names: an empty config when the variable is unset or empty, an empty config
// with `missing` set when the file does not exist, else as
// load_keyprovider_config (a malformed file is an error).
StatusOr<KeyProviderConfig> keyprovider_config_from_env();

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_CONFIG_H_
