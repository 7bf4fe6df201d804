// engine/core/atomic_file.cc: see atomic_file.h.
#include "engine/core/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc >= 2.28, _GNU_SOURCE)
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <utility>

#include "engine/core/io.h"

namespace layercrypt {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::string temporary_name(const std::string& dir, std::string_view prefix,
                           std::string_view suffix) {
  // Names need only be unlikely to collide (O_EXCL catches the rest), not
  // unpredictable.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
  std::string name = dir;
  if (name.empty() || name.back() != '/') name += '/';
  return name.append(prefix).append(hex).append(suffix);
}

StatusOr<TempFile> TempFile::create(const std::string& target, const TempFileOptions& options) {
  const size_t slash = target.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : target.substr(0, slash);
  TempFileOptions named = options;
  if (named.name_prefix.empty())
    named.name_prefix =
        "." + (slash == std::string::npos ? target : target.substr(slash + 1)) + ".tmp-";
  return create_in(dir, named);
}

StatusOr<TempFile> TempFile::create_in(const std::string& dir, const TempFileOptions& options) {
  if (options.name_prefix.empty()) return Internal("TempFile::create_in without a name prefix");
  const int flags = (options.readable ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_CLOEXEC;
  // Without the umask, open 0600 and set the exact mode afterwards: the
  // file is never more open than asked for, not even for a moment.
  const mode_t open_mode = options.apply_umask ? options.mode : 0600;
  TempFile t;
  t.dir_ = dir;
  t.registered_ = options.register_temporary;
  int err = EEXIST;
  for (int attempt = 0; attempt < 100 && t.fd_ < 0 && err == EEXIST; ++attempt) {
    std::string path = temporary_name(dir, options.name_prefix, options.name_suffix);
    if (options.register_temporary) {
      // Created and registered in one step: no signal-time cleanup can run
      // between the two.
      TemporaryRegistration reg;
      t.fd_ = ::open(path.c_str(), flags, open_mode);
      err = errno;
      if (t.fd_ >= 0) reg.add(path);
    } else {
      t.fd_ = ::open(path.c_str(), flags, open_mode);
      err = errno;
    }
    if (t.fd_ >= 0) t.path_ = std::move(path);
  }
  if (t.fd_ < 0)
    return IoError("cannot create a temporary file in " + dir + ": " + errno_text(err));
  struct stat st {};
  if ((!options.apply_umask && ::fchmod(t.fd_, options.mode) != 0) || ::fstat(t.fd_, &st) != 0)
    return IoError("cannot set the mode of " + t.path_ + ": " + errno_text(errno));
  t.dev_ = st.st_dev;
  t.ino_ = st.st_ino;
  return t;
}

TempFile::TempFile(TempFile&& other) noexcept { *this = std::move(other); }

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    discard();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::exchange(other.path_, std::string());
    dir_ = std::exchange(other.dir_, std::string());
    registered_ = std::exchange(other.registered_, false);
    published_ = std::exchange(other.published_, false);
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

TempFile::~TempFile() { discard(); }

void TempFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (path_.empty() || published_) return;
  if (registered_) {
    remove_temporary(path_);
  } else {
    ::unlink(path_.c_str());
  }
  path_.clear();
}

Status TempFile::write(std::span<const uint8_t> data) {
  if (const int err = write_fully(fd_, data.data(), data.size()); err != 0)
    return IoError("cannot write " + path_ + ": " + errno_text(err));
  return Status::Ok();
}

Status TempFile::sync() {
  if (::fsync(fd_) != 0) return IoError("cannot sync " + path_ + ": " + errno_text(errno));
  return Status::Ok();
}

Status TempFile::close() {
  if (fd_ < 0) return Status::Ok();
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return IoError("cannot write " + path_ + ": " + errno_text(errno));
  return Status::Ok();
}

Status TempFile::prepare_publish(Durability durability) {
  if (path_.empty() || published_) return Internal("no temporary file to publish");
  if (durability != Durability::kNone && fd_ >= 0) LC_RETURN_IF_ERROR(sync());
  return close();
}

Status TempFile::finish_publish(Durability durability) {
  published_ = true;
  if (durability == Durability::kFileAndDirectory) return fsync_dir(dir_);
  return Status::Ok();
}

Status TempFile::publish(const std::string& final_path, Durability durability) {
  LC_RETURN_IF_ERROR(prepare_publish(durability));
  const int rc = registered_ ? rename_temporary(path_, final_path)
                             : ::rename(path_.c_str(), final_path.c_str());
  if (rc != 0)
    return IoError("cannot rename " + path_ + " to " + final_path + ": " + errno_text(errno));
  return finish_publish(durability);
}

Status TempFile::publish_no_replace(const std::string& final_path, Durability durability,
                                    bool* out_exists) {
  if (out_exists != nullptr) *out_exists = false;
  const auto refuse = [&] {
    if (out_exists != nullptr) *out_exists = true;
    return InvalidArgument(final_path + " exists: refusing to overwrite it");
  };
  LC_RETURN_IF_ERROR(prepare_publish(durability));
  int rc, err;
  {
    std::optional<TemporaryRegistration> reg;  // rename and unregister in one step
    if (registered_) reg.emplace();
    rc = ::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE);
    err = errno;
    if (rc == 0 && reg) reg->forget(path_);
  }
  if (rc == 0) return finish_publish(durability);
  if (err == EEXIST) return refuse();
  if (err != EINVAL && err != ENOSYS && err != ENOTSUP)
    return IoError("cannot rename " + path_ + " to " + final_path + ": " + errno_text(err));
  // No RENAME_NOREPLACE here (NFS, some FUSE): link(2) is atomic and never
  // replaces either; the temporary name is dropped afterwards.
  if (::link(path_.c_str(), final_path.c_str()) != 0) {
    if (errno == EEXIST) return refuse();
    return IoError("cannot create " + final_path + ": " + errno_text(errno));
  }
  if (registered_) {
    remove_temporary(path_);
  } else {
    ::unlink(path_.c_str());
  }
  return finish_publish(durability);
}

void TempFile::unpublish(const std::string& final_path) {
  if (!published_) return;
  struct stat st {};
  if (::lstat(final_path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(final_path.c_str());
}

}  // namespace layercrypt
