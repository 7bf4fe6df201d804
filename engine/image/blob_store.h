// engine/image/blob_store.h: read access to a content-addressed blob store.
//
// An image's bytes live in one of several stores, each keyed by sha256
// digest: an OCI layout directory or an OCI archive (engine/image/
// oci_layout.h) and containerd's content store on a node
// (engine/containerd/content_store.h). Code that only reads blobs takes a
// BlobStore, so it works on each of them. Writing stays with the concrete
// stores: each publishes differently (a layout renames blob files and
// index.json into place, an archive appends tar members).
//
// Digests are "sha256:" + 64 lower-case hex digits (engine/core/hex.h); any
// other form is an error, never a path. Implementations are safe for
// concurrent reads from several threads unless they say otherwise.
#ifndef LAYERCRYPT_ENGINE_IMAGE_BLOB_STORE_H_
#define LAYERCRYPT_ENGINE_IMAGE_BLOB_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/io.h"
#include "engine/core/status.h"

namespace layercrypt {

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // describe names the store for messages ("OCI layout DIR", "containerd
  // content store DIR").
  virtual std::string describe() const = 0;

  // has_blob returns true if a blob with `digest` is present (complete:
  // stores publish a blob only once it is whole).
  virtual bool has_blob(std::string_view digest) const = 0;

  // read_blob reads a small blob (a manifest, index or config) of `size`
  // bytes, at most `max_size`, and checks its size and digest. Errors:
  // kDataError for a bad digest or size, kIoError if missing or unreadable,
  // kIntegrityError if the bytes do not match.
  virtual StatusOr<std::vector<uint8_t>> read_blob(std::string_view digest, int64_t size,
                                                   size_t max_size) const = 0;

  // open_blob_source opens a blob for streaming; with `verify` the source
  // checks the size and digest at the end of its first pass and fails the
  // read on a mismatch (VerifyingSource). The source can be rewound when
  // the blob is a file.
  virtual StatusOr<std::unique_ptr<ByteSource>> open_blob_source(std::string_view digest,
                                                                 int64_t size,
                                                                 bool verify) const = 0;
};

// check_blob_bytes checks that `bytes`, read from the blob `name`, are
// `size` bytes with sha256 `digest`. Returns kIntegrityError naming the
// blob and what differs.
Status check_blob_bytes(std::span<const uint8_t> bytes, std::string_view digest, int64_t size,
                        const std::string& name);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_IMAGE_BLOB_STORE_H_
