// engine/keywrap/pkcs11/pkcs11_key.h: what names a key in a PKCS#11 token
// for the `pkcs11` scheme (spec §B.2): the pkcs11 URI (RFC 7512, read as
// Go's go-pkcs11uri reads it), the key YAML that carries one, the module
// policy (OCICRYPT_CONFIG) and the module a URI resolves to under it.
//
// A key YAML, as ocicrypt's Pkcs11KeyFile:
//
//   pkcs11:
//     uri: pkcs11:token=t;object=k;id=%01?pin-value=1234&module-name=softhsm2
//   module:               # optional
//     env:                # set in the environment around each module use
//       SOFTHSM2_CONF: /path/softhsm2.conf
//
// The module policy, an OCICRYPT_CONFIG file (the `pkcs11` section; other
// sections are ignored) or, bare, the payload's `pkcs11-config` entry:
//
//   pkcs11:
//     module-directories: [/usr/lib/softhsm/]
//     allowed-module-paths: [/usr/lib/softhsm/libsofthsm2.so]
//
// Stricter than Go, on purpose:
//   * the parsers reject what Go ignores: unknown keys in the key YAML and
//     under `pkcs11:` in a policy, unknown URI attributes (other than RFC
//     7512's and x-vendor ones), values of the wrong YAML type;
//   * a policy without `allowed-module-paths` allows no module (Go allows
//     every module when the list is absent);
//   * a PIN file's one trailing newline is dropped (Go keeps it, so such a
//     file never works there).
// Messages are one line and never show a PIN: a URI is shown by
// Pkcs11Uri::redacted(), which leaves pin-value out.
//
// Thread-safety: everything here is reentrant; load_pkcs11_policy reads the
// environment.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_KEY_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_KEY_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/status.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// Pkcs11Uri is a parsed pkcs11 URI: the attributes the scheme uses, each
// pct-decoded ("" when absent).
struct Pkcs11Uri {
  std::string token;             // path: the token label
  std::string object;            // path: the key's CKA_LABEL
  std::vector<uint8_t> id;       // path: the key's CKA_ID
  std::optional<uint64_t> slot;  // path: slot-id
  bool has_pin_value = false;
  kernels::SecretBytes pin_value;  // query: pin-value
  std::string pin_source;          // query: pin-source (file:/abs or /abs)
  std::string module_name;         // query: module-name
  std::string module_path;         // query: module-path (absolute)
  // The other path and query attributes as written (name, raw value), kept
  // only for redacted().
  std::vector<std::pair<std::string, std::string>> other_path, other_query;

  // redacted returns the URI for messages: every attribute as given except
  // pin-value, which is replaced by "***". Never fails.
  std::string redacted() const;
};

// parse_pkcs11_uri parses `uri` as go-pkcs11uri does: "pkcs11:" then path
// attributes name=value separated by ';', optionally '?' and query
// attributes separated by '&'; values are pct-decoded. Returns the URI, or
// kInvalidArgument (one line, never quoting a pin-value) for a missing
// prefix, an attribute without '=', a bad %-escape, a duplicate or unknown
// attribute, a slot-id that is not a decimal number, both pin-value and
// pin-source, or a relative module-path.
StatusOr<Pkcs11Uri> parse_pkcs11_uri(std::string_view uri);

// pkcs11_pin returns the URI's PIN: pin-value, or the contents of the
// pin-source file (an absolute path, "file:" optional; one trailing newline
// dropped). kKeyError when neither is given; kInvalidArgument for another
// pin-source scheme or a relative path; kIoError naming the file when it
// cannot be read.
StatusOr<kernels::SecretBytes> pkcs11_pin(const Pkcs11Uri& uri);

// Pkcs11KeyFile is a parsed key YAML.
struct Pkcs11KeyFile {
  Pkcs11Uri uri;
  // module.env, in document order (names checked: non-empty, no '=' or NUL).
  std::vector<std::pair<std::string, std::string>> env;
};

// parse_pkcs11_key_file parses a key YAML (see the file comment). Returns
// it, or kDataError for text that is not such a YAML and kInvalidArgument
// for a bad URI in one or a URI with neither object nor id; the message is one line and never holds
// the PIN.
StatusOr<Pkcs11KeyFile> parse_pkcs11_key_file(std::span<const uint8_t> yaml);

// is_pkcs11_key_file says whether `data` is a key YAML (what ocicrypt's
// IsPkcs11PrivateKey/IsPkcs11PublicKey test): it parses and its URI is
// valid. Never fails.
bool is_pkcs11_key_file(std::span<const uint8_t> data);

// Pkcs11ModulePolicy is which modules may be loaded, and where a
// module-name is looked for.
struct Pkcs11ModulePolicy {
  std::vector<std::string> module_directories;
  std::vector<std::string> allowed_module_paths;
  // Where the policy came from, for messages: "OCICRYPT_CONFIG=internal",
  // "/home/u/.config/ocicrypt.conf", "the payload's pkcs11-config".
  std::string source;
};

// pkcs11_internal_policy returns the built-in policy (OCICRYPT_CONFIG=
// internal): both lists are /usr/lib64/pkcs11/, /usr/lib/pkcs11/,
// /usr/local/lib/pkcs11/, /usr/lib/softhsm/ and /usr/lib/<arch>-linux-gnu/.
Pkcs11ModulePolicy pkcs11_internal_policy();

// parse_pkcs11_config parses the bare policy map (module-directories,
// allowed-module-paths; the payload's pkcs11-config) and
// parse_pkcs11_config_file an OCICRYPT_CONFIG file (its `pkcs11` section;
// none, or an empty file, is an empty policy). kDataError (one line naming
// `source`) for anything else.
StatusOr<Pkcs11ModulePolicy> parse_pkcs11_config(std::span<const uint8_t> yaml,
                                                 const std::string& source);
StatusOr<Pkcs11ModulePolicy> parse_pkcs11_config_file(std::span<const uint8_t> yaml,
                                                      const std::string& source);

// pkcs11_config_yaml returns `policy` as the bare YAML map Go marshals into
// the pkcs11-config parameter. Never fails.
std::string pkcs11_config_yaml(const Pkcs11ModulePolicy& policy);

// load_pkcs11_policy finds the user's policy as ocicrypt's
// GetUserPkcs11Config does: OCICRYPT_CONFIG=internal is the built-in
// policy; OCICRYPT_CONFIG=FILE is that file if it exists; then
// $XDG_CONFIG_HOME/ocicrypt.conf, $HOME/.config/ocicrypt.conf and the
// relative etc/ocicrypt.conf. kKeyError "no ocicrypt config file was
// found ..." when none exists; the parse errors of parse_pkcs11_config_file;
// kIoError for a file that exists but cannot be read.
StatusOr<Pkcs11ModulePolicy> load_pkcs11_policy();

// load_pkcs11_policy_file returns the policy `config` names, as the value
// of OCICRYPT_CONFIG would, for library callers that set it explicitly:
// "internal" is the built-in policy, anything else an ocicrypt config file
// (its `pkcs11` section). kIoError naming the file when it is missing or
// cannot be read (no fallback to other files, unlike load_pkcs11_policy);
// the errors of parse_pkcs11_config_file.
StatusOr<Pkcs11ModulePolicy> load_pkcs11_policy_file(const std::string& config);

// resolve_pkcs11_module returns the module file `uri` names under `policy`,
// as go-pkcs11uri's GetModule does: module-path when it is a file;
// otherwise the first file, in name order, of module-path (a directory) or
// else of each module directory whose lower-cased name contains the
// lower-cased module-name followed by the end or by '.'. The file must be
// allowed: equal to an allowed path, or directly inside one ending in '/'.
// Errors (one line): kInvalidArgument "module-path ... is not accessible",
// "... needs module-name or module-path", kKeyError "no PKCS#11 module
// named ... in ...", kKeyError "module ... is not allowed by
// OCICRYPT_CONFIG (<source>)".
StatusOr<std::string> resolve_pkcs11_module(const Pkcs11Uri& uri, const Pkcs11ModulePolicy& policy);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_KEY_H_
