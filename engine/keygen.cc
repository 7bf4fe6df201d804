// engine/keygen.cc: see keygen.h.
#include "engine/keygen.h"

#include <fcntl.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>  // renameat2 (glibc >= 2.28, _GNU_SOURCE)
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

namespace layercrypt {
namespace {

using kernels::SecretBytes;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// OpensslReason returns OpenSSL's last error reason (no key material is ever
// in it) and clears the thread's error queue.
std::string OpensslReason() {
  const char* reason = ERR_reason_error_string(ERR_peek_last_error());
  std::string r = reason != nullptr ? reason : "unknown error";
  ERR_clear_error();
  return r;
}

struct TypeInfo {
  KeyType type;
  const char* name;
  const char* alg;  // EVP_PKEY_Q_keygen type
  size_t rsa_bits;
  const char* curve;
};

constexpr TypeInfo kTypes[] = {
    {KeyType::kRsa2048, "rsa:2048", "RSA", 2048, nullptr},
    {KeyType::kRsa3072, "rsa:3072", "RSA", 3072, nullptr},
    {KeyType::kRsa4096, "rsa:4096", "RSA", 4096, nullptr},
    {KeyType::kEcP256, "ec:p256", "EC", 0, "P-256"},
    {KeyType::kEcP384, "ec:p384", "EC", 0, "P-384"},
    {KeyType::kEcP521, "ec:p521", "EC", 0, "P-521"},
};

const TypeInfo& InfoOf(KeyType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t;
  return kTypes[0];  // unreachable for valid enumerators
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

// ---- file writing -----------------------------------------------------------

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  return IoError(what + " " + path + ": " + std::strerror(err));
}

Status ExistsStatus(const std::string& path) {
  return InvalidArgument(path + " already exists; use --force to overwrite");
}

// Exists returns true if something (a file, a directory, a dangling symbolic
// link) has the name `path`.
bool Exists(const std::string& path, bool* is_dir) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return false;
  *is_dir = S_ISDIR(st.st_mode);
  return true;
}

Status WriteAll(int fd, const uint8_t* data, size_t len, const std::string& path) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", path, errno);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// TempFile is a fully written, fsynced temporary file that is removed on
// destruction unless it was published.
class TempFile {
 public:
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!path_.empty() && !published_) ::unlink(path_.c_str());
  }

  // create writes `data` to a new file next to `final_path` with `mode`.
  Status create(const std::string& final_path, const uint8_t* data, size_t len, mode_t mode) {
    const std::filesystem::path fp(final_path);
    const std::string dir = fp.has_parent_path() ? fp.parent_path().string() : ".";
    std::string name = ".";
    name += fp.filename().string();
    name += ".tmp-XXXXXX";
    std::string tmpl = (std::filesystem::path(dir) / name).string();
    // mkostemp opens with O_RDWR | O_CREAT | O_EXCL and mode 0600.
    int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("cannot create a temporary file in", dir, errno);
    path_ = tmpl;
    Status s = Fill(fd, data, len, mode);
    if (::close(fd) != 0 && s.ok()) s = ErrnoStatus("cannot write", path_, errno);
    return s;
  }

  const std::string& path() const { return path_; }
  const struct stat& file_stat() const { return st_; }
  void mark_published() { published_ = true; }

 private:
  Status Fill(int fd, const uint8_t* data, size_t len, mode_t mode) {
    // fchmod is not subject to the umask: the modes are exact.
    if (::fchmod(fd, mode) != 0) return ErrnoStatus("cannot set the mode of", path_, errno);
    LC_RETURN_IF_ERROR(WriteAll(fd, data, len, path_));
    if (::fsync(fd) != 0) return ErrnoStatus("cannot sync", path_, errno);
    if (::fstat(fd, &st_) != 0) return ErrnoStatus("cannot stat", path_, errno);
    return Status::Ok();
  }

  std::string path_;
  struct stat st_ = {};
  bool published_ = false;
};

// Publish moves `tmp` to `final_path`. Without `overwrite` it never replaces
// an existing file.
Status Publish(TempFile& tmp, const std::string& final_path, bool overwrite) {
  if (overwrite) {
    if (::rename(tmp.path().c_str(), final_path.c_str()) != 0)
      return ErrnoStatus("cannot rename a temporary file to", final_path, errno);
    tmp.mark_published();
    return Status::Ok();
  }
  if (::renameat2(AT_FDCWD, tmp.path().c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0) {
    tmp.mark_published();
    return Status::Ok();
  }
  if (errno == EEXIST) return ExistsStatus(final_path);
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
    return ErrnoStatus("cannot rename a temporary file to", final_path, errno);
  }
  // The file system has no RENAME_NOREPLACE (NFS, some FUSE): link(2) is
  // also atomic and never replaces; the temporary name is then dropped.
  if (::link(tmp.path().c_str(), final_path.c_str()) != 0) {
    if (errno == EEXIST) return ExistsStatus(final_path);
    return ErrnoStatus("cannot create", final_path, errno);
  }
  return Status::Ok();  // ~TempFile unlinks the temporary name
}

// UnlinkIfOurs removes `path` if it is still the file `tmp` became.
void UnlinkIfOurs(const std::string& path, const TempFile& tmp) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == tmp.file_stat().st_dev &&
      st.st_ino == tmp.file_stat().st_ino) {
    ::unlink(path.c_str());
  }
}

void SyncDir(const std::string& file_path) {
  const std::filesystem::path fp(file_path);
  const std::string dir = fp.has_parent_path() ? fp.parent_path().string() : ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the files themselves are complete
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

const char* key_type_name(KeyType type) { return InfoOf(type).name; }

StatusOr<KeyType> parse_key_type(std::string_view spec) {
  const std::string s = Lower(spec);
  if (s == "rsa") return KeyType::kRsa4096;
  if (s == "ec") return KeyType::kEcP256;
  for (const auto& t : kTypes)
    if (s == t.name) return t.type;
  return InvalidArgument("unknown key type \"" + std::string(spec) +
                         "\"; use rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384 or ec:p521 "
                         "(rsa = rsa:4096, ec = ec:p256)");
}

StatusOr<GeneratedKey> generate_key(KeyType type) {
  const TypeInfo& info = InfoOf(type);
  PkeyPtr pkey(info.curve != nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, info.alg, info.curve)
                                     : EVP_PKEY_Q_keygen(nullptr, nullptr, info.alg, info.rsa_bits));
  if (!pkey) return Internal(std::string("cannot generate a ") + info.name + " key: " + OpensslReason());

  GeneratedKey out;
  {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return Internal("out of memory");
    // OpenSSL 3 writes PKCS#8 PrivateKeyInfo here ("BEGIN PRIVATE KEY").
    const int ok = PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio.get(), &mem);
    if (ok == 1 && mem != nullptr) {
      out.private_pem.assign(mem->data, mem->data + mem->length);
    }
    // Wipe what the BIO holds before BIO_free releases it.
    if (mem != nullptr && mem->data != nullptr) OPENSSL_cleanse(mem->data, mem->max);
    if (ok != 1 || mem == nullptr) {
      return Internal(std::string("cannot encode the ") + info.name + " private key: " + OpensslReason());
    }
  }
  {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return Internal("out of memory");
    if (PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
      return Internal(std::string("cannot encode the ") + info.name + " public key: " + OpensslReason());
    }
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio.get(), &mem);
    if (mem == nullptr) return Internal("cannot read back the public key PEM");
    out.public_pem.assign(mem->data, mem->length);
  }
  return out;
}

Status write_key_files(const GeneratedKey& key, const std::string& out_base, bool overwrite) {
  if (out_base.empty() || out_base.back() == '/') {
    return InvalidArgument("output name \"" + out_base +
                           "\" names no file; give a path such as keys/mykey (writes mykey.pem and "
                           "mykey.pub.pem)");
  }
  const std::string priv_path = out_base + ".pem";
  const std::string pub_path = out_base + ".pub.pem";
  for (const std::string* p : {&priv_path, &pub_path}) {
    bool is_dir = false;
    if (!Exists(*p, &is_dir)) continue;
    if (is_dir) return InvalidArgument(*p + " is a directory; choose another output name");
    if (!overwrite) return ExistsStatus(*p);
  }

  TempFile priv_tmp, pub_tmp;
  LC_RETURN_IF_ERROR(priv_tmp.create(priv_path, key.private_pem.data(), key.private_pem.size(), 0600));
  LC_RETURN_IF_ERROR(pub_tmp.create(pub_path, reinterpret_cast<const uint8_t*>(key.public_pem.data()),
                                    key.public_pem.size(), 0644));

  LC_RETURN_IF_ERROR(Publish(priv_tmp, priv_path, overwrite));
  Status s = Publish(pub_tmp, pub_path, overwrite);
  if (!s.ok()) {
    if (!overwrite) {
      // Both or neither: take back the private key file this call created.
      UnlinkIfOurs(priv_path, priv_tmp);
      return s;
    }
    return Status(s.code(), s.message() + "; " + priv_path +
                                " was already replaced, so the two files no longer match: run again");
  }
  SyncDir(priv_path);
  return Status::Ok();
}

}  // namespace layercrypt
