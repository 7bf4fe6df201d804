// engine/keywrap/keys_dir.cc
#include "engine/keywrap/keys_dir.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>
#include <system_error>

#include "engine/core/io.h"
#include "engine/keywrap/keys/private_key.h"
#if LAYERCRYPT_WITH_PGP
#include "engine/keywrap/pgp/pgp_keyring.h"
#endif

namespace layercrypt {
namespace fs = std::filesystem;
namespace {

// A key file larger than this is not a key (the largest PEM RSA-16384 key
// is ~13 KiB); refuse to slurp large files that landed there by mistake.
constexpr uintmax_t kMaxKeyFileSize = 1 << 20;

bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q)
    if (q == p.end() || *r != *q) return false;
  return true;
}

struct Walker {
  fs::path root;  // canonical
  KeysDirContents out;
  std::set<fs::path> seen_dirs;
  std::vector<std::pair<std::string, fs::path>> files;  // (display path, canonical target)

  void walk(const fs::path& dir, const std::string& shown) {
    std::error_code ec;
    fs::path real = fs::canonical(dir, ec);
    if (ec || !seen_dirs.insert(real).second) return;
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      entries.push_back(*it);
    if (ec) {
      out.skipped.push_back(shown + ": cannot list directory: " + ec.message());
      return;
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return a.path().filename() < b.path().filename();
    });
    for (const auto& e : entries) {
      const std::string name = shown + "/" + e.path().filename().string();
      std::error_code lec;
      const bool is_link = e.is_symlink(lec);
      fs::path target = fs::canonical(e.path(), lec);
      if (lec) {
        out.skipped.push_back(name + ": " + (is_link ? "dangling symbolic link" : lec.message()));
        continue;
      }
      if (is_link && !inside(root, target)) {
        out.skipped.push_back(name + ": symbolic link leads outside the keys directory");
        continue;
      }
      if (fs::is_directory(target, lec)) {
        walk(e.path(), name);
      } else if (fs::is_regular_file(target, lec)) {
        files.emplace_back(name, target);
      } else {
        out.skipped.push_back(name + ": not a regular file");
      }
    }
  }
};

}  // namespace

StatusOr<KeysDirContents> load_keys_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return IoError("decryption keys directory " + dir + " does not exist");
  if (!fs::is_directory(dir, ec))
    return IoError("decryption keys path " + dir + " is not a directory");
  Walker w;
  w.root = fs::canonical(dir, ec);
  if (ec) return IoError("cannot resolve decryption keys directory " + dir + ": " + ec.message());
  w.walk(dir, dir);
  if (w.seen_dirs.empty()) return IoError("cannot read decryption keys directory " + dir);

  std::set<fs::path> read_once;  // a file reached through a link and directly
  for (const auto& [shown, target] : w.files) {
    if (!read_once.insert(target).second) continue;
    std::error_code sec;
    const uintmax_t size = fs::file_size(target, sec);
    if (sec || size > kMaxKeyFileSize) {
      w.out.skipped.push_back(shown + ": " + (sec ? sec.message() : "too large to be a key"));
      continue;
    }
    // read_secret_file reads into wiping memory through a buffer it wipes
    // (an ifstream's buffer would keep the key bytes in ordinary heap).
    auto read = read_secret_file(target.string(), kMaxKeyFileSize);
    if (!read.ok()) {
      w.out.skipped.push_back(shown + ": cannot read");
      continue;
    }
    kernels::SecretBytes data = std::move(*read);
    PrivateKey key;
    Certificate cert;
    switch (classify_key_file(data, &key, &cert)) {
      case KeyFileKind::kPrivateKey:
        w.out.keys.private_keys.push_back(std::move(key));
        w.out.key_files.push_back(shown);
        break;
      case KeyFileKind::kCertificate:
        w.out.keys.certificates.push_back(std::move(cert));
        break;
      case KeyFileKind::kEncryptedPrivateKey:
        w.out.skipped.push_back(shown +
                                ": encrypted private key; a keys directory has no way to give its "
                                "password (decrypt it with openssl, or pass it with its password "
                                "in the payload)");
        break;
      case KeyFileKind::kPublicKey:
        w.out.skipped.push_back(shown + ": public key (decryption needs the private key)");
        break;
      case KeyFileKind::kUnknown: {
#if LAYERCRYPT_WITH_PGP
        // An OpenPGP keyring (ctd-decoder's gpg-privatekeys), used without
        // a passphrase as Go does.
        if (pgp_keyring_kind(data) != PgpKeyringKind::kNone) {
          const Status ok = check_pgp_secret_keyring(data);
          if (ok.ok())
            w.out.keys.pgp_keyrings.push_back({std::move(data), std::nullopt, shown});
          else
            w.out.skipped.push_back(shown + ": " + ok.message());
          break;
        }
#endif
#if LAYERCRYPT_WITH_PKCS11
        auto p11 = parse_pkcs11_key_file(data);
        if (p11.ok()) {
          w.out.keys.pkcs11_keys.push_back(std::move(p11).value());
          break;
        }
        if (p11.status().code() == StatusCode::kInvalidArgument) {  // a key YAML, but bad
          w.out.skipped.push_back(shown + ": " + p11.status().message());
          break;
        }
#endif
        w.out.skipped.push_back(shown + ": not a key or certificate layercrypt can read");
        break;
      }
    }
  }
#if LAYERCRYPT_WITH_PKCS11
  if (!w.out.keys.pkcs11_keys.empty()) {
    auto policy = load_pkcs11_policy();
    if (policy.ok())
      w.out.keys.pkcs11_policy =
          std::make_shared<const Pkcs11ModulePolicy>(std::move(policy).value());
    else
      w.out.keys.pkcs11_policy_error = policy.status().message();
  }
#endif
  return std::move(w.out);
}

}  // namespace layercrypt
