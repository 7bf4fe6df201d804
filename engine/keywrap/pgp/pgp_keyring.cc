// engine/keywrap/pgp/pgp_keyring.cc: see pgp_keyring.h.
#include "engine/keywrap/pgp/pgp_keyring.h"

#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "engine/keywrap/pgp/rnp_calls.h"  // last: librnp through rnp_library.h

namespace layercrypt {
namespace {

// QuietRnp keeps librnp's diagnostics off stderr while it lives. librnp
// writes them with fprintf(stderr, ...) as three calls per line ("[read()
// src/...:876] ", the text, "\n"), for broken input but also for blobs it
// opens (every message Go writes draws "first part of partial length
// packet sequence has size 128"); Debian's build cannot turn them off
// (RNP_LOG_CONSOLE is read only by NDEBUG builds, and the switches are not
// exported). They would break our one-line errors and the decoder's stderr.
// So while librnp runs (one call at a time, under a process-wide lock)
// the C library's `stderr` points at a stream that drops those lines and
// passes everything else straight to file descriptor 2. That stream is
// never closed, so a thread that read `stderr` just before it is put back
// still writes through it safely.
class QuietRnp {
 public:
  QuietRnp() : lock_(mutex()) {
    saved_ = stderr;
    stderr = filter();
  }
  ~QuietRnp() { stderr = saved_; }
  QuietRnp(const QuietRnp&) = delete;
  QuietRnp& operator=(const QuietRnp&) = delete;

 private:
  static std::recursive_mutex& mutex() {
    static std::recursive_mutex m;
    return m;
  }
  // is_log_prefix says whether `s` is librnp's "[func() file:line] ".
  static bool is_log_prefix(std::string_view s) {
    if (s.size() < 8 || s.front() != '[' || s.substr(s.size() - 2) != "] ") return false;
    const size_t call = s.find("() ");
    const size_t colon = s.rfind(':');
    return call != std::string_view::npos && colon != std::string_view::npos && colon > call &&
           std::all_of(s.begin() + static_cast<std::ptrdiff_t>(colon) + 1, s.end() - 2,
                       [](char c) { return c >= '0' && c <= '9'; });
  }
  static ssize_t write(void*, const char* buf, size_t size) {
    static bool dropping = false;  // inside one of librnp's lines
    const std::string_view chunk(buf, size);
    if (dropping || is_log_prefix(chunk)) {
      dropping = chunk.find('\n') == std::string_view::npos;
      return static_cast<ssize_t>(size);
    }
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::write(2, buf + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }
  static FILE* filter() {
    static FILE* f = [] {
      cookie_io_functions_t io{};
      io.write = &QuietRnp::write;
      FILE* s = ::fopencookie(nullptr, "w", io);
      if (s != nullptr) ::setvbuf(s, nullptr, _IONBF, 0);
      return s;
    }();
    return f != nullptr ? f : stderr;
  }
  std::lock_guard<std::recursive_mutex> lock_;
  FILE* saved_;
};

// Rnp holds one librnp context; Key, Input and Output free what librnp
// hands out.
class Rnp {
 public:
  Rnp() {
    if (rnp_ffi_create(&ffi_, "GPG", "GPG") != RNP_SUCCESS) ffi_ = nullptr;
  }
  ~Rnp() {
    if (ffi_ != nullptr) rnp_ffi_destroy(ffi_);
  }
  Rnp(const Rnp&) = delete;
  Rnp& operator=(const Rnp&) = delete;
  rnp_ffi_t get() const { return ffi_; }

 private:
  rnp_ffi_t ffi_ = nullptr;
};

struct Key {
  rnp_key_handle_t h = nullptr;
  Key() = default;
  explicit Key(rnp_key_handle_t k) : h(k) {}
  Key(Key&& o) noexcept : h(o.h) { o.h = nullptr; }
  Key& operator=(Key&& o) noexcept {
    std::swap(h, o.h);
    return *this;
  }
  ~Key() {
    if (h != nullptr) rnp_key_handle_destroy(h);
  }
};

struct Input {
  rnp_input_t in = nullptr;
  ~Input() {
    if (in != nullptr) rnp_input_destroy(in);
  }
};

struct Output {
  rnp_output_t out = nullptr;
  ~Output() {
    if (out != nullptr) rnp_output_destroy(out);
  }
};

// take_string copies and frees a string librnp allocated.
std::string take_string(char* s) {
  std::string out = s != nullptr ? s : "";
  rnp_buffer_destroy(s);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// key_id returns "0x" + the key's id, lower-case.
std::string key_id(rnp_key_handle_t k) {
  char* id = nullptr;
  if (rnp_key_get_keyid(k, &id) != RNP_SUCCESS) return "0x?";
  return "0x" + lower(take_string(id));
}

bool flag(rnp_result_t (*fn)(rnp_key_handle_t, bool*), rnp_key_handle_t k) {
  bool b = false;
  return fn(k, &b) == RNP_SUCCESS && b;
}

bool allows(rnp_key_handle_t k, const char* usage) {
  bool b = false;
  return rnp_key_allows_usage(k, usage, &b) == RNP_SUCCESS && b;
}

// load reads a keyring (binary or armored) into `ffi`.
Status load(const Rnp& ffi, std::span<const uint8_t> data, uint32_t flags) {
  if (ffi.get() == nullptr)
    return pgp_internal::rnp_loaded() ? Internal("librnp: cannot create a context")
                                      : Unsupported(pgp_internal::rnp_load_error());
  Input in;
  if (rnp_input_from_memory(&in.in, data.data(), data.size(), false) != RNP_SUCCESS)
    return Internal("librnp: cannot read memory");
  const rnp_result_t r = rnp_load_keys(ffi.get(), "GPG", in.in, flags);
  if (r != RNP_SUCCESS)
    return DataError(std::string("OpenPGP keyring does not parse (") + rnp_result_to_string(r) +
                     ")");
  size_t n = 0;
  if ((flags & RNP_LOAD_SAVE_SECRET_KEYS) != 0 && (flags & RNP_LOAD_SAVE_PUBLIC_KEYS) == 0)
    rnp_get_secret_key_count(ffi.get(), &n);
  else
    rnp_get_public_key_count(ffi.get(), &n);
  if (n == 0) return DataError("OpenPGP keyring does not parse (no keys in it)");
  return Status::Ok();
}

// encryption_key returns the newest valid subkey of `primary` that may
// encrypt, or an empty Key.
Key encryption_key(rnp_key_handle_t primary) {
  Key best;
  uint32_t best_created = 0;
  size_t n = 0;
  rnp_key_get_subkey_count(primary, &n);
  for (size_t i = 0; i < n; ++i) {
    Key sub;
    if (rnp_key_get_subkey_at(primary, i, &sub.h) != RNP_SUCCESS) continue;
    uint32_t created = 0;
    rnp_key_get_creation(sub.h, &created);
    if (!allows(sub.h, "encrypt") || !flag(rnp_key_is_valid, sub.h)) continue;
    if (best.h == nullptr || created >= best_created) {
      best = std::move(sub);
      best_created = created;
    }
  }
  return best;
}

// trim drops spaces and tabs at both ends.
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// without_comments drops "(...)" comments (nested), as Go's phrase parser
// skips them.
std::string without_comments(std::string_view s) {
  std::string out;
  int depth = 0;
  for (char c : s) {
    if (c == '(') ++depth;
    if (depth == 0) out += c;
    if (c == ')' && depth > 0) --depth;
  }
  return std::string(trim(out));
}

bool is_address(std::string_view a) {
  const size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  return std::none_of(a.begin(), a.end(), [](char c) {
    return c == ' ' || c == '<' || c == '>' || c == '\t' || c == '"';
  });
}

}  // namespace

std::optional<PgpAddress> parse_pgp_user_id(std::string_view uid) {
  uid = trim(uid);
  PgpAddress out;
  const size_t lt = uid.rfind('<');
  if (!uid.empty() && uid.back() == '>' && lt != std::string_view::npos) {
    out.address = std::string(trim(uid.substr(lt + 1, uid.size() - lt - 2)));
    std::string name = without_comments(uid.substr(0, lt));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      std::string unq;  // a quoted string: \x stands for x
      for (size_t i = 1; i + 1 < name.size(); ++i) {
        if (name[i] == '\\' && i + 2 < name.size()) ++i;
        unq += name[i];
      }
      name = unq;
    }
    out.name = name;
  } else {
    out.address = without_comments(uid);
  }
  if (!is_address(out.address)) return std::nullopt;
  return out;
}

PgpKeyringKind pgp_keyring_kind(std::span<const uint8_t> data) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()),
                              std::min<size_t>(data.size(), 4096));
  if (text.find("-----BEGIN PGP PRIVATE KEY BLOCK-----") != std::string_view::npos)
    return PgpKeyringKind::kSecret;
  if (text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----") != std::string_view::npos)
    return PgpKeyringKind::kPublic;
  if (data.empty() || (data[0] & 0x80) == 0) return PgpKeyringKind::kNone;
  const uint8_t tag = (data[0] & 0x40) != 0 ? (data[0] & 0x3f) : ((data[0] >> 2) & 0x0f);
  if (tag == 5) return PgpKeyringKind::kSecret;
  if (tag == 6) return PgpKeyringKind::kPublic;
  return PgpKeyringKind::kNone;
}

StatusOr<std::vector<PgpRecipient>> find_pgp_recipients(
    std::shared_ptr<const std::vector<uint8_t>> pubring, std::string_view name) {
  QuietRnp quiet;
  if (!pubring || pubring->empty())
    return KeyError("no OpenPGP public keyring to look up pgp recipient " +
                    quoted_for_message(name) + " in");
  Rnp ffi;
  LC_RETURN_IF_ERROR(load(ffi, *pubring, RNP_LOAD_SAVE_PUBLIC_KEYS));
  rnp_identifier_iterator_t it = nullptr;
  if (rnp_identifier_iterator_create(ffi.get(), &it, "fingerprint") != RNP_SUCCESS)
    return Internal("librnp: cannot list keys");
  std::vector<PgpRecipient> out;
  std::string unusable;
  size_t primaries = 0;
  const char* fp = nullptr;
  while (rnp_identifier_iterator_next(it, &fp) == RNP_SUCCESS && fp != nullptr) {
    Key k;
    if (rnp_locate_key(ffi.get(), "fingerprint", fp, &k.h) != RNP_SUCCESS || k.h == nullptr ||
        !flag(rnp_key_is_primary, k.h))
      continue;
    ++primaries;
    size_t uids = 0;
    rnp_key_get_uid_count(k.h, &uids);
    bool match = false;
    for (size_t i = 0; i < uids && !match; ++i) {
      char* uid = nullptr;
      if (rnp_key_get_uid_at(k.h, i, &uid) != RNP_SUCCESS) continue;
      const auto addr = parse_pgp_user_id(take_string(uid));
      match = addr && (addr->name == name || addr->address == name);
    }
    if (!match) continue;
    Key enc = encryption_key(k.h);
    std::string id;
    if (enc.h != nullptr)
      id = key_id(enc.h);
    else if (allows(k.h, "encrypt") && flag(rnp_key_is_valid, k.h))
      id = key_id(k.h);
    if (id.empty()) {
      unusable = key_id(k.h);
      continue;
    }
    out.push_back({std::string(name), fp, id, pubring});
  }
  rnp_identifier_iterator_destroy(it);
  if (out.empty() && !unusable.empty())
    return KeyError("pgp recipient " + quoted_for_message(name) + ": key " + unusable +
                    " has no encryption key valid now (expired or revoked?)");
  if (out.empty())
    return KeyError("no key matches pgp recipient " + quoted_for_message(name) + " (searched " +
                    std::to_string(primaries) + (primaries == 1 ? " key" : " keys") +
                    "; a recipient must equal a user id's name or email address exactly)");
  return out;
}

StatusOr<std::vector<uint8_t>> pgp_encrypt(std::span<const uint8_t> plain,
                                           const std::vector<PgpRecipient>& recipients) {
  QuietRnp quiet;
  if (recipients.empty()) return InvalidArgument("no pgp recipients");
  Rnp ffi;
  // Usually every recipient comes from the same keyring: load each once.
  std::vector<const std::vector<uint8_t>*> loaded;
  for (const auto& r : recipients) {
    if (!r.pubring) return Internal("pgp recipient without a keyring");
    if (std::find(loaded.begin(), loaded.end(), r.pubring.get()) != loaded.end()) continue;
    LC_RETURN_IF_ERROR(load(ffi, *r.pubring, RNP_LOAD_SAVE_PUBLIC_KEYS));
    loaded.push_back(r.pubring.get());
  }
  Input in;
  Output out;
  rnp_op_encrypt_t op = nullptr;
  if (rnp_input_from_memory(&in.in, plain.data(), plain.size(), false) != RNP_SUCCESS ||
      rnp_output_to_memory(&out.out, 0) != RNP_SUCCESS ||
      rnp_op_encrypt_create(&op, ffi.get(), in.in, out.out) != RNP_SUCCESS)
    return Internal("librnp: cannot start encryption");
  struct OpGuard {
    rnp_op_encrypt_t op;
    ~OpGuard() { rnp_op_encrypt_destroy(op); }
  } guard{op};
  std::vector<std::string> added;
  for (const auto& r : recipients) {
    if (std::find(added.begin(), added.end(), r.key_id) != added.end()) continue;
    Key k;
    const std::string id = r.key_id.substr(2);
    if (rnp_locate_key(ffi.get(), "keyid", id.c_str(), &k.h) != RNP_SUCCESS || k.h == nullptr)
      return KeyError("pgp recipient " + quoted_for_message(r.name) + ": key " + r.key_id +
                      " is not in the keyring");
    if (rnp_op_encrypt_add_recipient(op, k.h) != RNP_SUCCESS)
      return KeyError("pgp recipient " + quoted_for_message(r.name) + ": key " + r.key_id +
                      " cannot encrypt");
    added.push_back(r.key_id);
  }
  // Go's GPGDefaultEncryptConfig: AES-256, no compression, no AEAD (SEIPD
  // v1 with MDC); an empty file name and a zero date, as Go writes.
  if (rnp_op_encrypt_set_cipher(op, RNP_ALGNAME_AES_256) != RNP_SUCCESS ||
      rnp_op_encrypt_set_aead(op, "None") != RNP_SUCCESS ||
      rnp_op_encrypt_set_compression(op, "Uncompressed", 0) != RNP_SUCCESS ||
      rnp_op_encrypt_set_armor(op, false) != RNP_SUCCESS ||
      rnp_op_encrypt_set_file_name(op, "") != RNP_SUCCESS ||
      rnp_op_encrypt_set_file_mtime(op, 0) != RNP_SUCCESS)
    return Internal("librnp: cannot set the encryption parameters");
  const rnp_result_t r = rnp_op_encrypt_execute(op);
  if (r != RNP_SUCCESS)
    return Internal(std::string("librnp: encryption failed (") + rnp_result_to_string(r) + ")");
  uint8_t* buf = nullptr;
  size_t len = 0;
  if (rnp_output_memory_get_buf(out.out, &buf, &len, false) != RNP_SUCCESS)
    return Internal("librnp: no output");
  return std::vector<uint8_t>(buf, buf + len);
}

Status check_pgp_secret_keyring(std::span<const uint8_t> keyring) {
  // The packet framing only: keys are read when keys directories and
  // payloads are, for every layer, and librnp is loaded when a pgp blob
  // needs it (pgp_decrypt parses the keys then).
  if (!keyring.empty() && (keyring[0] & 0x80) != 0) {  // binary: the framing first
    auto packets = parse_pgp_packets(keyring);
    if (!packets.ok())
      return DataError("OpenPGP keyring does not parse (" + packets.status().message() + ")");
  }
  switch (pgp_keyring_kind(keyring)) {
    case PgpKeyringKind::kSecret:
      return Status::Ok();
    case PgpKeyringKind::kPublic:
      return KeyError("OpenPGP keyring has no secret key (a public keyring?)");
    case PgpKeyringKind::kNone:
      break;
  }
  return DataError("OpenPGP keyring does not parse (not a keyring)");
}

namespace {

struct PassContext {
  const kernels::SecretBytes* password;
};

bool give_password(rnp_ffi_t, void* ctx, rnp_key_handle_t, const char*, char buf[],
                   size_t buf_len) {
  const auto* p = static_cast<PassContext*>(ctx)->password;
  if (p == nullptr || p->size() + 1 > buf_len) return false;
  std::memcpy(buf, p->data(), p->size());
  buf[p->size()] = '\0';
  return true;
}

bool append_plain(void* ctx, const void* buf, size_t len) {
  auto* out = static_cast<kernels::SecretBytes*>(ctx);
  const auto* b = static_cast<const uint8_t*>(buf);
  out->insert(out->end(), b, b + len);
  return true;
}

void close_plain(void* ctx, bool discard) {
  if (discard) static_cast<kernels::SecretBytes*>(ctx)->clear();
}

}  // namespace

StatusOr<kernels::SecretBytes> pgp_decrypt(std::span<const uint8_t> blob, const PgpMessage& message,
                                           std::span<const uint8_t> keyring,
                                           const std::optional<kernels::SecretBytes>& password) {
  QuietRnp quiet;
  Rnp ffi;
  LC_RETURN_IF_ERROR(load(ffi, keyring, RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_SECRET_KEYS));
  size_t secret = 0;
  rnp_get_secret_key_count(ffi.get(), &secret);
  if (secret == 0) return KeyError("OpenPGP keyring has no secret key (a public keyring?)");
  std::string wanted;
  std::vector<Key> held;
  for (const PgpPkesk& p : message.pkesks) {
    if (p.version != 3) continue;
    const std::string id = pgp_key_id_hex(p.key_id);
    wanted += (wanted.empty() ? "" : ", ") + id;
    Key k;
    if (rnp_locate_key(ffi.get(), "keyid", id.substr(2).c_str(), &k.h) == RNP_SUCCESS &&
        k.h != nullptr && flag(rnp_key_have_secret, k.h))
      held.push_back(std::move(k));
  }
  if (held.empty())
    return KeyError(
        "the message is for key" + std::string(message.pkesks.size() == 1 ? " " : "s ") +
        (wanted.empty() ? "(none named)" : wanted) + ", none of which the keyring holds");
  // A protected key is unlocked here first, so that a wrong passphrase is
  // named as such rather than as a failed decryption.
  std::optional<kernels::SecretBytes> pw;
  if (password) {
    pw = *password;
    pw->push_back(0);
  }
  std::string why;
  size_t usable = 0;
  for (const Key& k : held) {
    if (!flag(rnp_key_is_protected, k.h)) {
      ++usable;
      continue;
    }
    if (!pw) {
      why = "key " + key_id(k.h) + " is protected by a passphrase and none was given";
      continue;
    }
    if (rnp_key_unlock(k.h, reinterpret_cast<const char*>(pw->data())) != RNP_SUCCESS) {
      why = "wrong passphrase for key " + key_id(k.h);
      continue;
    }
    ++usable;
  }
  if (usable == 0) return KeyError(why);
  PassContext ctx{password ? &*password : nullptr};
  rnp_ffi_set_pass_provider(ffi.get(), give_password, &ctx);
  kernels::SecretBytes plain;
  Input in;
  Output out;
  if (rnp_input_from_memory(&in.in, blob.data(), blob.size(), false) != RNP_SUCCESS ||
      rnp_output_to_callback(&out.out, append_plain, close_plain, &plain) != RNP_SUCCESS)
    return Internal("librnp: cannot start decryption");
  const rnp_result_t r = rnp_decrypt(ffi.get(), in.in, out.out);
  rnp_output_destroy(out.out);  // before `plain` moves: the closer still points at it
  out.out = nullptr;
  for (const Key& k : held) rnp_key_lock(k.h);
  if (r != RNP_SUCCESS) {
    plain.clear();
    return KeyError(std::string("decryption failed (") + rnp_result_to_string(r) +
                    "; the message may have been modified)");
  }
  return plain;
}

}  // namespace layercrypt
