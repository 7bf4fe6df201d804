// engine/image/oci_layout.cc: see oci_layout.h.
#include "engine/image/oci_layout.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "engine/core/atomic_file.h"
#include "engine/core/hex.h"
#include "engine/image/oci_archive.h"
#include "kernels/sha256.h"

namespace layercrypt {
namespace {

constexpr std::string_view kLayoutFileContent = R"({"imageLayoutVersion":"1.0.0"})";

std::string errno_text() { return std::strerror(errno); }

bool is_hex64(std::string_view s) { return is_lower_hex(s, 64); }

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

// temp_options are those of the layout's temporary files,
// DIR/.STEM-<16 hex>.tmp: the names open_for_write removes when a killed
// run left them behind.
TempFileOptions temp_options(std::string_view stem) {
  std::string prefix = ".";
  prefix.append(stem).append("-");
  return {.mode = 0644,
          .apply_umask = true,
          .name_prefix = std::move(prefix),
          .name_suffix = ".tmp",
          .register_temporary = true};
}

// write_file_atomically writes `data` to `path` through a temporary file in
// the same directory, fsync and rename; `also_forget` are temporaries
// (io.h) that become part of the output with that rename, unregistered in
// the same step.
Status write_file_atomically(const std::string& dir, const std::string& path,
                             std::span<const uint8_t> data,
                             const std::vector<std::string>& also_forget = {}) {
  LC_ASSIGN_OR_RETURN(TempFile tmp, TempFile::create_in(dir, temp_options("write")));
  LC_RETURN_IF_ERROR(tmp.write(data));
  LC_RETURN_IF_ERROR(tmp.sync());
  {
    TemporaryRegistration reg;
    LC_RETURN_IF_ERROR(tmp.publish(path, Durability::kNone));
    for (const auto& p : also_forget) reg.forget(p);
  }
  return fsync_dir(dir);
}

// holds_only says whether directory `dir` has no entries but `allowed`.
StatusOr<bool> holds_only(const std::string& dir, std::initializer_list<std::string_view> allowed) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return IoError("cannot read directory " + dir + ": " + errno_text());
  bool only = true;
  while (dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n != "." && n != ".." && std::find(allowed.begin(), allowed.end(), n) == allowed.end())
      only = false;
  }
  ::closedir(d);
  return only;
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
  if (spec.rfind("docker://", 0) == 0 || spec.rfind("docker-archive:", 0) == 0 ||
      spec.rfind("docker-daemon:", 0) == 0 || spec.rfind("dir:", 0) == 0) {
    std::string msg(spec);
    msg.append(
           " is not an OCI layout or OCI archive; use [oci:]PATH[:TAG] or oci-archive:PATH[:TAG] "
           "(convert it with `skopeo copy ")
        .append(spec)
        .append(" oci:PATH:TAG` first)");
    return InvalidArgument(std::move(msg));
  }
  OciRef ref;
  bool explicit_kind = false;
  if (spec.rfind("oci-archive:", 0) == 0) {
    spec.remove_prefix(12);
    ref.archive = explicit_kind = true;
  } else if (spec.rfind("oci:", 0) == 0) {
    spec.remove_prefix(4);
    explicit_kind = true;
  }
  const size_t colon = spec.rfind(':');
  if (colon != std::string_view::npos && valid_tag(spec.substr(colon + 1))) {
    ref.path = std::string(spec.substr(0, colon));
    ref.tag = std::string(spec.substr(colon + 1));
  } else {
    ref.path = std::string(spec);
  }
  if (ref.path.empty()) return InvalidArgument("empty image path in '" + std::string(spec) + "'");
  while (ref.path.size() > 1 && ref.path.back() == '/') ref.path.pop_back();
  struct stat st {};
  if (!explicit_kind && ::stat(ref.path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
    ref.archive = true;
  return ref;
}

// ---------------------------------------------------------------------------
// BlobWriter

// PendingBlobs: see OciLayout::pending_.
struct OciLayout::PendingBlobs {
  std::mutex mu;
  std::vector<std::string> paths;
  // add registers `path`, a blob that did not exist before, as a temporary;
  // call it with the registry's lock held (in the rename's registration).
  void add(TemporaryRegistration& reg, const std::string& path) {
    std::lock_guard<std::mutex> lock(mu);
    reg.add(path);
    paths.push_back(path);
  }
};

struct BlobWriter::State {
  std::shared_ptr<OciLayout::PendingBlobs> pending;  // set when writing into an existing layout
  std::string blobs_dir;
  TempFile tmp;                            // the blob's file when written into a layout
  std::shared_ptr<ArchiveWriter> archive;  // set when the blob goes into an archive
  uint64_t data_offset = 0;
  bool member_open = false;
  bool hashing = true;
  uint64_t flushed = 0;  // bytes whose writeback was started
  kernels::Sha256 hash;
  bool committed = false;
};

BlobWriter::~BlobWriter() {
  if (s_ == nullptr) return;
  if (s_->member_open) s_->archive->abort_member(s_->data_offset);
  s_->tmp = TempFile();  // closes the file, and removes it unless committed
}

Status BlobWriter::write(const uint8_t* data, size_t len) {
  if (s_->member_open) {
    if (s_->hashing && !s_->hash.update(data, len)) return Internal("sha256 failed");
    LC_RETURN_IF_ERROR(s_->archive->write_at(s_->data_offset + bytes_, data, len));
    bytes_ += len;
    return Status::Ok();
  }
  if (s_->committed || s_->tmp.fd() < 0) return Internal("blob writer already committed");
  if (s_->hashing && !s_->hash.update(data, len)) return Internal("sha256 failed");
  LC_RETURN_IF_ERROR(s_->tmp.write({data, len}));
  bytes_ += len;
  // Start writeback of every full 8 MiB behind us, so that the fsync in
  // commit finds little left to do and the disk works while we compute.
  constexpr uint64_t kFlushStep = uint64_t{8} << 20;
  if (bytes_ - s_->flushed >= 2 * kFlushStep) {
    const uint64_t upto = bytes_ - kFlushStep;
    ::sync_file_range(s_->tmp.fd(), static_cast<off_t>(s_->flushed),
                      static_cast<off_t>(upto - s_->flushed), SYNC_FILE_RANGE_WRITE);
    s_->flushed = upto;
  }
  return Status::Ok();
}

StatusOr<std::string> BlobWriter::commit() {
  if (s_->committed || (s_->tmp.fd() < 0 && !s_->member_open))
    return Internal("blob writer already committed");
  if (!s_->hashing) return Internal("commit() on a blob writer that does not hash");
  std::array<uint8_t, 32> d{};
  if (!s_->hash.final(d.data(), d.size())) return Internal("sha256 failed");
  return commit_as(sha256_digest_string(d));
}

StatusOr<std::string> BlobWriter::commit_as(const std::string& digest) {
  if (s_->committed || (s_->tmp.fd() < 0 && !s_->member_open))
    return Internal("blob writer already committed");
  if (digest.size() != 71 || digest.rfind("sha256:", 0) != 0 || !is_hex64(digest.substr(7)))
    return Internal("malformed digest for a new blob: " + digest);
  if (s_->member_open) {
    s_->member_open = false;
    s_->committed = true;
    LC_RETURN_IF_ERROR(
        s_->archive->end_member(s_->data_offset, bytes_, "blobs/sha256/" + digest.substr(7)));
    return digest;
  }
  // Synced before the registry's lock is taken: other writers' temporaries
  // need that lock, and a large blob's fsync takes a while.
  LC_RETURN_IF_ERROR(s_->tmp.sync());
  const std::string final_path = s_->blobs_dir + "/" + digest.substr(7);
  {
    TemporaryRegistration reg;
    struct stat st {};
    const bool existed = ::stat(final_path.c_str(), &st) == 0;
    LC_RETURN_IF_ERROR(s_->tmp.publish(final_path, Durability::kNone));
    if (!existed && s_->pending != nullptr) s_->pending->add(reg, final_path);
  }
  s_->committed = true;
  LC_RETURN_IF_ERROR(fsync_dir(s_->blobs_dir));
  return digest;
}

// ---------------------------------------------------------------------------
// OciLayout

StatusOr<OciLayout> OciLayout::open(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return IoError("image " + dir + " does not exist (" + errno_text() + ")");
  if (!S_ISDIR(st.st_mode))
    return InvalidArgument(dir +
                           " is not a directory; an OCI layout is a directory "
                           "(an oci-archive tar must be unpacked first)");
  auto layout_file = read_file_bounded(dir + "/oci-layout", 4096);
  if (!layout_file.ok())
    return DataError(dir + " is not an OCI image layout: no readable oci-layout file");
  auto lj = parse_json(*layout_file, dir + "/oci-layout");
  if (!lj.ok()) return lj.status();
  const auto v = lj->find("imageLayoutVersion");
  if (v == lj->end() || !v->is_string() || *v != "1.0.0")
    return Unsupported(dir + "/oci-layout: imageLayoutVersion is not 1.0.0");
  auto idx_bytes = read_file_bounded(dir + "/index.json", size_t{64} << 20);
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
  struct stat st {};
  if (::stat((dir + "/oci-layout").c_str(), &st) == 0 &&
      ::stat((dir + "/index.json").c_str(), &st) == 0)
    return open(dir);
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return InvalidArgument(dir + " exists and is not a directory");
    LC_ASSIGN_OR_RETURN(bool empty, holds_only(dir, {"oci-layout", "blobs"}));
    if (!empty)
      return InvalidArgument(dir +
                             " exists, is not empty and is not an OCI layout; "
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

StatusOr<OciLayout> OciLayout::open(const OciRef& ref) {
  if (!ref.archive) return open(ref.path);
  struct stat st {};
  if (::stat(ref.path.c_str(), &st) != 0)
    return IoError("image " + ref.path + " does not exist (" + errno_text() + ")");
  if (!S_ISREG(st.st_mode))
    return InvalidArgument(ref.path +
                           " is not a file; an OCI archive is a tar file (for a layout "
                           "directory write oci:" +
                           ref.path + ")");
  LC_ASSIGN_OR_RETURN(auto reader, ArchiveReader::open(ref.path));
  auto layout_file = reader->read_member("oci-layout", 4096);
  if (!layout_file.ok())
    return DataError(ref.path + " is a tar but not an OCI archive: it has no oci-layout file");
  LC_ASSIGN_OR_RETURN(Json lj, parse_json(*layout_file, ref.path + ":oci-layout"));
  const auto v = lj.find("imageLayoutVersion");
  if (v == lj.end() || !v->is_string() || *v != "1.0.0")
    return Unsupported(ref.path + ":oci-layout: imageLayoutVersion is not 1.0.0");
  auto idx_bytes = reader->read_member("index.json", size_t{64} << 20);
  if (!idx_bytes.ok()) return idx_bytes.status().with_context("OCI archive " + ref.path);
  LC_ASSIGN_OR_RETURN(Json idx, parse_json(*idx_bytes, ref.path + ":index.json"));
  if (!idx.contains("manifests") || !idx["manifests"].is_array())
    return DataError(ref.path + ":index.json has no \"manifests\" array");
  OciLayout l;
  l.dir_ = ref.path;
  l.index_ = std::move(idx);
  l.archive_in_ = std::move(reader);
  return l;
}

namespace {

// lock_dir takes an exclusive flock on directory `dir`, waiting for
// another writer to finish.
StatusOr<std::shared_ptr<SharedFd>> lock_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory " + dir + ": " + errno_text());
  auto held = std::make_shared<SharedFd>(fd);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return IoError("cannot lock " + dir + ": " + errno_text());
  }
  return held;
}

// stale_names returns the entries of `dir` named PREFIX<16 hex>.tmp.
std::vector<std::string> stale_names(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n.size() != prefix.size() + 20 || n.substr(0, prefix.size()) != prefix ||
        n.substr(n.size() - 4) != ".tmp")
      continue;
    const std::string_view hex = n.substr(prefix.size(), 16);
    if (hex.find_first_not_of("0123456789abcdef") != std::string_view::npos) continue;
    out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

// remove_stale deletes the files of `dir` named PREFIX<16 hex>.tmp.
void remove_stale(const std::string& dir, const std::string& prefix) {
  for (const auto& n : stale_names(dir, prefix)) ::unlink((dir + "/" + n).c_str());
}

// remove_stale_dirs deletes the directories of `dir` named PREFIX<16 hex>.tmp
// (new layouts of killed runs), with everything in them.
void remove_stale_dirs(const std::string& dir, const std::string& prefix) {
  for (const auto& n : stale_names(dir, prefix)) {
    std::error_code ec;
    std::filesystem::remove_all(dir + "/" + n, ec);
  }
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

StatusOr<OciLayout> OciLayout::open_for_write(const OciRef& ref, bool create) {
  if (ref.archive) {
    const std::string parent = parent_dir(ref.path);
    LC_ASSIGN_OR_RETURN(auto lock, lock_dir(parent));
    remove_stale(parent, archive_temp_prefix(ref.path));
    OciLayout l;
    struct stat st {};
    if (::stat(ref.path.c_str(), &st) == 0 || !create) {
      LC_ASSIGN_OR_RETURN(l, open(ref));
    } else {
      l.dir_ = ref.path;
      l.index_ = Json::object();
      l.index_["schemaVersion"] = 2;
      l.index_["manifests"] = Json::array();
    }
    LC_ASSIGN_OR_RETURN(l.archive_out_, ArchiveWriter::create(ref.path));
    l.lock_ = std::move(lock);
    return l;
  }
  if (ref.path.size() > 1 && ref.path.back() == '/') {
    OciRef trimmed = ref;
    while (trimmed.path.size() > 1 && trimmed.path.back() == '/') trimmed.path.pop_back();
    return open_for_write(trimmed, create);
  }
  struct stat st {};
  const bool is_layout = ::stat((ref.path + "/oci-layout").c_str(), &st) == 0 &&
                         ::stat((ref.path + "/index.json").c_str(), &st) == 0;
  if (!is_layout && create) {
    // A new layout: lock the directory that will hold it first, then look
    // again (another writer may have created it while this one waited).
    const std::string parent = parent_dir(ref.path);
    LC_RETURN_IF_ERROR(mkdir_p(parent));
    LC_ASSIGN_OR_RETURN(auto parent_lock, lock_dir(parent));
    if (::stat((ref.path + "/oci-layout").c_str(), &st) != 0 ||
        ::stat((ref.path + "/index.json").c_str(), &st) != 0)
      return create_new(ref.path, std::move(parent_lock));
  }
  // Lock, then (re)read index.json: another writer may have changed it
  // while this one waited.
  LC_ASSIGN_OR_RETURN(OciLayout first, open(ref.path));
  LC_ASSIGN_OR_RETURN(auto lock, lock_dir(ref.path));
  remove_stale(ref.path + "/blobs/sha256", ".blob-");
  remove_stale(ref.path, ".write-");
  LC_ASSIGN_OR_RETURN(OciLayout l, open(ref.path));
  l.lock_ = std::move(lock);
  l.pending_ = std::make_shared<PendingBlobs>();
  return l;
}

// NewDir is a new layout being built in a temporary directory beside its
// destination; destroyed before it was published, it removes the directory.
struct OciLayout::NewDir {
  std::string temp, final_path;
  bool published = false;
  ~NewDir() {
    if (!published) remove_temporary(temp);
  }
};

StatusOr<OciLayout> OciLayout::create_new(const std::string& path,
                                          std::shared_ptr<SharedFd> parent_lock) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return InvalidArgument(path + " exists and is not a directory");
    LC_ASSIGN_OR_RETURN(bool empty, holds_only(path, {}));
    if (!empty)
      return InvalidArgument(path +
                             " exists, is not empty and is not an OCI layout; "
                             "choose a new directory");
  }
  const std::string parent = parent_dir(path);
  const size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string prefix = "." + base + ".layout-";
  remove_stale_dirs(parent, prefix);
  auto nd = std::make_shared<NewDir>();
  nd->final_path = path;
  nd->temp = temporary_name(parent, prefix, ".tmp");
  {
    // The directory and its subdirectories are made under the registry's
    // lock: a signal-time cleanup that removed the directory cannot see
    // it made again behind its back.
    TemporaryRegistration reg;
    if (::mkdir(nd->temp.c_str(), 0755) != 0) {
      nd->published = true;  // nothing to remove
      return IoError("cannot create directory " + nd->temp + ": " + errno_text());
    }
    reg.add(nd->temp, /*directory=*/true);
    if (::mkdir((nd->temp + "/blobs").c_str(), 0755) != 0 ||
        ::mkdir((nd->temp + "/blobs/sha256").c_str(), 0755) != 0)
      return IoError("cannot create directory " + nd->temp + "/blobs/sha256: " + errno_text());
  }
  LC_RETURN_IF_ERROR(write_file_atomically(
      nd->temp, nd->temp + "/oci-layout",
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kLayoutFileContent.data()),
                               kLayoutFileContent.size())));
  OciLayout l;
  l.dir_ = nd->temp;
  l.index_ = Json::object();
  l.index_["schemaVersion"] = 2;
  l.index_["manifests"] = Json::array();
  l.new_dir_ = std::move(nd);
  l.lock_ = std::move(parent_lock);
  return l;
}

StatusOr<std::string> OciLayout::blob_path(std::string_view digest) const {
  if (digest.rfind("sha256:", 0) != 0)
    return Unsupported("digest '" + std::string(digest) +
                       "' is not sha256 (only sha256 is supported)");
  if (!is_hex64(digest.substr(7)))
    return DataError("malformed digest '" + std::string(digest) + "'");
  return dir_ + "/blobs/sha256/" + std::string(digest.substr(7));
}

bool OciLayout::has_blob(std::string_view digest) const {
  if (archive_out_ != nullptr)
    return digest.size() == 71 &&
           archive_out_->has("blobs/sha256/" + std::string(digest.substr(7)));
  if (archive_in_ != nullptr)
    return digest.size() == 71 &&
           archive_in_->index().find("blobs/sha256/" + std::string(digest.substr(7)));
  auto p = blob_path(digest);
  struct stat st {};
  return p.ok() && ::stat(p->c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string OciLayout::describe() const {
  return (is_archive() ? "OCI archive " : "OCI layout ") + dir_;
}

StatusOr<std::vector<uint8_t>> OciLayout::read_blob(std::string_view digest, int64_t size,
                                                    size_t max_size) const {
  LC_ASSIGN_OR_RETURN(std::string path, blob_path(digest));
  if (size < 0 || static_cast<uint64_t>(size) > max_size)
    return DataError("blob " + std::string(digest) + " has a bad or too large size " +
                     std::to_string(size));
  const std::string member = "blobs/sha256/" + std::string(digest.substr(7));
  auto bytes = archive_out_ != nullptr && archive_out_->has(member)
                   ? archive_out_->read_member(member, max_size)
               : archive_in_ != nullptr ? archive_in_->read_member(member, max_size)
                                        : read_file_bounded(path, max_size);
  if (!bytes.ok()) return bytes.status().with_context("missing or unreadable blob");
  LC_RETURN_IF_ERROR(check_blob_bytes(*bytes, digest, size, path));
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

StatusOr<std::unique_ptr<ByteSource>> OciLayout::open_blob_source(std::string_view digest,
                                                                  int64_t size, bool verify) const {
  LC_ASSIGN_OR_RETURN(std::string path, blob_path(digest));
  std::unique_ptr<ByteSource> src;
  if (archive_in_ != nullptr) {
    LC_ASSIGN_OR_RETURN(src, archive_in_->source("blobs/sha256/" + std::string(digest.substr(7))));
  } else {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("missing or unreadable blob " + path + ": " + errno_text());
    if (verify)
      return std::unique_ptr<ByteSource>(new VerifyingSource(fd, path, std::string(digest), size));
    struct stat st {};
    ::fstat(fd, &st);
    src = std::make_unique<FileRangeSource>(std::make_shared<SharedFd>(fd), 0,
                                            static_cast<uint64_t>(st.st_size), path);
  }
  if (!verify) {
    // The caller checks the digest; a length known now to be wrong is
    // refused before anything is read.
    const auto have = src->size_hint();
    if (have && *have != static_cast<uint64_t>(size))
      return IntegrityError("blob " + std::string(digest) + " is " + std::to_string(*have) +
                            " bytes, its descriptor says " + std::to_string(size));
    return src;
  }
  return std::unique_ptr<ByteSource>(
      new VerifyingSource(std::move(src), path, std::string(digest), size));
}

StatusOr<std::unique_ptr<BlobWriter>> OciLayout::new_blob(bool hash) const {
  std::unique_ptr<BlobWriter> w(new BlobWriter());
  w->s_ = std::make_unique<BlobWriter::State>();
  w->s_->hashing = hash;
  if (!w->s_->hash.ok()) return Internal("sha256 unavailable");
  if (archive_out_ != nullptr) {
    w->s_->archive = archive_out_;
    LC_ASSIGN_OR_RETURN(w->s_->data_offset, archive_out_->begin_member());
    w->s_->member_open = true;
    return w;
  }
  w->s_->blobs_dir = dir_ + "/blobs/sha256";
  w->s_->pending = pending_;
  LC_ASSIGN_OR_RETURN(w->s_->tmp, TempFile::create_in(w->s_->blobs_dir, temp_options("blob")));
  return w;
}

StatusOr<std::string> OciLayout::put_blob(std::span<const uint8_t> data) const {
  LC_ASSIGN_OR_RETURN(auto w, new_blob());
  LC_RETURN_IF_ERROR(w->write(data.data(), data.size()));
  return w->commit();
}

StatusOr<std::string> OciLayout::put_json_blob(const Json& json) const {
  const std::string text = json.dump();
  return put_blob(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Status OciLayout::copy_blob_from(const OciLayout& src, std::string_view digest,
                                 int64_t size) const {
  if (has_blob(digest)) return Status::Ok();
  LC_ASSIGN_OR_RETURN(std::string from, src.blob_path(digest));
  LC_ASSIGN_OR_RETURN(std::string to, blob_path(digest));
  if (!is_archive() && !src.is_archive()) {
    TemporaryRegistration reg;
    if (::link(from.c_str(), to.c_str()) == 0) {
      if (pending_ != nullptr) pending_->add(reg, to);
      return Status::Ok();
    }
  }
  LC_ASSIGN_OR_RETURN(auto in_ptr, src.open_blob_source(digest, size, /*verify=*/true));
  ByteSource& in = *in_ptr;
  auto w = new_blob();
  if (!w.ok()) return w.status();
  // No bigger than the blob: a config of a few hundred bytes need not
  // fault in a MiB of fresh memory.
  std::vector<uint8_t> buf(static_cast<size_t>(std::clamp<int64_t>(size, 4096, int64_t{1} << 20)));
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

Status OciLayout::complete_archive(const Json& index) {
  // Every blob the new index reaches must be in the new archive; those not
  // written by this run come from the archive being replaced.
  std::set<std::string> seen;
  std::function<Status(const Json&)> need = [&](const Json& desc) -> Status {
    const auto d = desc.find("digest");
    if (d == desc.end() || !d->is_string())
      return DataError("a descriptor in the new index has no digest");
    const std::string digest = d->get<std::string>();
    if (!seen.insert(digest).second) return Status::Ok();
    LC_ASSIGN_OR_RETURN(std::string path, blob_path(digest));
    const auto sz = desc.find("size");
    const int64_t size = sz != desc.end() && sz->is_number_integer() ? sz->get<int64_t>() : -1;
    if (!has_blob(digest)) {
      if (archive_in_ == nullptr || !archive_in_->index().find("blobs/sha256/" + digest.substr(7)))
        return DataError("blob " + digest +
                         " that the index references is in neither the source "
                         "nor " +
                         dir_);
      OciLayout old;
      old.dir_ = dir_;
      old.archive_in_ = archive_in_;
      LC_RETURN_IF_ERROR(copy_blob_from(old, digest, size));
    }
    const auto mt = desc.find("mediaType");
    const std::string type = mt != desc.end() && mt->is_string() ? mt->get<std::string>() : "";
    if (type != kOciIndexMediaType && type != kOciManifestMediaType &&
        type != kDockerManifestMediaType && type != kDockerManifestListMediaType)
      return Status::Ok();
    LC_ASSIGN_OR_RETURN(Json j, read_json_blob(digest, size));
    if (j.contains("manifests") && j["manifests"].is_array())
      for (const auto& c : j["manifests"]) LC_RETURN_IF_ERROR(need(c));
    if (j.contains("config") && j["config"].is_object()) LC_RETURN_IF_ERROR(need(j["config"]));
    if (j.contains("layers") && j["layers"].is_array())
      for (const auto& l : j["layers"]) LC_RETURN_IF_ERROR(need(l));
    return Status::Ok();
  };
  for (const auto& e : index["manifests"]) LC_RETURN_IF_ERROR(need(e));
  const std::string text = index.dump();
  LC_RETURN_IF_ERROR(archive_out_->add_file(
      "index.json",
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  return archive_out_->commit();
}

Status OciLayout::write_index(const Json& index) {
  if (archive_out_ != nullptr) {
    LC_RETURN_IF_ERROR(complete_archive(index));
    index_ = index;
    return Status::Ok();
  }
  const std::string text = index.dump();
  std::vector<std::string> added;
  if (pending_ != nullptr) {
    std::lock_guard<std::mutex> lock(pending_->mu);
    added.swap(pending_->paths);
  }
  LC_RETURN_IF_ERROR(write_file_atomically(
      dir_, dir_ + "/index.json",
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()), added));
  index_ = index;
  if (new_dir_ != nullptr && !new_dir_->published) {
    // rename(2) replaces an empty directory and nothing else.
    if (rename_temporary(new_dir_->temp, new_dir_->final_path) != 0)
      return IoError("cannot rename " + new_dir_->temp + " to " + new_dir_->final_path + ": " +
                     errno_text());
    new_dir_->published = true;
    dir_ = new_dir_->final_path;
    LC_RETURN_IF_ERROR(fsync_dir(parent_dir(dir_)));
  }
  return Status::Ok();
}

namespace {

bool is_json_type(const std::string& type) {
  return type == kOciIndexMediaType || type == kOciManifestMediaType ||
         type == kDockerManifestMediaType || type == kDockerManifestListMediaType ||
         (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0) ||
         type == "application/json";
}

// collect_descriptors appends every object with a string "digest" found
// anywhere in `j` (manifests, layers, config, subject, blobs, ...).
void collect_descriptors(const Json& j, std::vector<const Json*>* out) {
  if (j.is_object()) {
    const auto d = j.find("digest");
    if (d != j.end() && d->is_string()) out->push_back(&j);
    for (const auto& [k, v] : j.items()) collect_descriptors(v, out);
  } else if (j.is_array()) {
    for (const auto& v : j) collect_descriptors(v, out);
  }
}

}  // namespace

StatusOr<std::vector<std::pair<std::string, std::vector<std::string>>>> OciLayout::reachable_blobs(
    const Json& index) const {
  // digest -> the ref names that reach it, in the order found.
  std::map<std::string, std::vector<std::string>> reach;
  std::vector<std::string> order;
  const auto manifests = index.find("manifests");
  if (manifests == index.end() || !manifests->is_array())
    return DataError("index has no manifests array");
  for (const auto& entry : *manifests) {
    if (!entry.is_object() || !entry.contains("digest") || !entry["digest"].is_string())
      return DataError("an index entry has no digest");
    std::string name;
    if (const auto a = entry.find("annotations"); a != entry.end() && a->is_object())
      if (const auto r = a->find(std::string(kRefNameAnnotation)); r != a->end() && r->is_string())
        name = r->get<std::string>();
    std::set<std::string> seen;
    std::vector<const Json*> todo{&entry};
    std::deque<Json> loaded;  // stable addresses: `todo` points into it
    while (!todo.empty()) {
      const Json* desc = todo.back();
      todo.pop_back();
      const std::string digest = (*desc)["digest"].get<std::string>();
      if (!seen.insert(digest).second) continue;
      auto& names = reach[digest];
      if (names.empty()) order.push_back(digest);
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      const auto mt = desc->find("mediaType");
      const std::string type = mt != desc->end() && mt->is_string() ? mt->get<std::string>() : "";
      const auto sz = desc->find("size");
      const int64_t size = sz != desc->end() && sz->is_number_integer() ? sz->get<int64_t>() : -1;
      if (!is_json_type(type) || size < 0 || size > (int64_t{4} << 20)) continue;
      auto j = read_json_blob(digest, size);
      if (!j.ok()) {
        if (j.status().code() == StatusCode::kDataError && has_blob(digest)) continue;  // not JSON
        return j.status();
      }
      loaded.push_back(std::move(*j));
      std::vector<const Json*> found;
      collect_descriptors(loaded.back(), &found);
      todo.insert(todo.end(), found.begin(), found.end());
    }
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& d : order) out.emplace_back(d, reach[d]);
  return out;
}

Status OciLayout::collect_garbage(std::vector<std::string>* removed) const {
  if (is_archive() || lock_ == nullptr) return Status::Ok();
  if (new_dir_ != nullptr && !new_dir_->published) return Status::Ok();
  auto reach = reachable_blobs(index_);
  if (!reach.ok()) return Status::Ok();  // damaged: delete nothing
  std::set<std::string> keep;
  for (const auto& [digest, names] : *reach) {
    if (!has_blob(digest)) return Status::Ok();  // damaged: delete nothing
    keep.insert(digest.substr(7));
  }
  const std::string blobs = dir_ + "/blobs/sha256";
  DIR* d = ::opendir(blobs.c_str());
  if (d == nullptr) return Status::Ok();
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (is_hex64(n) && !keep.count(n)) names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    if (::unlink((blobs + "/" + n).c_str()) != 0 && errno != ENOENT)
      return IoError("cannot remove unreferenced blob " + blobs + "/" + n + ": " + errno_text());
    if (removed != nullptr) removed->push_back("sha256:" + n);
  }
  if (!names.empty()) LC_RETURN_IF_ERROR(fsync_dir(blobs));
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
      inner_(std::make_unique<FdSource>(fd, name)),
      name_(std::move(name)),
      expected_digest_(std::move(expected_digest)),
      expected_size_(expected_size),
      hash_(std::make_unique<Hash>()) {}

VerifyingSource::VerifyingSource(std::unique_ptr<ByteSource> inner, std::string name,
                                 std::string expected_digest, int64_t expected_size)
    : fd_(-1),
      inner_(std::move(inner)),
      name_(std::move(name)),
      expected_digest_(std::move(expected_digest)),
      expected_size_(expected_size),
      hash_(std::make_unique<Hash>()) {}

VerifyingSource::~VerifyingSource() {
  if (fd_ >= 0) ::close(fd_);
}

StatusOr<size_t> VerifyingSource::read(uint8_t* out, size_t cap) {
  auto n = inner_->read(out, cap);
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
  if (sha256_digest_string(d) != expected_digest_)
    return IntegrityError("blob " + name_ + " does not match its digest " + expected_digest_ +
                          " (content is " + sha256_digest_string(d) + ")");
  verified_ = true;
  return n;
}

Status VerifyingSource::rewind() {
  // A rewind before the first pass finished restarts the hash.
  if (first_pass_) {
    hash_->sha.reset();
    seen_ = 0;
  }
  return inner_->rewind();
}

}  // namespace layercrypt
