// engine/keyrelease/kek.cc: see kek.h.
#include "engine/keyrelease/kek.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "engine/core/atomic_file.h"
#include "engine/core/hex.h"
#include "engine/core/io.h"
#include "kernels/aes_gcm.h"
#include "kernels/pkcs11.h"
#include "kernels/random.h"

namespace layercrypt {

namespace {

int hex_digit(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// FileKek runs AES-256-GCM here, under a key read from a file.
class FileKek final : public Kek {
 public:
  explicit FileKek(std::span<const uint8_t> key) : key_(key.data(), key.size()) {}
  bool ok() const { return key_.ok(); }
  KekKind kind() const override { return KekKind::kFile; }

  StatusOr<std::vector<uint8_t>> seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                                      std::span<const uint8_t> plaintext) const override {
    std::vector<uint8_t> out(plaintext.size() + kWrappedKeyTagLen);
    if (!key_.seal(nonce.data(), nonce.size(), aad.data(), aad.size(), plaintext.data(),
                   plaintext.size(), out.data(), out.data() + plaintext.size()))
      return Internal("AES-256-GCM seal failed");
    return out;
  }

  StatusOr<kernels::SecretBytes> open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                                      std::span<const uint8_t> sealed) const override {
    if (sealed.size() < kWrappedKeyTagLen) return IntegrityError("sealed data shorter than a tag");
    const size_t len = sealed.size() - kWrappedKeyTagLen;
    kernels::SecretBytes out(len);
    if (!key_.open(nonce.data(), nonce.size(), aad.data(), aad.size(), sealed.data(), len,
                   sealed.data() + len, kWrappedKeyTagLen, out.data()))
      return IntegrityError("the AES-GCM tag does not verify");
    return out;
  }

 private:
  kernels::AesGcmKey key_;
};

// Pkcs11Kek runs CKM_AES_GCM inside a token. One session, opened on first
// use and reopened once after a failure that may be the session's (token
// re-inserted, module restarted); calls are serialised on it.
class Pkcs11Kek final : public Kek {
 public:
  explicit Pkcs11Kek(KekSpec spec) : spec_(std::move(spec)) {}
  KekKind kind() const override { return KekKind::kPkcs11; }

  Status connect() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connect_locked();
  }

  StatusOr<std::vector<uint8_t>> seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                                      std::span<const uint8_t> plaintext) const override {
    std::vector<uint8_t> out;
    LC_RETURN_IF_ERROR(run(
        [&](std::string* error) {
          return session_->aes_gcm_seal(key_, nonce, aad, plaintext, &out, error);
        },
        false));
    return out;
  }

  StatusOr<kernels::SecretBytes> open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                                      std::span<const uint8_t> sealed) const override {
    kernels::SecretBytes out;
    LC_RETURN_IF_ERROR(run(
        [&](std::string* error) {
          return session_->aes_gcm_open(key_, nonce, aad, sealed, &out, error);
        },
        true));
    return out;
  }

 private:
  Status connect_locked() const;

  // run runs `op` on the session, reconnecting once after a failure. An
  // open that fails again on a fresh, logged-in session is the data's
  // fault: PKCS#11 says CKR_ENCRYPTED_DATA_INVALID for a tag that does not
  // verify, but SoftHSM2 says CKR_GENERAL_ERROR.
  template <typename Op>
  Status run(Op op, bool opening) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string error;
    for (int attempt = 0; attempt < 2; ++attempt) {
      LC_RETURN_IF_ERROR(connect_locked());
      if (op(&error)) return Status::Ok();
      const bool data_fault = error.find("CKR_ENCRYPTED_DATA_INVALID") != std::string::npos ||
                              error.find("CKR_ENCRYPTED_DATA_LEN_RANGE") != std::string::npos;
      if (opening && (data_fault || attempt == 1))
        return IntegrityError("the token does not open the wrapped key (" + error + ")");
      session_.reset();
    }
    return IoError(spec_.describe() + ": " + error);
  }

  KekSpec spec_;
  mutable std::mutex mu_;
  mutable std::unique_ptr<kernels::Pkcs11Session> session_;
  mutable uint64_t key_ = 0;
};

StatusOr<kernels::SecretBytes> read_pin(const KekSpec& spec) {
  kernels::SecretBytes pin;
  if (!spec.pin_file.empty()) {
    LC_ASSIGN_OR_RETURN(pin, read_secret_file(spec.pin_file, 4096));
    // The first line: a trailing newline (and CR) is not part of the PIN.
    for (size_t i = 0; i < pin.size(); ++i)
      if (pin[i] == '\n' || pin[i] == '\r') {
        pin.resize(i);
        break;
      }
  } else if (!spec.pin_env.empty()) {
    const char* value = std::getenv(spec.pin_env.c_str());
    if (value == nullptr)
      return KeyError(spec.describe() + ": the PIN variable " + spec.pin_env + " is not set");
    pin.assign(value, value + std::strlen(value));
  } else {
    return KeyError(spec.describe() + ": no PIN source (pin-file or pin-env)");
  }
  if (pin.empty()) return KeyError(spec.describe() + ": the PIN is empty");
  return pin;
}

// open_session opens a session on the spec's token and logs in.
StatusOr<std::unique_ptr<kernels::Pkcs11Session>> open_session(const KekSpec& spec,
                                                               bool read_write) {
  LC_ASSIGN_OR_RETURN(kernels::SecretBytes pin, read_pin(spec));
  std::string error;
  auto session = kernels::Pkcs11Session::open(spec.module, spec.token, read_write, &error);
  if (!session) return IoError(spec.describe() + ": " + error);
  if (!session->login(pin, &error)) {
    if (error.find("CKR_PIN_") != std::string::npos)
      return KeyError(spec.describe() + ": login refused (" + error + "): check the PIN in " +
                      (spec.pin_file.empty() ? "$" + spec.pin_env : spec.pin_file));
    return IoError(spec.describe() + ": " + error);
  }
  return session;
}

Status Pkcs11Kek::connect_locked() const {
  if (session_) return Status::Ok();
  LC_ASSIGN_OR_RETURN(auto session, open_session(spec_, false));
  std::string error;
  uint64_t key = 0;
  if (!session->find_secret_key(spec_.label, spec_.id, &key, &error))
    return KeyError(spec_.describe() + ": " + error);
  kernels::Pkcs11KeyInfo info;
  if (!session->key_info(key, &info, &error)) return IoError(spec_.describe() + ": " + error);
  if (!info.is_aes || info.value_len != kKekLen)
    return KeyError(spec_.describe() + ": not an AES-256 key");
  if (info.extractable || !info.sensitive)
    return KeyError(spec_.describe() +
                    ": the key can leave the token (CKA_EXTRACTABLE true or CKA_SENSITIVE "
                    "false); create a KEK with `layercrypt-keyprovider pkcs11-keygen`");
  if (!info.can_encrypt || !info.can_decrypt)
    return KeyError(spec_.describe() + ": the key may not encrypt and decrypt");
  session_ = std::move(session);
  key_ = key;
  return Status::Ok();
}

StatusOr<std::shared_ptr<const Kek>> open_file_kek(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return IoError("KEK file " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 0007) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return KeyError("KEK file " + path + " is open to other users (mode " + mode + "): chmod 600 " +
                    path);
  }
  LC_ASSIGN_OR_RETURN(kernels::SecretBytes data, read_secret_file(path, 256));
  kernels::SecretBytes key;
  if (data.size() == kKekLen) {
    key = std::move(data);
  } else {
    size_t len = data.size();
    if (len > 0 && data[len - 1] == '\n') --len;
    if (len != 2 * kKekLen)
      return DataError("KEK file " + path + " holds " + std::to_string(data.size()) +
                       " bytes: a KEK is 64 hex digits (and a newline) or 32 raw bytes");
    key.resize(kKekLen);
    for (size_t i = 0; i < kKekLen; ++i) {
      const int hi = hex_digit(data[2 * i]), lo = hex_digit(data[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return DataError("KEK file " + path + " is not 64 hex digits (and a newline)");
      key[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
  }
  return kek_from_bytes(key);
}

}  // namespace

std::string KekSpec::describe() const {
  if (kind == KekKind::kFile) return "file " + file;
  std::string s = "pkcs11 token \"" + token + "\" key";
  if (!label.empty()) s += " \"" + label + "\"";
  if (!id.empty()) s += " id " + to_hex(id);
  return s;
}

StatusOr<std::shared_ptr<const Kek>> kek_from_bytes(std::span<const uint8_t> key) {
  if (key.size() != kKekLen) return InvalidArgument("a KEK is 32 bytes");
  auto kek = std::make_shared<FileKek>(key);
  if (!kek->ok()) return Internal("cannot set up AES-256-GCM");
  return std::shared_ptr<const Kek>(std::move(kek));
}

StatusOr<std::shared_ptr<const Kek>> open_kek(const KekSpec& spec) {
  if (spec.kind == KekKind::kFile) return open_file_kek(spec.file);
  auto kek = std::make_shared<Pkcs11Kek>(spec);
  LC_RETURN_IF_ERROR(kek->connect());
  return std::shared_ptr<const Kek>(std::move(kek));
}

Status write_new_kek_file(const std::string& path) {
  kernels::SecretBytes key(kKekLen);
  if (!kernels::random_secret_bytes(key.data(), key.size()))
    return Internal("OpenSSL's random generator failed");
  static constexpr char kDigits[] = "0123456789abcdef";
  kernels::SecretBytes text;
  for (uint8_t b : key) {
    text.push_back(kDigits[b >> 4]);
    text.push_back(kDigits[b & 15]);
  }
  text.push_back('\n');
  // Published with RENAME_NOREPLACE (or link(2)): the new KEK appears whole,
  // or not at all, and never replaces another one.
  LC_ASSIGN_OR_RETURN(TempFile tmp, TempFile::create(path, {.name_prefix = ".kek.tmp-"}));
  LC_RETURN_IF_ERROR(tmp.write({text.data(), text.size()}));
  bool exists = false;
  const Status st = tmp.publish_no_replace(path, Durability::kFileAndDirectory, &exists);
  if (exists) return IoError(path + " exists: refusing to overwrite a KEK");
  return st;
}

Status create_pkcs11_kek(const KekSpec& spec) {
  if (spec.kind != KekKind::kPkcs11) return InvalidArgument("not a PKCS#11 KEK");
  if (spec.label.empty()) return InvalidArgument(spec.describe() + ": a new key needs a label");
  LC_ASSIGN_OR_RETURN(auto session, open_session(spec, true));
  std::string error;
  uint64_t key = 0;
  if (session->find_secret_key(spec.label, {}, &key, &error) ||
      (!spec.id.empty() && session->find_secret_key({}, spec.id, &key, &error)))
    return KeyError(spec.describe() + ": a key with that label or id exists in the token");
  if (!session->generate_aes_key(spec.label, spec.id, kKekLen, &key, &error))
    return IoError(spec.describe() + ": " + error);
  return Status::Ok();
}

}  // namespace layercrypt
