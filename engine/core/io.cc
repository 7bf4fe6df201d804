// engine/core/io.cc: POSIX sources and sinks, and the spool.
#include "engine/core/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

namespace layercrypt {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return (t != nullptr && *t != '\0') ? t : "/tmp";
}

// The registry of temporaries (io.h). A leaked heap object, so that it
// outlives every static destructor a dying process may still run.
struct Temporaries {
  std::recursive_mutex mu;            // a holder may create, rename and remove temporaries
  std::map<std::string, bool> paths;  // path -> is a directory
};

Temporaries& temporaries() {
  static Temporaries* t = new Temporaries;
  return *t;
}

void remove_path(const std::string& path, bool directory) {
  if (directory) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  } else {
    ::unlink(path.c_str());
  }
}

}  // namespace

TemporaryRegistration::TemporaryRegistration() { temporaries().mu.lock(); }
TemporaryRegistration::~TemporaryRegistration() { temporaries().mu.unlock(); }
void TemporaryRegistration::add(const std::string& path, bool directory) {
  temporaries().paths[path] = directory;
}

void TemporaryRegistration::forget(const std::string& path) { temporaries().paths.erase(path); }

int rename_temporary(const std::string& from, const std::string& to) {
  std::lock_guard<std::recursive_mutex> lock(temporaries().mu);
  const int rc = ::rename(from.c_str(), to.c_str());
  const int err = errno;
  if (rc == 0) temporaries().paths.erase(from);
  errno = err;
  return rc;
}

void remove_temporary(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(temporaries().mu);
  auto& paths = temporaries().paths;
  const auto it = paths.find(path);
  remove_path(path, it != paths.end() && it->second);
  if (it != paths.end()) paths.erase(it);
}

void unregister_temporary(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(temporaries().mu);
  temporaries().paths.erase(path);
}

void remove_temporaries() {
  temporaries().mu.lock();  // never released: the process is ending
  for (const auto& [path, directory] : temporaries().paths) remove_path(path, directory);
  temporaries().paths.clear();
}

StatusOr<size_t> read_full(ByteSource& source, uint8_t* out, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    auto n = source.read(out + got, cap - got);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    got += *n;
  }
  return got;
}

FdSource::FdSource(int fd, std::string name) : fd_(fd), name_(std::move(name)) {
  struct stat st;
  if (fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
    const off_t pos = lseek(fd_, 0, SEEK_CUR);
    if (pos >= 0) {
      regular_ = true;
      start_ = pos;
      size_ = st.st_size > pos ? static_cast<uint64_t>(st.st_size - pos) : 0;
    }
  }
}

StatusOr<size_t> FdSource::read(uint8_t* out, size_t cap) {
  for (;;) {
    const ssize_t n = ::read(fd_, out, cap);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    return IoError("read " + name_ + ": " + errno_text(errno));
  }
}

Status FdSource::rewind() {
  if (!regular_) return Unsupported(name_ + " is not a regular file and cannot be read twice");
  if (lseek(fd_, start_, SEEK_SET) < 0) return IoError("seek " + name_ + ": " + errno_text(errno));
  return Status::Ok();
}

std::optional<uint64_t> FdSource::size_hint() const {
  if (!regular_) return std::nullopt;
  return size_;
}

FdSink::FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

int write_fully(int fd, const uint8_t* data, size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

Status FdSink::write(const uint8_t* data, size_t len) {
  if (const int err = write_fully(fd_, data, len); err != 0)
    return IoError("write " + name_ + ": " + errno_text(err));
  return Status::Ok();
}

StatusOr<size_t> MemorySource::read(uint8_t* out, size_t cap) {
  const size_t n = std::min(cap, len_ - pos_);
  if (n != 0) std::memcpy(out, data_ + pos_, n);
  pos_ += n;
  return n;
}

StatusOr<std::unique_ptr<PeekSource>> PeekSource::make(ByteSource& inner, size_t len) {
  std::unique_ptr<PeekSource> p(new PeekSource(inner));
  p->head_.resize(len);
  auto n = read_full(inner, p->head_.data(), len);
  if (!n.ok()) return n.status();
  p->head_.resize(*n);
  return p;
}

StatusOr<size_t> PeekSource::read(uint8_t* out, size_t cap) {
  if (replayed_ < head_.size()) {
    const size_t n = std::min(cap, head_.size() - replayed_);
    if (n != 0) std::memcpy(out, head_.data() + replayed_, n);
    replayed_ += n;
    return n;
  }
  return inner_.read(out, cap);
}

Status PeekSource::rewind() {
  LC_RETURN_IF_ERROR(inner_.rewind());
  replayed_ = head_.size();  // the inner source yields the head again itself
  return Status::Ok();
}

Spool::Spool(size_t memory_limit) : memory_limit_(memory_limit) {}

// The spool holds ciphertext, which is not secret: no wiping.
Spool::~Spool() {
  if (fd_ >= 0) ::close(fd_);
}

Status Spool::spill() {
  const std::string dir = temp_dir();
#ifdef O_TMPFILE
  fd_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
  if (fd_ < 0) {
    // Filesystems without O_TMPFILE: a named file, unlinked immediately.
    std::string tmpl = dir + "/layercrypt-spool-XXXXXX";
    fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd_ < 0)
      return IoError("cannot create a spool file in " + dir + ": " + errno_text(errno) +
                     " (set TMPDIR to a writable directory with room for the layer)");
    ::unlink(tmpl.c_str());
    ::fchmod(fd_, 0600);
  }
  FdSink sink(fd_, "spool file in " + dir);
  Status st = sink.write(memory_.data(), memory_.size());
  memory_.clear();
  memory_.shrink_to_fit();
  return st;
}

Status Spool::write(const uint8_t* data, size_t len) {
  if (fd_ < 0 && memory_.size() + len > memory_limit_) LC_RETURN_IF_ERROR(spill());
  if (fd_ >= 0) {
    FdSink sink(fd_, "spool file in " + temp_dir());
    Status st = sink.write(data, len);
    if (!st.ok()) return st.with_context("spooling the layer failed (disk full? set TMPDIR)");
  } else {
    memory_.insert(memory_.end(), data, data + len);
  }
  size_ += len;
  return Status::Ok();
}

std::unique_ptr<ByteSource> Spool::source() {
  if (fd_ < 0) return std::make_unique<MemorySource>(memory_.data(), memory_.size());
  lseek(fd_, 0, SEEK_SET);
  return std::make_unique<FdSource>(fd_, "spool file");
}

StatusOr<std::unique_ptr<AtomicFileSink>> AtomicFileSink::create(const std::string& path) {
  LC_ASSIGN_OR_RETURN(TempFile tmp,
                      TempFile::create(path, {.mode = 0644, .register_temporary = true}));
  return std::unique_ptr<AtomicFileSink>(new AtomicFileSink(std::move(tmp), path));
}

AtomicFileSink::AtomicFileSink(TempFile tmp, std::string path)
    : tmp_(std::move(tmp)), path_(std::move(path)) {}

AtomicFileSink::~AtomicFileSink() = default;  // ~TempFile removes an uncommitted file

Status AtomicFileSink::write(const uint8_t* data, size_t len) {
  if (committed_ || tmp_.fd() < 0) return Internal("write after commit");
  FdSink sink(tmp_.fd(), path_);
  return sink.write(data, len);
}

Status AtomicFileSink::commit() {
  if (committed_) return Status::Ok();
  // The file is synced before the rename; the directory is not.
  LC_RETURN_IF_ERROR(tmp_.publish(path_, Durability::kFile));
  committed_ = true;
  return Status::Ok();
}

bool set_pipe_size(int fd, size_t bytes) {
#ifdef F_SETPIPE_SZ
  return fcntl(fd, F_SETPIPE_SZ, static_cast<int>(bytes)) >= 0;
#else
  (void)fd;
  (void)bytes;
  return false;
#endif
}

Status fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory " + dir + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot sync directory " + dir + ": " + std::strerror(err));
  return Status::Ok();
}

StatusOr<std::vector<uint8_t>> read_file_bounded(const std::string& path, size_t max_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      const Status st = IoError("cannot read " + path + ": " + std::strerror(errno));
      ::close(fd);
      return st;
    }
    if (r == 0) break;
    if (out.size() + static_cast<size_t>(r) > max_size) {
      ::close(fd);
      return DataError(path + " is larger than " + std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), buf, buf + r);
  }
  ::close(fd);
  return out;
}

StatusOr<kernels::SecretBytes> read_secret_file(const std::string& path, size_t max_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  kernels::SecretBytes out;
  out.reserve(4096);
  for (;;) {
    uint8_t buf[4096];
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      kernels::secure_wipe(buf, sizeof buf);
      ::close(fd);
      return IoError("cannot read " + path + ": " + std::strerror(e));
    }
    if (r == 0) break;
    if (out.size() + static_cast<size_t>(r) > max_size) {
      kernels::secure_wipe(buf, sizeof buf);
      ::close(fd);
      return InvalidArgument(path + " is larger than " + std::to_string(max_size) +
                             " bytes; it is not a key file");
    }
    if (out.size() + static_cast<size_t>(r) > out.capacity()) {
      kernels::SecretBytes bigger;
      bigger.reserve(2 * (out.size() + static_cast<size_t>(r)));
      bigger.assign(out.begin(), out.end());
      out.swap(bigger);
    }
    out.insert(out.end(), buf, buf + r);
    kernels::secure_wipe(buf, sizeof buf);
  }
  ::close(fd);
  return out;
}

}  // namespace layercrypt
