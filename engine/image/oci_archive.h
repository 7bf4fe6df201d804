// engine/image/oci_archive.h: OCI archives (a tar of an OCI image layout, what
// `skopeo copy ... oci-archive:FILE` writes), read in place and written as
// one new file that replaces the destination atomically.
//
// Reading. TarIndex::scan walks the archive's headers once and records where
// each member's data lies: in an uncompressed tar a member's data is one
// contiguous byte range, so a blob is streamed straight from that range with
// pread (FileRangeSource) and nothing is extracted. Understood: POSIX ustar
// (name with prefix), PAX extended headers ('x': path and size; 'g' global
// headers are skipped), GNU long names ('L') and GNU base-256 sizes, which
// covers Go's archive/tar (skopeo, buildah), GNU tar and Python's tarfile.
// Every header's checksum is checked, and an archive that ends inside a
// member or before the two zero blocks that close a tar is reported as
// truncated: a partial download is never mistaken for an image.
//
// Writing. ArchiveWriter builds the new archive in a temporary file
// `.NAME.<random>.tmp` in DST's directory and renames it over DST only in
// commit(), after fsync; the directory is then fsynced. An interrupted run
// therefore leaves DST as it was (and SRC, read from its own open file, is
// never written), and SRC == DST works: the old archive stays readable
// through its open descriptor while the new one is built. A blob's name is
// its digest, known only once its last byte is written, so a blob member is
// appended as a 512-byte placeholder header, then its data, and the real
// header is written over the placeholder at the end. One member is appended
// at a time (begin_member waits for the previous one to end), so writers on
// several threads take turns.
//
// Members are written as POSIX ustar headers (sizes of 8 GiB and more in
// GNU base-256, which Go, GNU tar and Python read), mode 0644 / 0755,
// uid/gid 0, mtime 0; the names of an OCI layout are all short enough for
// the plain name field.
#ifndef LAYERCRYPT_ENGINE_IMAGE_OCI_ARCHIVE_H_
#define LAYERCRYPT_ENGINE_IMAGE_OCI_ARCHIVE_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/atomic_file.h"
#include "engine/core/io.h"
#include "engine/core/status.h"

namespace layercrypt {

// SharedFd closes its descriptor when the last owner lets go.
class SharedFd {
 public:
  explicit SharedFd(int fd) : fd_(fd) {}
  ~SharedFd();
  SharedFd(const SharedFd&) = delete;
  SharedFd& operator=(const SharedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// TarMember is where a regular file's data lies in the archive.
struct TarMember {
  uint64_t offset = 0;  // of the first data byte
  uint64_t size = 0;
};

// TarIndex maps the regular-file members of a tar to their byte ranges.
class TarIndex {
 public:
  // scan reads every header of the tar open on `fd` (`name` appears in
  // errors). Returns kDataError for a bad checksum, an unknown header, or a
  // truncated archive (the message says which and suggests re-creating it);
  // kIoError if reading fails. A later member with the same name replaces an
  // earlier one, as tar extraction would. Leading "./" and "/" are removed
  // from names.
  static StatusOr<TarIndex> scan(int fd, const std::string& name);
  // find returns the member called `name`, or null.
  const TarMember* find(std::string_view name) const;
  const std::map<std::string, TarMember, std::less<>>& members() const { return members_; }

 private:
  std::map<std::string, TarMember, std::less<>> members_;
};

// FileRangeSource reads bytes [offset, offset+size) of a file with pread.
// It can be rewound; several sources may share one descriptor, on any
// threads.
class FileRangeSource final : public ByteSource {
 public:
  FileRangeSource(std::shared_ptr<const SharedFd> fd, uint64_t offset, uint64_t size,
                  std::string name);
  StatusOr<size_t> read(uint8_t* out, size_t cap) override;
  Status rewind() override {
    pos_ = 0;
    return Status::Ok();
  }
  bool can_rewind() const override { return true; }
  std::optional<uint64_t> size_hint() const override { return size_; }

 private:
  std::shared_ptr<const SharedFd> fd_;
  uint64_t offset_, size_, pos_ = 0;
  std::string name_;
};

// ArchiveReader is an open OCI archive and its member index.
class ArchiveReader {
 public:
  // open opens and indexes `path`. kIoError if it cannot be opened,
  // kDataError if it is not a readable tar (see TarIndex::scan).
  static StatusOr<std::shared_ptr<ArchiveReader>> open(const std::string& path);
  const std::string& path() const { return path_; }
  const TarIndex& index() const { return index_; }
  // source returns a reader over member `name`, or kDataError naming the
  // member if the archive has none by that name.
  StatusOr<std::unique_ptr<FileRangeSource>> source(std::string_view name) const;
  // read_member reads a whole member of at most `max_size` bytes.
  StatusOr<std::vector<uint8_t>> read_member(std::string_view name, size_t max_size) const;

 private:
  std::string path_;
  std::shared_ptr<const SharedFd> fd_;
  TarIndex index_;
};

// ArchiveWriter builds a new archive for `final_path` (see the file comment).
// Thread-safe: members are appended one at a time.
class ArchiveWriter {
 public:
  // create makes the temporary file next to `final_path` and writes the
  // directory entries and `oci-layout`. Errors name the directory (the
  // temporary file cannot be made) or the temporary file.
  static StatusOr<std::shared_ptr<ArchiveWriter>> create(const std::string& final_path);
  // ~ArchiveWriter deletes the temporary file unless commit() succeeded.
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // begin_member waits until no other member is being written and returns
  // the offset at which the new member's data starts.
  StatusOr<uint64_t> begin_member();
  // write_at writes member data at `offset` (between begin and end).
  Status write_at(uint64_t offset, const uint8_t* data, size_t len);
  // end_member finishes the member begun at `data_offset` with `size` bytes
  // as regular file `name`. If the archive already holds `name`, the new
  // copy is dropped instead (blob names are digests: same name, same bytes).
  Status end_member(uint64_t data_offset, uint64_t size, const std::string& name);
  // abort_member drops the member begun at `data_offset`.
  void abort_member(uint64_t data_offset);

  // add_file appends a whole small member.
  Status add_file(const std::string& name, std::span<const uint8_t> data);
  // has returns whether a member `name` has been written.
  bool has(std::string_view name) const;
  // read_member reads back a member written earlier (a manifest).
  StatusOr<std::vector<uint8_t>> read_member(std::string_view name, size_t max_size) const;

  // commit closes the archive, fsyncs it, renames it over the destination
  // and fsyncs the directory. Nothing may be written afterwards.
  Status commit();
  const std::string& final_path() const { return final_path_; }

 private:
  ArchiveWriter() = default;
  Status write_header(uint64_t header_offset, const std::string& name, uint64_t size, char type,
                      uint64_t* data_offset);
  std::string final_path_;
  TempFile tmp_;  // the archive being built
  mutable std::mutex mu_;
  std::condition_variable turn_;
  bool busy_ = false;
  bool committed_ = false;
  uint64_t end_ = 0;      // where the next member's header goes
  uint64_t flushed_ = 0;  // bytes whose writeback was started
  std::map<std::string, TarMember, std::less<>> written_;
};

// archive_temp_prefix returns the prefix of ArchiveWriter's temporary files
// for `final_path` (".NAME."), for removing those a killed run left behind.
std::string archive_temp_prefix(const std::string& final_path);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_IMAGE_OCI_ARCHIVE_H_
