// engine/oci_layout.cc: see oci_layout.h.
#include "engine/oci_layout.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "kernels/sha256.h"

namespace layercrypt {
namespace {

constexpr std::string_view kLayoutFileContent = R"({"imageLayoutVersion":"1.0.0"})";

std::string errno_text() { return std::strerror(errno); }

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string to_hex(const uint8_t* p, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = kHex[p[i] >> 4];
    s[2 * i + 1] = kHex[p[i] & 15];
  }
  return s;
}

Status mkdir_p(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    const size_t next = path.find('/', pos);
    cur = path.substr(0, next == std::string::npos ? path.size() : next);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      return IoError("cannot create directory " + cur + ": " + errno_text());
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return Status::Ok();
}

Status fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory " + dir + ": " + errno_text());
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IoError("cannot sync directory " + dir + ": " + errno_text());
  return Status::Ok();
}

std::string temp_name(const std::string& dir, std::string_view stem) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return dir + "/." + std::string(stem) + "-" + buf + ".tmp";
}

Status write_all(int fd, const uint8_t* p, size_t n, const std::string& name) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot write " + name + ": " + errno_text());
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

// write_file_atomically writes `data` to `path` through a temporary file in
// the same directory, fsync and rename.
Status write_file_atomically(const std::string& dir, const std::string& path,
                             std::span<const uint8_t> data) {
  const std::string tmp = temp_name(dir, "write");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create " + tmp + ": " + errno_text());
  Status st = write_all(fd, data.data(), data.size(), tmp);
  if (st.ok() && ::fsync(fd) != 0) st = IoError("cannot sync " + tmp + ": " + errno_text());
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = IoError("cannot rename " + tmp + " to " + path + ": " + errno_text());
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return fsync_dir(dir);
}

StatusOr<std::vector<uint8_t>> read_small_file(const std::string& path, size_t max_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open " + path + ": " + errno_text());
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      const Status st = IoError("cannot read " + path + ": " + errno_text());
      ::close(fd);
      return st;
    }
    if (r == 0) break;
    out.insert(out.end(), buf, buf + r);
    if (out.size() > max_size) {
      ::close(fd);
      return DataError(path + " is larger than " + std::to_string(max_size) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

StatusOr<Json> parse_json(std::span<const uint8_t> bytes, const std::string& what) {
  Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataError(what + " is not valid JSON");
  if (!j.is_object()) return DataError(what + " is not a JSON object");
  return j;
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!(alnum || c == '_' || (i > 0 && (c == '.' || c == '-')))) return false;
  }
  return true;
}

}  // namespace

StatusOr<OciRef> parse_oci_ref(std::string_view spec) {
  if (spec.rfind("oci-archive:", 0) == 0 || spec.rfind("docker://", 0) == 0 ||
      spec.rfind("docker-archive:", 0) == 0) {
    std::string msg(spec);
    msg.append(" is not an OCI layout directory; use PATH or PATH:TAG (convert it with `skopeo copy ")
        .append(spec)
        .append(" oci:PATH:TAG` first)");
    return InvalidArgument(std::move(msg));
  }
  if (spec.rfind("oci:", 0) == 0) spec.remove_prefix(4);
  OciRef ref;
  const size_t colon = spec.rfind(':');
  if (colon != std::string_view::npos && valid_tag(spec.substr(colon + 1))) {
    ref.path = std::string(spec.substr(0, colon));
    ref.tag = std::string(spec.substr(colon + 1));
  } else {
    ref.path = std::string(spec);
  }
  if (ref.path.empty()) return InvalidArgument("empty image path in '" + std::string(spec) + "'");
  while (ref.path.size() > 1 && ref.path.back() == '/') ref.path.pop_back();
  return ref;
}

std::string digest_string(const std::array<uint8_t, 32>& sha256) {
  return "sha256:" + to_hex(sha256.data(), sha256.size());
}

// ---------------------------------------------------------------------------
// BlobWriter

struct BlobWriter::State {
  std::string blobs_dir, tmp_path;
  int fd = -1;
  bool hashing = true;
  uint64_t flushed = 0;  // bytes whose writeback was started
  kernels::Sha256 hash;
  bool committed = false;
};

BlobWriter::~BlobWriter() {
  if (s_ == nullptr) return;
  if (s_->fd >= 0) ::close(s_->fd);
  if (!s_->committed && !s_->tmp_path.empty()) ::unlink(s_->tmp_path.c_str());
}

Status BlobWriter::write(const uint8_t* data, size_t len) {
  if (s_->committed || s_->fd < 0) return Internal("blob writer already committed");
  if (s_->hashing && !s_->hash.update(data, len)) return Internal("sha256 failed");
  LC_RETURN_IF_ERROR(write_all(s_->fd, data, len, s_->tmp_path));
  bytes_ += len;
  // Start writeback of every full 8 MiB behind us, so that the fsync in
  // commit finds little left to do and the disk works while we compute.
  constexpr uint64_t kFlushStep = uint64_t{8} << 20;
  if (bytes_ - s_->flushed >= 2 * kFlushStep) {
    const uint64_t upto = bytes_ - kFlushStep;
    ::sync_file_range(s_->fd, static_cast<off_t>(s_->flushed),
                      static_cast<off_t>(upto - s_->flushed), SYNC_FILE_RANGE_WRITE);
    s_->flushed = upto;
  }
  return Status::Ok();
}

StatusOr<std::string> BlobWriter::commit() {
  if (s_->committed || s_->fd < 0) return Internal("blob writer already committed");
  if (!s_->hashing) return Internal("commit() on a blob writer that does not hash");
  std::array<uint8_t, 32> d{};
  if (!s_->hash.final(d.data(), d.size())) return Internal("sha256 failed");
  return commit_as(digest_string(d));
}

StatusOr<std::string> BlobWriter::commit_as(const std::string& digest) {
  if (s_->committed || s_->fd < 0) return Internal("blob writer already committed");
  if (digest.size() != 71 || digest.rfind("sha256:", 0) != 0 || !is_hex64(digest.substr(7)))
    return Internal("malformed digest for a new blob: " + digest);
  if (::fsync(s_->fd) != 0) return IoError("cannot sync " + s_->tmp_path + ": " + errno_text());
  ::close(s_->fd);
  s_->fd = -1;
  const std::string final_path = s_->blobs_dir + "/" + digest.substr(7);
  if (::rename(s_->tmp_path.c_str(), final_path.c_str()) != 0)
    return IoError("cannot rename " + s_->tmp_path + " to " + final_path + ": " + errno_text());
  s_->committed = true;
  LC_RETURN_IF_ERROR(fsync_dir(s_->blobs_dir));
  return digest;
}

// ---------------------------------------------------------------------------
// OciLayout

StatusOr<OciLayout> OciLayout::open(const std::string& dir) {
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0)
    return IoError("image " + dir + " does not exist (" + errno_text() + ")");
  if (!S_ISDIR(st.st_mode))
    return InvalidArgument(dir + " is not a directory; an OCI layout is a directory "
                                 "(an oci-archive tar must be unpacked first)");
  auto layout_file = read_small_file(dir + "/oci-layout", 4096);
  if (!layout_file.ok())
    return DataError(dir + " is not an OCI image layout: no readable oci-layout file");
  auto lj = parse_json(*layout_file, dir + "/oci-layout");
  if (!lj.ok()) return lj.status();
  const auto v = lj->find("imageLayoutVersion");
  if (v == lj->end() || !v->is_string() || *v != "1.0.0")
    return Unsupported(dir + "/oci-layout: imageLayoutVersion is not 1.0.0");
  auto idx_bytes = read_small_file(dir + "/index.json", size_t{64} << 20);
  if (!idx_bytes.ok()) return idx_bytes.status().with_context("OCI layout " + dir);
  auto idx = parse_json(*idx_bytes, dir + "/index.json");
  if (!idx.ok()) return idx.status();
  if (!idx->contains("manifests") || !(*idx)["manifests"].is_array())
    return DataError(dir + "/index.json has no \"manifests\" array");
  OciLayout l;
  l.dir_ = dir;
  l.index_ = std::move(*idx);
  return l;
}

StatusOr<OciLayout> OciLayout::open_or_create(const std::string& dir) {
  struct stat st{};
  if (::stat((dir + "/oci-layout").c_str(), &st) == 0 &&
      ::stat((dir + "/index.json").c_str(), &st) == 0)
    return open(dir);
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return InvalidArgument(dir + " exists and is not a directory");
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return IoError("cannot read directory " + dir + ": " + errno_text());
    bool empty = true;
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != ".." && n != "oci-layout" && n != "blobs") empty = false;
    }
    ::closedir(d);
    if (!empty)
      return InvalidArgument(dir + " exists, is not empty and is not an OCI layout; "
                                   "choose a new directory");
  }
  LC_RETURN_IF_ERROR(mkdir_p(dir + "/blobs/sha256"));
  if (::stat((dir + "/oci-layout").c_str(), &st) != 0) {
    LC_RETURN_IF_ERROR(write_file_atomically(
        dir, dir + "/oci-layout",
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kLayoutFileContent.data()),
                                 kLayoutFileContent.size())));
  }
  OciLayout l;
  l.dir_ = dir;
  l.index_ = Json::object();
  l.index_["schemaVersion"] = 2;
  l.index_["manifests"] = Json::array();
  return l;
}

StatusOr<std::string> OciLayout::blob_path(std::string_view digest) const {
  if (digest.rfind("sha256:", 0) != 0)
    return Unsupported("digest '" + std::string(digest) + "' is not sha256 (only sha256 is supported)");
  if (!is_hex64(digest.substr(7)))
    return DataError("malformed digest '" + std::string(digest) + "'");
  return dir_ + "/blobs/sha256/" + std::string(digest.substr(7));
}

bool OciLayout::has_blob(std::string_view digest) const {
  auto p = blob_path(digest);
  struct stat st{};
  return p.ok() && ::stat(p->c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

StatusOr<std::vector<uint8_t>> OciLayout::read_blob(std::string_view digest, int64_t size,
                                                    size_t max_size) const {
  LC_ASSIGN_OR_RETURN(std::string path, blob_path(digest));
  if (size < 0 || static_cast<uint64_t>(size) > max_size)
    return DataError("blob " + std::string(digest) + " has a bad or too large size " +
                     std::to_string(size));
  auto bytes = read_small_file(path, max_size);
  if (!bytes.ok()) return bytes.status().with_context("missing or unreadable blob");
  if (bytes->size() != static_cast<uint64_t>(size))
    return IntegrityError("blob " + path + " is " + std::to_string(bytes->size()) +
                          " bytes, its descriptor says " + std::to_string(size));
  std::array<uint8_t, 32> d{};
  if (!kernels::sha256(bytes->data(), bytes->size(), d.data(), d.size()))
    return Internal("sha256 failed");
  if (digest_string(d) != digest)
    return IntegrityError("blob " + path + " does not match its digest (content is " +
                          digest_string(d) + ")");
  return bytes;
}

StatusOr<Json> OciLayout::read_json_blob(std::string_view digest, int64_t size) const {
  LC_ASSIGN_OR_RETURN(auto bytes, read_blob(digest, size));
  return parse_json(bytes, "blob " + std::string(digest));
}

StatusOr<int> OciLayout::open_blob(std::string_view digest) const {
  LC_ASSIGN_OR_RETURN(std::string path, blob_path(digest));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("missing or unreadable blob " + path + ": " + errno_text());
  return fd;
}

StatusOr<std::unique_ptr<BlobWriter>> OciLayout::new_blob(bool hash) const {
  std::unique_ptr<BlobWriter> w(new BlobWriter());
  w->s_ = std::make_unique<BlobWriter::State>();
  w->s_->hashing = hash;
  w->s_->blobs_dir = dir_ + "/blobs/sha256";
  w->s_->tmp_path = temp_name(w->s_->blobs_dir, "blob");
  w->s_->fd = ::open(w->s_->tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (w->s_->fd < 0) {
    const Status st = IoError("cannot create " + w->s_->tmp_path + ": " + errno_text());
    w->s_->tmp_path.clear();
    return st;
  }
  if (!w->s_->hash.ok()) return Internal("sha256 unavailable");
  return w;
}

StatusOr<std::string> OciLayout::put_blob(std::span<const uint8_t> data) const {
  LC_ASSIGN_OR_RETURN(auto w, new_blob());
  LC_RETURN_IF_ERROR(w->write(data.data(), data.size()));
  return w->commit();
}

StatusOr<std::string> OciLayout::put_json_blob(const Json& json) const {
  const std::string text = json.dump();
  return put_blob(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Status OciLayout::copy_blob_from(const OciLayout& src, std::string_view digest, int64_t size) const {
  if (has_blob(digest)) return Status::Ok();
  LC_ASSIGN_OR_RETURN(std::string from, src.blob_path(digest));
  LC_ASSIGN_OR_RETURN(std::string to, blob_path(digest));
  if (::link(from.c_str(), to.c_str()) == 0) return Status::Ok();
  const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("missing or unreadable blob " + from + ": " + errno_text());
  VerifyingSource in(fd, from, std::string(digest), size);
  auto w = new_blob();
  if (!w.ok()) return w.status();
  std::vector<uint8_t> buf(size_t{1} << 20);
  for (;;) {
    auto n = in.read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    LC_RETURN_IF_ERROR((*w)->write(buf.data(), *n));
  }
  auto d = (*w)->commit();
  if (!d.ok()) return d.status();
  return Status::Ok();
}

Status OciLayout::write_index(const Json& index) {
  const std::string text = index.dump();
  LC_RETURN_IF_ERROR(write_file_atomically(
      dir_, dir_ + "/index.json",
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  index_ = index;
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// VerifyingSource

struct VerifyingSource::Hash {
  kernels::Sha256 sha;
};

VerifyingSource::VerifyingSource(int fd, std::string name, std::string expected_digest,
                                 int64_t expected_size)
    : fd_(fd),
      inner_(fd, name),
      name_(std::move(name)),
      expected_digest_(std::move(expected_digest)),
      expected_size_(expected_size),
      hash_(std::make_unique<Hash>()) {}

VerifyingSource::~VerifyingSource() {
  if (fd_ >= 0) ::close(fd_);
}

StatusOr<size_t> VerifyingSource::read(uint8_t* out, size_t cap) {
  auto n = inner_.read(out, cap);
  if (!n.ok() || !first_pass_) return n;
  if (*n > 0) {
    hash_->sha.update(out, *n);
    seen_ += *n;
    if (expected_size_ >= 0 && seen_ > static_cast<uint64_t>(expected_size_))
      return IntegrityError("blob " + name_ + " is longer than its descriptor's size " +
                            std::to_string(expected_size_));
    return n;
  }
  first_pass_ = false;
  if (expected_size_ >= 0 && seen_ != static_cast<uint64_t>(expected_size_))
    return IntegrityError("blob " + name_ + " is " + std::to_string(seen_) +
                          " bytes, its descriptor says " + std::to_string(expected_size_));
  std::array<uint8_t, 32> d{};
  if (!hash_->sha.final(d.data(), d.size())) return Internal("sha256 failed");
  if (digest_string(d) != expected_digest_)
    return IntegrityError("blob " + name_ + " does not match its digest " + expected_digest_ +
                          " (content is " + digest_string(d) + ")");
  verified_ = true;
  return n;
}

Status VerifyingSource::rewind() {
  // A rewind before the first pass finished restarts the hash.
  if (first_pass_) {
    hash_->sha.reset();
    seen_ = 0;
  }
  return inner_.rewind();
}

}  // namespace layercrypt
