// engine/containerd/content_store.cc
#include "engine/containerd/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

// toml++ compiled into this file only (no run-time library for the decoder
// to load), and only its parser.
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include "engine/core/hex.h"
#include "engine/image/oci_archive.h"
#include "engine/image/oci_layout.h"
#include "engine/ocicrypt/media_types.h"
#include "kernels/sha256.h"

namespace layercrypt {
namespace {

constexpr std::string_view kBlobsSubdir = "/io.containerd.content.v1.content/blobs/sha256";
// Every manifest with an encrypted layer holds this in a media type.
constexpr std::string_view kEncryptedMarker = "+encrypted";

std::string errno_text() { return std::strerror(errno); }

struct Entry {
  int64_t mtime_ns;
  uint64_t size;
  std::string name;  // 64 hex digits
};

// read_at reads the whole regular file `name` in directory `dirfd`, of
// `size` bytes; false if it cannot (vanished, changed size).
bool read_at(int dirfd, const std::string& name, uint64_t size, std::string* out) {
  const int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  out->resize(size);
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, out->data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  char extra;
  const bool at_end = got == size && ::read(fd, &extra, 1) == 0;
  ::close(fd);
  return at_end;
}

std::string read_link(const std::string& path) {
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size() - 1);
  return n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : std::string();
}

// read_cmdline returns /proc/PID/cmdline split at NULs.
std::optional<std::vector<std::string>> read_cmdline(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string all = ss.str();
  std::vector<std::string> argv;
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\0', start);
    if (end == std::string::npos) end = all.size();
    argv.push_back(all.substr(start, end - start));
    start = end + 1;
  }
  return argv;
}

// config_root reads `root` from the config file at `path`. nullopt (with a
// note) if it cannot; "" if the file has no root.
std::optional<std::string> config_root(const std::string& path, std::vector<std::string>* notes) {
  auto bytes = read_file_bounded(path, size_t{1} << 20);
  if (!bytes.ok()) {
    if (notes) notes->push_back("containerd config: " + bytes.status().message());
    return std::nullopt;
  }
  auto root = root_from_config_toml(
      std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()), path);
  if (!root.ok()) {
    if (notes) notes->push_back(root.status().message());
    return std::nullopt;
  }
  return *root;
}

}  // namespace

// ---- ContentStore --------------------------------------------------------------

ContentStore::ContentStore(std::string root)
    : root_(std::move(root)), blobs_dir_(root_ + std::string(kBlobsSubdir)) {}

bool ContentStore::exists() const {
  struct stat st {};
  return ::stat(blobs_dir_.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

StatusOr<std::string> ContentStore::blob_path(std::string_view digest) const {
  if (!is_sha256_digest(digest))
    return DataError("not a sha256 digest: " + quoted_for_message(digest));
  return blobs_dir_ + "/" + std::string(digest.substr(kSha256DigestPrefix.size()));
}

std::optional<uint64_t> ContentStore::blob_size(std::string_view digest) const {
  auto path = blob_path(digest);
  if (!path.ok()) return std::nullopt;
  struct stat st {};
  if (::stat(path->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

std::string ContentStore::describe() const { return "containerd content store " + blobs_dir_; }

bool ContentStore::has_blob(std::string_view digest) const { return blob_size(digest).has_value(); }

StatusOr<std::vector<uint8_t>> ContentStore::read_blob(std::string_view digest, int64_t size,
                                                       size_t max_size) const {
  LC_ASSIGN_OR_RETURN(std::string path, blob_path(digest));
  if (size < 0 || static_cast<uint64_t>(size) > max_size)
    return DataError("blob " + std::string(digest) + " has a bad or too large size " +
                     std::to_string(size));
  auto bytes = read_file_bounded(path, max_size);
  if (!bytes.ok()) return bytes.status().with_context("missing or unreadable blob");
  LC_RETURN_IF_ERROR(check_blob_bytes(*bytes, digest, size, path));
  return bytes;
}

StatusOr<std::unique_ptr<ByteSource>> ContentStore::open_blob_source(std::string_view digest,
                                                                     int64_t size,
                                                                     bool verify) const {
  LC_ASSIGN_OR_RETURN(std::string path, blob_path(digest));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("missing or unreadable blob " + path + ": " + errno_text());
  if (verify)
    return std::unique_ptr<ByteSource>(new VerifyingSource(fd, path, std::string(digest), size));
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    const Status st = IoError("cannot stat " + path + ": " + errno_text());
    ::close(fd);
    return st;
  }
  return std::unique_ptr<ByteSource>(new FileRangeSource(std::make_shared<SharedFd>(fd), 0,
                                                         static_cast<uint64_t>(sb.st_size), path));
}

StatusOr<std::vector<LayerCandidate>> ContentStore::find_layer_descriptors(
    std::string_view media_type, std::string_view digest, const ContentScanLimits& limits,
    ContentScanStats* stats) const {
  ContentScanStats local;
  ContentScanStats& st = stats ? *stats : local;
  st = ContentScanStats{};
  const auto t0 = std::chrono::steady_clock::now();
  struct Timer {
    std::chrono::steady_clock::time_point t0;
    ContentScanStats& st;
    ~Timer() {
      st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  } timer{t0, st};

  DIR* dir = ::opendir(blobs_dir_.c_str());
  if (dir == nullptr) return IoError("cannot list " + describe() + ": " + errno_text());
  struct DirCloser {
    DIR* d;
    ~DirCloser() { ::closedir(d); }
  } closer{dir};
  const int dfd = ::dirfd(dir);

  // List, then stat in parallel: on a node with 10,000 blobs the stat
  // calls (a path lookup each) are most of the scan's cost.
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* de = ::readdir(dir);
    if (de == nullptr) {
      if (errno != 0) return IoError("cannot list " + describe() + ": " + errno_text());
      break;
    }
    const std::string_view name(de->d_name);
    if (name == "." || name == "..") continue;
    ++st.entries;
    if (!is_lower_hex(name, 64)) continue;
    if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN) continue;
    names.emplace_back(name);
  }
  std::vector<Entry> stat_of(names.size());
  tbb::parallel_for(tbb::blocked_range<size_t>(0, names.size(), 256),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t i = r.begin(); i != r.end(); ++i) {
                        struct stat sb {};
                        if (::fstatat(dfd, names[i].c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
                            !S_ISREG(sb.st_mode))
                          continue;
                        stat_of[i] = {int64_t{sb.st_mtim.tv_sec} * 1000000000 + sb.st_mtim.tv_nsec,
                                      static_cast<uint64_t>(sb.st_size), std::move(names[i])};
                      }
                    });
  std::vector<Entry> entries;
  for (Entry& e : stat_of)
    if (!e.name.empty() && e.size >= 2 && e.size <= limits.max_manifest_size)
      entries.push_back(std::move(e));
  st.small_blobs = entries.size();
  const size_t n = std::min(entries.size(), limits.max_blobs_read);
  // Newest first; the name breaks ties so the order is deterministic.
  const auto newer = [](const Entry& a, const Entry& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns > b.mtime_ns : a.name < b.name;
  };
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(n),
                    entries.end(), newer);

  std::vector<LayerCandidate> out;
  std::string bytes;
  const std::string digest_hex =
      digest.size() > kSha256DigestPrefix.size() ? std::string(digest.substr(7)) : std::string();
  for (size_t i = 0; i < n; ++i) {
    const Entry& e = entries[i];
    ++st.blobs_read;
    if (!read_at(dfd, e.name, e.size, &bytes)) continue;
    // Cheap tests first: a JSON object that mentions an encrypted media
    // type (and the digest sought, if any).
    const size_t first = bytes.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || bytes[first] != '{') continue;
    if (bytes.find(kEncryptedMarker) == std::string::npos) continue;
    if (!digest_hex.empty() && bytes.find(digest_hex) == std::string::npos) continue;
    std::array<uint8_t, 32> d{};
    if (!kernels::sha256(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), d.data(),
                         d.size()) ||
        to_hex(d) != e.name) {
      ++st.rejected;
      continue;
    }
    auto layers = parse_manifest_layers(bytes);
    if (!layers.ok()) {
      ++st.rejected;
      continue;
    }
    bool any = false;
    for (Descriptor& l : *layers) {
      if (!is_decryptable_media_type(l.media_type)) continue;
      if (!media_type.empty() && l.media_type != media_type) continue;
      if (!digest.empty() && l.digest != digest) continue;
      out.push_back({std::move(l), std::string(kSha256DigestPrefix) + e.name});
      any = true;
    }
    if (any) ++st.manifests;
  }
  return out;
}

// ---- where containerd's root is -------------------------------------------------

ContainerdArgs containerd_root_from_args(const std::vector<std::string>& argv) {
  ContainerdArgs out;
  // urfave/cli flags: --name VALUE, --name=VALUE, and the one-dash forms.
  const auto match = [](std::string_view arg, std::initializer_list<std::string_view> names,
                        std::string_view* inline_value) {
    for (std::string_view name : names) {
      if (arg == name) return true;
      if (arg.size() > name.size() + 1 && arg.substr(0, name.size()) == name &&
          arg[name.size()] == '=') {
        *inline_value = arg.substr(name.size() + 1);
        return true;
      }
    }
    return false;
  };
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    std::string_view value;
    std::string* target = nullptr;
    if (match(arg, {"--root", "-root"}, &value))
      target = &out.root;
    else if (match(arg, {"--config", "-config", "-c", "--c"}, &value))
      target = &out.config;
    if (target == nullptr) continue;
    if (value.empty() && arg.find('=') == std::string_view::npos) {
      if (i + 1 >= argv.size()) break;
      value = argv[++i];
    }
    *target = std::string(value);
  }
  return out;
}

StatusOr<std::string> root_from_config_toml(std::string_view toml_text, std::string_view name) {
  toml::table table;
  try {
    table = toml::parse(toml_text, name);
  } catch (const toml::parse_error& e) {
    return DataError("containerd config " + std::string(name) + " does not parse as TOML (line " +
                     std::to_string(e.source().begin.line) + "): " + std::string(e.description()));
  }
  const toml::node* root = table.get("root");
  if (root == nullptr) return std::string();
  const auto value = root->value<std::string>();
  if (!value) return DataError("containerd config " + std::string(name) + ": root is not a string");
  return *value;
}

ContainerdRoot discover_containerd_root(pid_t parent, std::vector<std::string>* notes) {
  const std::string proc = "/proc/" + std::to_string(parent);
  const std::string exe = read_link(proc + "/exe");
  const std::string base = exe.substr(exe.find_last_of('/') + 1);
  std::string config = std::string(kDefaultContainerdConfig);
  if (base.rfind("containerd", 0) == 0) {
    auto argv = read_cmdline(parent);
    if (argv) {
      ContainerdArgs args = containerd_root_from_args(*argv);
      const std::string cwd = read_link(proc + "/cwd");
      const auto absolute = [&cwd](std::string p) {
        return p.empty() || p[0] == '/' || cwd.empty() ? p : cwd + "/" + p;
      };
      if (!args.root.empty()) return {absolute(args.root), "containerd's --root"};
      if (!args.config.empty()) config = absolute(args.config);
    } else if (notes) {
      notes->push_back("cannot read " + proc + "/cmdline: " + errno_text());
    }
  }
  struct stat sb {};
  if (::stat(config.c_str(), &sb) == 0) {
    auto root = config_root(config, notes);
    if (root && !root->empty()) return {*root, "root in " + config};
  } else if (config != kDefaultContainerdConfig && notes) {
    notes->push_back("containerd config " + config + " is not there");
  }
  return {std::string(kDefaultContainerdRoot), "the default"};
}

}  // namespace layercrypt
