// engine/image/oci_archive.cc: see oci_archive.h.
#include "engine/image/oci_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace layercrypt {
namespace {

constexpr size_t kBlock = 512;
constexpr std::string_view kLayoutFileContent = R"({"imageLayoutVersion":"1.0.0"})";

std::string errno_text() { return std::strerror(errno); }

uint64_t round_up(uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

Status pread_all(int fd, uint8_t* out, size_t len, uint64_t offset, const std::string& name,
                 size_t* got) {
  size_t done = 0;
  while (done < len) {
    const ssize_t r = ::pread(fd, out + done, len - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot read " + name + ": " + errno_text());
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  *got = done;
  return Status::Ok();
}

Status pwrite_all(int fd, const uint8_t* data, size_t len, uint64_t offset,
                  const std::string& name) {
  while (len > 0) {
    const ssize_t w = ::pwrite(fd, data, len, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot write " + name + ": " + errno_text());
    }
    data += w;
    len -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

// A header field: NUL- or space-terminated text.
std::string field(const uint8_t* block, size_t off, size_t len) {
  const char* p = reinterpret_cast<const char*>(block + off);
  size_t n = 0;
  while (n < len && p[n] != '\0') ++n;
  return std::string(p, n);
}

// parse_number reads an octal field or a GNU base-256 one.
std::optional<uint64_t> parse_number(const uint8_t* block, size_t off, size_t len) {
  const uint8_t* p = block + off;
  if (p[0] & 0x80) {  // base-256, big endian; negative numbers are refused
    if (p[0] & 0x40) return std::nullopt;
    uint64_t v = p[0] & 0x3f;
    for (size_t i = 1; i < len; ++i) {
      if (v >> 56) return std::nullopt;
      v = (v << 8) | p[i];
    }
    return v;
  }
  size_t i = 0;
  while (i < len && (p[i] == ' ' || p[i] == '\0')) ++i;
  uint64_t v = 0;
  bool any = false;
  for (; i < len && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) return std::nullopt;
    v = v * 8 + (p[i] - '0');
    any = true;
  }
  for (; i < len; ++i)
    if (p[i] != ' ' && p[i] != '\0') return std::nullopt;
  if (!any) return uint64_t{0};
  return v;
}

bool checksum_ok(const uint8_t* block) {
  const auto stored = parse_number(block, 148, 8);
  if (!stored) return false;
  uint64_t u = 0;
  int64_t s = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const uint8_t b = (i >= 148 && i < 156) ? ' ' : block[i];
    u += b;
    s += static_cast<int8_t>(b);
  }
  return *stored == u || static_cast<int64_t>(*stored) == s;
}

std::string normalize(std::string n) {
  while (n.rfind("./", 0) == 0) n.erase(0, 2);
  while (!n.empty() && n[0] == '/') n.erase(0, 1);
  return n;
}

// parse_pax applies the records of a PAX extended header that matter here.
Status parse_pax(std::string_view data, std::optional<std::string>* path,
                 std::optional<uint64_t>* size, const std::string& where) {
  while (!data.empty()) {
    const size_t sp = data.find(' ');
    if (sp == std::string_view::npos || sp == 0) break;
    size_t len = 0;
    for (size_t i = 0; i < sp; ++i) {
      if (data[i] < '0' || data[i] > '9') return DataError(where + ": malformed PAX header");
      len = len * 10 + static_cast<size_t>(data[i] - '0');
      if (len > data.size()) return DataError(where + ": malformed PAX header");
    }
    if (len <= sp + 1 || data[len - 1] != '\n') return DataError(where + ": malformed PAX header");
    const std::string_view rec = data.substr(sp + 1, len - sp - 2);
    const size_t eq = rec.find('=');
    if (eq != std::string_view::npos) {
      const std::string_view key = rec.substr(0, eq), value = rec.substr(eq + 1);
      if (key == "path") {
        *path = std::string(value);
      } else if (key == "size") {
        uint64_t v = 0;
        for (char c : value) {
          if (c < '0' || c > '9' || (v >> 59)) return DataError(where + ": bad PAX size");
          v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        *size = v;
      }
    }
    data.remove_prefix(len);
  }
  return Status::Ok();
}

void put_octal(uint8_t* block, size_t off, size_t len, uint64_t v) {
  // len-1 digits and a NUL, as Go and GNU tar write.
  for (size_t i = len - 1; i-- > 0;) {
    block[off + i] = static_cast<uint8_t>('0' + (v & 7));
    v >>= 3;
  }
  block[off + len - 1] = '\0';
}

}  // namespace

SharedFd::~SharedFd() {
  if (fd_ >= 0) ::close(fd_);
}

// ---------------------------------------------------------------------------
// TarIndex

StatusOr<TarIndex> TarIndex::scan(int fd, const std::string& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError("cannot stat " + name + ": " + errno_text());
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  const std::string fix =
      "; the archive is damaged or incomplete: make it again (e.g. `skopeo copy "
      "... oci-archive:" +
      name + "`)";
  TarIndex index;
  std::optional<std::string> long_name;
  std::optional<uint64_t> pax_size;
  std::array<uint8_t, kBlock> block{};
  uint64_t off = 0;
  for (;;) {
    size_t got = 0;
    LC_RETURN_IF_ERROR(pread_all(fd, block.data(), kBlock, off, name, &got));
    if (got < kBlock) {
      if (off == 0 && got == 0) return DataError(name + " is empty, not an OCI archive");
      if (off == 0)
        return DataError(name + " is not a tar archive: it is shorter than one tar header");
      return DataError(name + " is truncated: it ends at byte " + std::to_string(file_size) +
                       " without the end-of-archive blocks" + fix);
    }
    if (std::all_of(block.begin(), block.end(), [](uint8_t b) { return b == 0; })) {
      // The end: a second zero block normally follows; a file cut right
      // after the first one has lost nothing.
      break;
    }
    if (!checksum_ok(block.data())) {
      if (off == 0)
        return DataError(name +
                         " is not a tar archive (an OCI archive is a tar of an "
                         "OCI layout, as `skopeo copy ... oci-archive:FILE` writes)");
      return DataError(name + " has a corrupt tar header at byte " + std::to_string(off) + fix);
    }
    const auto hdr_size = parse_number(block.data(), 124, 12);
    if (!hdr_size)
      return DataError(name + " has a bad member size at byte " + std::to_string(off) + fix);
    const char type = static_cast<char>(block[156]);
    const bool posix = std::memcmp(block.data() + 257, "ustar\0", 6) == 0;
    std::string member = field(block.data(), 0, 100);
    if (posix) {
      const std::string prefix = field(block.data(), 345, 155);
      if (!prefix.empty()) member = prefix + "/" + member;
    }
    // Extended headers describe the next member, not themselves.
    const bool extension = type == 'x' || type == 'g' || type == 'L' || type == 'K';
    const uint64_t size = (!extension && pax_size) ? *pax_size : *hdr_size;
    const uint64_t data_off = off + kBlock;
    if (data_off + size > file_size || size > file_size)
      return DataError(name + " is truncated: it ends inside member '" +
                       (long_name ? *long_name : member) + "'" + fix);
    const std::string where = name + " at byte " + std::to_string(off);
    if (type == 'x' || type == 'L') {
      if (size > (size_t{1} << 20))
        return DataError(where + ": extended header is too large" + fix);
      std::string data(size, '\0');
      LC_RETURN_IF_ERROR(
          pread_all(fd, reinterpret_cast<uint8_t*>(data.data()), size, data_off, name, &got));
      if (type == 'L') {
        long_name = field(reinterpret_cast<const uint8_t*>(data.data()), 0, data.size());
      } else {
        LC_RETURN_IF_ERROR(parse_pax(data, &long_name, &pax_size, where));
      }
    } else if (type == 'g' || type == 'K') {
      // Global PAX headers and GNU long link names do not matter here.
    } else if (type == 'S') {
      return Unsupported(where + ": GNU sparse members are not supported in an OCI archive");
    } else {
      if (type == '0' || type == '\0' || type == '7') {
        std::string n = normalize(long_name ? *long_name : member);
        if (!n.empty()) index.members_[std::move(n)] = TarMember{data_off, size};
      }
      long_name.reset();
      pax_size.reset();
    }
    off = data_off + round_up(size);
  }
  return index;
}

const TarMember* TarIndex::find(std::string_view name) const {
  const auto it = members_.find(name);
  return it == members_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------
// FileRangeSource

FileRangeSource::FileRangeSource(std::shared_ptr<const SharedFd> fd, uint64_t offset, uint64_t size,
                                 std::string name)
    : fd_(std::move(fd)), offset_(offset), size_(size), name_(std::move(name)) {}

StatusOr<size_t> FileRangeSource::read(uint8_t* out, size_t cap) {
  const size_t want = static_cast<size_t>(std::min<uint64_t>(cap, size_ - pos_));
  if (want == 0) return size_t{0};
  size_t got = 0;
  LC_RETURN_IF_ERROR(pread_all(fd_->get(), out, want, offset_ + pos_, name_, &got));
  if (got == 0)
    return DataError(name_ + " is shorter than expected: the file was truncated while reading");
  pos_ += got;
  return got;
}

// ---------------------------------------------------------------------------
// ArchiveReader

StatusOr<std::shared_ptr<ArchiveReader>> ArchiveReader::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open archive " + path + ": " + errno_text());
  auto r = std::shared_ptr<ArchiveReader>(new ArchiveReader());
  r->path_ = path;
  r->fd_ = std::make_shared<SharedFd>(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  LC_ASSIGN_OR_RETURN(r->index_, TarIndex::scan(fd, path));
  return r;
}

StatusOr<std::unique_ptr<FileRangeSource>> ArchiveReader::source(std::string_view name) const {
  const TarMember* m = index_.find(name);
  if (m == nullptr) return DataError("archive " + path_ + " has no member " + std::string(name));
  return std::make_unique<FileRangeSource>(fd_, m->offset, m->size,
                                           path_ + ":" + std::string(name));
}

StatusOr<std::vector<uint8_t>> ArchiveReader::read_member(std::string_view name,
                                                          size_t max_size) const {
  const TarMember* m = index_.find(name);
  if (m == nullptr) return DataError("archive " + path_ + " has no member " + std::string(name));
  if (m->size > max_size)
    return DataError("archive " + path_ + ": member " + std::string(name) + " is larger than " +
                     std::to_string(max_size) + " bytes");
  std::vector<uint8_t> out(m->size);
  size_t got = 0;
  LC_RETURN_IF_ERROR(pread_all(fd_->get(), out.data(), out.size(), m->offset, path_, &got));
  if (got != out.size()) return DataError("archive " + path_ + " was truncated while reading");
  return out;
}

// ---------------------------------------------------------------------------
// ArchiveWriter

std::string archive_temp_prefix(const std::string& final_path) {
  const size_t slash = final_path.rfind('/');
  const std::string base = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
  return "." + base + ".";
}

StatusOr<std::shared_ptr<ArchiveWriter>> ArchiveWriter::create(const std::string& final_path) {
  auto w = std::shared_ptr<ArchiveWriter>(new ArchiveWriter());
  w->final_path_ = final_path;
  LC_ASSIGN_OR_RETURN(w->tmp_,
                      TempFile::create(final_path, {.mode = 0644,
                                                    .apply_umask = true,
                                                    .name_prefix = archive_temp_prefix(final_path),
                                                    .name_suffix = ".tmp",
                                                    .register_temporary = true,
                                                    .readable = true}));
  uint64_t unused = 0;
  LC_RETURN_IF_ERROR(w->write_header(0, "blobs/", 0, '5', &unused));
  LC_RETURN_IF_ERROR(w->write_header(kBlock, "blobs/sha256/", 0, '5', &unused));
  w->end_ = 2 * kBlock;
  LC_RETURN_IF_ERROR(w->add_file(
      "oci-layout",
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kLayoutFileContent.data()),
                               kLayoutFileContent.size())));
  return w;
}

ArchiveWriter::~ArchiveWriter() = default;  // ~TempFile removes an uncommitted archive

Status ArchiveWriter::write_header(uint64_t header_offset, const std::string& name, uint64_t size,
                                   char type, uint64_t* data_offset) {
  if (name.size() > 100) return Internal("archive member name too long: " + name);
  std::array<uint8_t, kBlock> b{};
  std::memcpy(b.data(), name.data(), name.size());
  put_octal(b.data(), 100, 8, type == '5' ? 0755 : 0644);
  put_octal(b.data(), 108, 8, 0);
  put_octal(b.data(), 116, 8, 0);
  if (size < (uint64_t{1} << 33)) {
    put_octal(b.data(), 124, 12, size);
  } else {  // GNU base-256
    b[124] = 0x80;
    for (size_t i = 0; i < 8; ++i) b[135 - i] = static_cast<uint8_t>(size >> (8 * i));
  }
  put_octal(b.data(), 136, 12, 0);
  b[156] = static_cast<uint8_t>(type);
  std::memcpy(b.data() + 257,
              "ustar\0"
              "00",
              8);
  std::memset(b.data() + 148, ' ', 8);
  uint64_t sum = 0;
  for (uint8_t c : b) sum += c;
  put_octal(b.data(), 148, 7, sum);
  b[155] = ' ';
  LC_RETURN_IF_ERROR(pwrite_all(tmp_.fd(), b.data(), b.size(), header_offset, tmp_.path()));
  *data_offset = header_offset + kBlock;
  return Status::Ok();
}

StatusOr<uint64_t> ArchiveWriter::begin_member() {
  std::unique_lock<std::mutex> lock(mu_);
  turn_.wait(lock, [this] { return !busy_; });
  if (committed_ || tmp_.fd() < 0) return Internal("archive already committed");
  busy_ = true;
  return end_ + kBlock;
}

Status ArchiveWriter::write_at(uint64_t offset, const uint8_t* data, size_t len) {
  LC_RETURN_IF_ERROR(pwrite_all(tmp_.fd(), data, len, offset, tmp_.path()));
  // Start writeback of every full 8 MiB behind us, so that commit's fsync
  // finds little left to do (as BlobWriter does for layouts).
  constexpr uint64_t kFlushStep = uint64_t{8} << 20;
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t upto = offset + len;
  if (upto > flushed_ + 2 * kFlushStep) {
    const uint64_t to = upto - kFlushStep;
    ::sync_file_range(tmp_.fd(), static_cast<off_t>(flushed_), static_cast<off_t>(to - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = to;
  }
  return Status::Ok();
}

Status ArchiveWriter::end_member(uint64_t data_offset, uint64_t size, const std::string& name) {
  Status st = Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t header = data_offset - kBlock;
    if (written_.count(name)) {
      // Same digest, same bytes: keep the first copy.
      if (::ftruncate(tmp_.fd(), static_cast<off_t>(header)) != 0)
        st = IoError("cannot truncate " + tmp_.path() + ": " + errno_text());
    } else {
      uint64_t unused = 0;
      const uint64_t pad = round_up(size) - size;
      static const std::array<uint8_t, kBlock> zeros{};
      if (pad) st = pwrite_all(tmp_.fd(), zeros.data(), pad, data_offset + size, tmp_.path());
      if (st.ok()) st = write_header(header, name, size, '0', &unused);
      if (st.ok()) {
        written_[name] = TarMember{data_offset, size};
        end_ = data_offset + round_up(size);
      }
    }
    busy_ = false;
  }
  turn_.notify_one();
  return st;
}

void ArchiveWriter::abort_member(uint64_t data_offset) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A failed truncate only leaves bytes that the next member overwrites.
    if (tmp_.fd() >= 0 && ::ftruncate(tmp_.fd(), static_cast<off_t>(data_offset - kBlock)) != 0) {
    }
    busy_ = false;
  }
  turn_.notify_one();
}

Status ArchiveWriter::add_file(const std::string& name, std::span<const uint8_t> data) {
  LC_ASSIGN_OR_RETURN(uint64_t off, begin_member());
  const Status st = write_at(off, data.data(), data.size());
  if (!st.ok()) {
    abort_member(off);
    return st;
  }
  return end_member(off, data.size(), name);
}

bool ArchiveWriter::has(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_.find(name) != written_.end();
}

StatusOr<std::vector<uint8_t>> ArchiveWriter::read_member(std::string_view name,
                                                          size_t max_size) const {
  TarMember m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = written_.find(name);
    if (it == written_.end()) return Internal("no member " + std::string(name) + " written yet");
    m = it->second;
  }
  if (m.size > max_size) return DataError("member " + std::string(name) + " is too large");
  std::vector<uint8_t> out(m.size);
  size_t got = 0;
  LC_RETURN_IF_ERROR(pread_all(tmp_.fd(), out.data(), out.size(), m.offset, tmp_.path(), &got));
  if (got != out.size()) return IoError(tmp_.path() + " was truncated while being written");
  return out;
}

Status ArchiveWriter::commit() {
  std::unique_lock<std::mutex> lock(mu_);
  turn_.wait(lock, [this] { return !busy_; });
  if (committed_ || tmp_.fd() < 0) return Internal("archive already committed");
  // Two zero blocks end a tar.
  static const std::array<uint8_t, 2 * kBlock> zeros{};
  LC_RETURN_IF_ERROR(pwrite_all(tmp_.fd(), zeros.data(), zeros.size(), end_, tmp_.path()));
  if (::ftruncate(tmp_.fd(), static_cast<off_t>(end_ + zeros.size())) != 0)
    return IoError("cannot truncate " + tmp_.path() + ": " + errno_text());
  const Status st = tmp_.publish(final_path_);
  committed_ = tmp_.published();
  return st;
}

}  // namespace layercrypt
