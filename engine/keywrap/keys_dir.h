// engine/keywrap/keys_dir.h: loading a `--decryption-keys-path` directory.
//
// containerd's ctd-decoder (and CRI-O) walk the directory recursively and
// hand every file to ocicrypt's key sorter, which aborts the whole run on the
// first file it cannot classify: one public key or README in the directory
// breaks every pull, and so does a SEC1 PEM EC key, which Go cannot read.
// ctd-decoder also rejects every symbolic link, which rules out Kubernetes
// secret volumes (they are made of `..data` symlinks).
//
// We are more forgiving, on purpose:
//   * every regular file is classified (private key, encrypted private key,
//     certificate, pkcs11 key YAML, public key, other); usable ones are kept
//     in lexical path order, the others are skipped with a one-line note
//     each. pkcs11 key YAMLs (as ocicrypt >= 1.3.1 reads them) are used
//     under the module policy of the decoder's environment
//     (OCICRYPT_CONFIG, load_pkcs11_policy); when there is none, they are
//     kept and keys.pkcs11_policy_error says why they cannot be used.
//     OpenPGP secret keyrings (binary, or armored, which Go skips) are
//     used without a passphrase, as Go does (a protected key then fails
//     with its own message); a public keyring is skipped;
//   * symbolic links are followed when their target stays inside the
//     directory (so `..data/...` works) and skipped otherwise;
//   * dot-files are read like any other file (ctd-decoder does the same;
//     Kubernetes puts its payload under `..data`); directories reached twice
//     through links are walked once.
// A missing or unreadable directory is reported to the caller, who decides
// (the decoder fails only if no key is found anywhere).
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_KEYS_DIR_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_KEYS_DIR_H_

#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/key_unwrap.h"

namespace layercrypt {

// KeysDirContents is what a keys directory yielded.
struct KeysDirContents {
  PreparedKeys keys;                   // parsed private keys, certificates, pkcs11 keys
  std::vector<std::string> key_files;  // the paths the private keys came from
  std::vector<std::string> skipped;    // one line per skipped file: "PATH: why"
};

// load_keys_dir walks `dir` as described above. Returns the contents; or
// kIoError if `dir` does not exist, is not a directory or cannot be read
// (the message names the path). Unreadable files inside are skipped, not
// errors. Not thread-safe with respect to changes of the directory.
StatusOr<KeysDirContents> load_keys_dir(const std::string& dir);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_KEYS_DIR_H_
