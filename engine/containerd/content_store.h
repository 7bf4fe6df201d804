// engine/containerd/content_store.h: containerd's content store on a node,
// read as a blob store, and the layer descriptors its manifests hold.
//
// containerd keeps every blob it has fetched, by digest, in
//   <root>/io.containerd.content.v1.content/blobs/sha256/<hex>
// (root: `root` in config.toml, default /var/lib/containerd). A blob appears
// there only once it is complete and checked: containerd writes it under
// ingest/ and renames it into blobs/ on commit.
//
// Why a stream processor reads it: from containerd 2.1 a CRI pull goes
// through the transfer service, which starts the processor without the
// fd-3 payload, so the layer's descriptor (wrapped keys, pubopts) never
// reaches the decoder. The manifest that lists the layer was fetched into
// the content store moments before (containerd fetches a manifest before
// its layers), so the decoder finds it there by the digest of the blob it
// read (find_layer_descriptors). And once the layer blob itself is in the
// store, the decoder can read that file twice (MAC pass, then decryption)
// instead of spooling the pipe (engine/containerd/stream_processor.h).
//
// The scan is bounded for a node with many blobs: it lists the directory,
// keeps the files small enough to be a manifest, and reads the newest of
// those first, up to a count; blobs that cannot be a manifest with an
// encrypted layer are skipped by a substring test before any JSON parsing.
// A manifest's bytes are checked against its digest before it is believed
// (a store that was tampered with or damaged yields nothing from it).
//
// Everything here is thread-safe (no shared mutable state).
#ifndef LAYERCRYPT_ENGINE_CONTAINERD_CONTENT_STORE_H_
#define LAYERCRYPT_ENGINE_CONTAINERD_CONTENT_STORE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/containerd/payload.h"
#include "engine/core/status.h"
#include "engine/image/blob_store.h"

namespace layercrypt {

// kDefaultContainerdRoot is containerd's default `root` on Linux.
inline constexpr std::string_view kDefaultContainerdRoot = "/var/lib/containerd";
// kDefaultContainerdConfig is where containerd reads config.toml by default.
inline constexpr std::string_view kDefaultContainerdConfig = "/etc/containerd/config.toml";

// ContentScanLimits bounds find_layer_descriptors.
struct ContentScanLimits {
  // Blobs larger than this are not read (containerd refuses manifests
  // over 4 MiB).
  uint64_t max_manifest_size = uint64_t{4} << 20;
  // At most this many blobs (the newest small ones) are read.
  size_t max_blobs_read = 256;
};

// ContentScanStats says what a scan cost, for --stats.
struct ContentScanStats {
  size_t entries = 0;      // directory entries seen
  size_t small_blobs = 0;  // of those, regular files within max_manifest_size
  size_t blobs_read = 0;   // files opened and read
  size_t manifests = 0;    // read blobs that parsed as JSON with encrypted layers
  size_t rejected = 0;     // read blobs that looked like such a manifest but did
                           // not match their digest or did not parse
  double seconds = 0;      // wall time of the scan
};

// LayerCandidate is one encrypted layer descriptor found in a manifest.
struct LayerCandidate {
  Descriptor descriptor;        // as Go decodes the manifest's layers[i]
  std::string manifest_digest;  // the manifest that lists it
};

// ContentStore is containerd's content store under `root` (containerd's
// root directory, not the blobs directory).
class ContentStore final : public BlobStore {
 public:
  explicit ContentStore(std::string root);

  const std::string& root() const { return root_; }
  // blobs_dir returns <root>/io.containerd.content.v1.content/blobs/sha256.
  const std::string& blobs_dir() const { return blobs_dir_; }
  // exists returns true if blobs_dir() is a directory.
  bool exists() const;
  // blob_path returns the path of `digest`'s blob, or kDataError if
  // `digest` is not sha256:<64 lower-case hex>.
  StatusOr<std::string> blob_path(std::string_view digest) const;
  // blob_size returns the size of `digest`'s blob, or nullopt if it is not
  // there (or not a regular file).
  std::optional<uint64_t> blob_size(std::string_view digest) const;

  // BlobStore.
  std::string describe() const override;
  bool has_blob(std::string_view digest) const override;
  StatusOr<std::vector<uint8_t>> read_blob(std::string_view digest, int64_t size,
                                           size_t max_size) const override;
  StatusOr<std::unique_ptr<ByteSource>> open_blob_source(std::string_view digest, int64_t size,
                                                         bool verify) const override;

  // find_layer_descriptors scans the store as the file comment says and
  // returns the encrypted layer descriptors (media types
  // is_decryptable_media_type accepts) of the manifests read, newest
  // manifest first, in each manifest's layer order. With `media_type` not
  // empty only layers of exactly that media type are returned; with
  // `digest` not empty only layers with that digest. Manifests that do not
  // parse or do not match their digest are skipped (counted in
  // stats->rejected). Returns kIoError if the blobs directory does not
  // exist or cannot be listed (the message names it). `stats` may be null.
  StatusOr<std::vector<LayerCandidate>> find_layer_descriptors(std::string_view media_type,
                                                               std::string_view digest,
                                                               const ContentScanLimits& limits,
                                                               ContentScanStats* stats) const;

 private:
  std::string root_, blobs_dir_;
};

// ContainerdRoot is where a decoder finds containerd's root, and how.
struct ContainerdRoot {
  std::string path;
  std::string origin;  // for messages: "--containerd-root", "containerd's --root",
                       // "root in CONFIG", "the default"
};

// discover_containerd_root finds the root of the containerd that started
// process `parent` (a stream processor's parent): its --root flag, else the
// top-level `root` of the config file its --config/-c flag names (relative
// paths are taken from its working directory), else of /etc/containerd/
// config.toml, else /var/lib/containerd. A parent that is not a containerd
// process (its executable's name does not start with "containerd") gives
// the default config's root or /var/lib/containerd. Never fails: problems
// (an unreadable /proc entry, a config that does not parse) fall through to
// the next source and are appended to `notes` (may be null), one line each.
ContainerdRoot discover_containerd_root(pid_t parent, std::vector<std::string>* notes);

// containerd_root_from_args is the flag part of discover_containerd_root on
// an argument vector (argv[0] first): the --root value, or else the
// --config value, as given. Either may be empty. Pure; for tests.
struct ContainerdArgs {
  std::string root;
  std::string config;
};
ContainerdArgs containerd_root_from_args(const std::vector<std::string>& argv);

// root_from_config_toml returns the top-level `root` of a containerd
// config.toml (any version), or "" if it has none. kDataError if the TOML
// does not parse or `root` is not a string; the message names `name` and
// the line.
StatusOr<std::string> root_from_config_toml(std::string_view toml, std::string_view name);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CONTAINERD_CONTENT_STORE_H_
