// engine/core/atomic_file.h: a file that appears complete or not at all.
//
// Every file the engine writes for others to read (an image's blobs and
// index.json, an archive, a key pair, a KEK, a decrypted layer) is first
// written to a hidden temporary file in the target's directory, fsynced, and
// then renamed to its final name. rename(2) within one directory is atomic,
// so a reader sees the old file or the whole new one, never a torn one, and
// a crash leaves at worst a hidden temporary beside the target.
//
// TempFile is that temporary file. It is created with O_EXCL under a name
// PREFIX<16 lowercase hex>SUFFIX (by default ".NAME.tmp-<hex>" for target
// NAME) so that a writer can recognise and remove what a killed run left
// behind. Destroyed without a successful publish, it closes and unlinks
// itself.
//
// Two ways to publish:
//   publish             rename(2) over the target, replacing what was there.
//   publish_no_replace  renameat2(RENAME_NOREPLACE), or on file systems
//                       without it (NFS, some FUSE) link(2) then unlink(2)
//                       of the temporary name: both are atomic and never
//                       replace an existing file.
//
// Durability. Both fsync the file before the rename and the directory after
// it, unless the caller asks for less (Durability): the rename is durable
// only once the directory is synced, and a file renamed before its data is
// synced can appear empty after a power loss.
//
// Crashes and signals. A SIGKILL or power loss before publish leaves the
// hidden temporary (and nothing at the target). With
// TempFileOptions::register_temporary the file is also in the registry of
// temporaries (engine/core/io.h) from the moment it exists until it is
// published or removed, so a process dying of SIGINT, SIGTERM or SIGHUP
// removes it (remove_temporaries).
//
// Thread-safety: a TempFile is not thread-safe; distinct TempFiles may be
// used from distinct threads. Positional writes on fd() from several threads
// are the caller's business (oci_archive.h).
#ifndef LAYERCRYPT_ENGINE_CORE_ATOMIC_FILE_H_
#define LAYERCRYPT_ENGINE_CORE_ATOMIC_FILE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/status.h"

namespace layercrypt {

// TempFileOptions says how TempFile::create makes the file.
struct TempFileOptions {
  // The file's permission bits.
  mode_t mode = 0600;
  // false: the mode is exactly `mode` (fchmod, not subject to the umask);
  // true: `mode` less the process umask, as open(2) makes it.
  bool apply_umask = false;
  // The name is name_prefix + 16 random lowercase hex digits + name_suffix.
  // An empty prefix means "." + the target's file name + ".tmp-" (create
  // only; create_in needs a prefix).
  std::string name_prefix = {};
  std::string name_suffix = {};
  // Register the file in the registry of temporaries (engine/core/io.h) so
  // that remove_temporaries() deletes it.
  bool register_temporary = false;
  // Open O_RDWR instead of O_WRONLY (the caller reads back what it wrote).
  bool readable = false;
};

// Durability says what publish and publish_no_replace fsync.
enum class Durability {
  kFileAndDirectory,  // the file before the rename, its directory after it
  kFile,              // the file only (the caller syncs the directory, or need not)
  kNone,              // nothing (the caller synced the file and syncs the directory)
};

// temporary_name returns DIR/PREFIX<16 random lowercase hex digits>SUFFIX,
// the form of TempFile's names, for a temporary of another kind (a
// directory being built). It creates nothing. Thread-safe.
std::string temporary_name(const std::string& dir, std::string_view prefix,
                           std::string_view suffix);

// TempFile is a hidden temporary file beside its target; see the file
// comment. Movable, not copyable; a default-constructed or moved-from
// TempFile holds no file.
class TempFile {
 public:
  // create makes a new temporary file in the directory of `target` (the
  // current directory if `target` has no '/'). Returns it open for writing,
  // or kIoError naming the directory if it cannot be created, or the file if
  // its mode cannot be set (nothing is left behind then).
  static StatusOr<TempFile> create(const std::string& target, const TempFileOptions& options = {});
  // create_in is create for a file whose target is not known yet (a blob
  // named by its digest): the file is made in directory `dir`, and
  // options.name_prefix must not be empty (kInternal otherwise).
  static StatusOr<TempFile> create_in(const std::string& dir, const TempFileOptions& options);

  TempFile() = default;
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&& other) noexcept;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  // ~TempFile closes the file and, unless it was published, removes it
  // (through the registry when it is registered).
  ~TempFile();

  // fd returns the open descriptor (-1 once closed or published); the
  // TempFile owns it. path returns the temporary's path, dir its directory.
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }
  // published says whether publish or publish_no_replace succeeded.
  bool published() const { return published_; }

  // write writes all of `data` at the current offset, retrying short writes
  // and EINTR. kIoError naming the temporary on failure.
  Status write(std::span<const uint8_t> data);
  // sync fsyncs the file. kIoError naming the temporary on failure.
  Status sync();
  // close closes the descriptor (a no-op if closed). kIoError naming the
  // temporary if close(2) reports an error (a delayed write error).
  Status close();

  // publish renames the temporary to `final_path` (in the same directory),
  // replacing any file there. It first fsyncs the file (unless
  // Durability::kNone) and closes it, and after the rename fsyncs the
  // directory (Durability::kFileAndDirectory). Errors: kIoError naming the
  // file and the step. Once the rename succeeded published() is true, even
  // if the directory sync then fails; before it, the temporary stays (the
  // destructor removes it).
  Status publish(const std::string& final_path,
                 Durability durability = Durability::kFileAndDirectory);

  // publish_no_replace is publish that never replaces an existing file: if
  // `final_path` exists (a file, a directory or a dangling symbolic link),
  // it returns kInvalidArgument "FINAL exists: refusing to overwrite it",
  // sets *out_exists (when given) to true and leaves `final_path` untouched.
  // On file systems without RENAME_NOREPLACE it links the file to
  // `final_path` and unlinks the temporary name.
  Status publish_no_replace(const std::string& final_path,
                            Durability durability = Durability::kFileAndDirectory,
                            bool* out_exists = nullptr);

  // unpublish removes the published file again if `final_path`, the name it
  // was published under, still names this file (same device and inode):
  // to take back one of a group of files of which a later one failed. Best
  // effort; does nothing if the file was not published or was replaced.
  void unpublish(const std::string& final_path);

 private:
  void discard();  // close, and remove the file unless published
  Status prepare_publish(Durability durability);
  Status finish_publish(Durability durability);

  int fd_ = -1;
  std::string path_, dir_;
  bool registered_ = false;
  bool published_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_ATOMIC_FILE_H_
