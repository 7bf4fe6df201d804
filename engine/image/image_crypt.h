// engine/image/image_crypt.h: encrypt and decrypt the layers of an OCI image
// layout, and describe them (layerinfo).
//
// encrypt_image reads SRC (a layout, optionally a tag), and for every
// selected layer of every selected manifest writes the ocicrypt
// AES_256_CTR_HMAC_SHA256 ciphertext into DST with a fresh key and nonce, the
// layer's pubopts annotation and the private options wrapped for every
// recipient (JWE; one recipient gives go-jose's flattened JSON, several the
// general JSON). The media type gets `+encrypted` (media_types.h). Docker
// schema2 manifests are rewritten as OCI manifests (containers/image cannot
// encrypt schema2; imgcrypt converts too). Multi-platform indexes are walked;
// `platforms` restricts which manifests are touched.
//
// decrypt_image is the reverse with the given keys. Each layer is decrypted
// in one pass into a temporary blob that is committed (renamed to its
// digest) only after the MAC has verified and the plaintext digest equals
// the private options' `digest`, so no unverified plaintext is ever
// published; the `org.opencontainers.image.enc.*` annotations are removed.
//
// SRC and DST are layout directories or OCI archives (OciRef). Every source
// blob is digest-checked while it streams (VerifyingSource). DST is written
// in the order oci_layout.h describes, so an interrupted run leaves SRC
// untouched and DST either as it was or complete; SRC == DST is allowed.
#ifndef LAYERCRYPT_ENGINE_IMAGE_IMAGE_CRYPT_H_
#define LAYERCRYPT_ENGINE_IMAGE_IMAGE_CRYPT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/image/oci_layout.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/recipient_list.h"
#include "engine/keywrap/recipients.h"
#include "engine/ocicrypt/annotations.h"
#include "engine/ocicrypt/descriptor.h"
#include "engine/stream/layer_cipher.h"

namespace layercrypt {

// LayerSelection: layer indices per manifest (0-based, negative from the top:
// -1 is the topmost layer; empty = all) and platforms ("os/arch[/variant]";
// empty = all; "linux/arm64" also selects "linux/arm64/v8"). A manifest
// whose descriptor has no `platform` (a single-platform image as skopeo and
// umoci write it) has its config's os/architecture/variant, as ctr-enc
// does. Architectures are compared in Go's names: x86_64 is amd64, aarch64
// is arm64. A selection that matches no layer is an error naming the
// platforms the image has.
struct LayerSelection {
  std::vector<int> layers;
  std::vector<std::string> platforms;
};

// ImageLayerReport is what happened to one layer.
struct ImageLayerReport {
  std::string platform;  // "linux/amd64", or "" for a single-manifest image
  size_t index = 0;      // layer index in its manifest
  std::string action;    // "encrypted", "decrypted", "unchanged"
  std::string from_digest, to_digest;
  std::string from_media_type, to_media_type;
  uint64_t bytes = 0;
  double seconds = 0;
  std::string pipeline_stats;  // the layer pipeline's PipelineStats::to_string(), or ""
};

struct ImageReport {
  std::vector<ImageLayerReport> layers;
  std::vector<std::string> manifests;  // new manifest digests
  uint64_t bytes_processed = 0;        // bytes encrypted or decrypted
  double seconds = 0;
  // warnings are lines for the user (stderr) about what the run could not
  // fix by itself: the plaintext of a layer just encrypted (or the old
  // ciphertext of a layer just re-keyed) that another tag of DST still
  // references, an image with nothing to decrypt.
  std::vector<std::string> warnings;
  std::vector<std::string> blobs_removed;  // unreferenced blobs deleted from DST (oci_layout.h)
};

// ProgressFn is called after each processed layer (from the calling thread).
using ProgressFn = std::function<void(const ImageLayerReport&)>;

// BytesProgressFn is called while a layer is encrypted or decrypted, with
// the layer's name and the bytes written so far out of `total`, from the
// pipeline's (serial) write stage: it must be quick, and thread-safe when
// several layers run at once (layer_jobs > 1).
using BytesProgressFn =
    std::function<void(const std::string& layer, uint64_t done, uint64_t total)>;

// kDefaultLayerJobs: how many layers of a manifest encrypt_image and
// decrypt_image process at once, each through its own pipeline
// (ordered_jobs.h: output identical to one at a time, memory bounded by the
// pipelines' buffers). Into an archive layers are always done one at a time.
inline constexpr size_t kDefaultLayerJobs = 2;

// LayerCompression: compress uncompressed tar layers while encrypting them,
// with ISA-L gzip (level 0..3, encrypt_layer_gzip: a chunk index annotation
// makes decompression parallel) or libzstd (level 1..19, encrypt_layer_zstd).
struct LayerCompression {
  Compression kind = Compression::kGzip;  // kGzip or kZstd
  int level = 1;
};

// parse_layer_compression reads "gzip", "gzip:LEVEL" (ISA-L, 0..3),
// "zstd" or "zstd:LEVEL" (libzstd, 1..19). kInvalidArgument otherwise.
StatusOr<LayerCompression> parse_layer_compression(std::string_view spelling);

struct EncryptImageOptions {
  const Recipients* recipients = nullptr;
  LayerSelection select;
  PipelineOptions pipeline;
  // compress, when set, compresses every selected uncompressed tar layer
  // while encrypting it, in the same pass: the layer becomes
  // tar+gzip+encrypted (with a chunk index annotation, engine/stream/gzip_index.h)
  // or tar+zstd+encrypted; its diff_id is unchanged. Layers that are already
  // compressed are encrypted as they are.
  std::optional<LayerCompression> compress;
  ProgressFn progress;
  BytesProgressFn bytes_progress;
  size_t layer_jobs = kDefaultLayerJobs;  // layers of a manifest processed at once
};

struct DecryptImageOptions {
  const PreparedKeys* keys = nullptr;
  LayerSelection select;
  LayerDecryptOptions decrypt;
  ProgressFn progress;
  BytesProgressFn bytes_progress;
  size_t layer_jobs = kDefaultLayerJobs;
};

// EncryptedLayer describes one layer blob encrypted by encrypt_layer_blob:
// what a builder puts into the layer's descriptor and the image config.
struct EncryptedLayer {
  std::string media_type;      // the +encrypted type (tar+gzip+encrypted when compressed)
  std::string digest;          // "sha256:..." of the encrypted blob
  uint64_t size = 0;           // its length
  Annotations annotations;     // the keys.*, pubopts (and gzip index) annotations to add
  bool compressed = false;     // the tar was compressed on the way
  std::string plain_digest;    // the plaintext blob's digest (the private options' digest)
  std::string input_digest;    // the digest of what was read
  uint64_t input_bytes = 0;    // and its length
  std::string diff_id;         // the tar's digest, when known (input or output is a tar): else ""
  std::string pipeline_stats;  // PipelineStats::to_string() of the run

  // descriptor returns the encrypted layer's descriptor (media type, digest,
  // size, annotations).
  Descriptor descriptor() const;
};

// encrypt_layer_blob encrypts one layer blob of type `media_type` read from
// `in` for `recipients` with a fresh key and nonce, writing the encrypted
// blob to `out`; with `compress`, an uncompressed tar (OCI or Docker tar
// type) is compressed on the way (encrypt_layer_gzip / encrypt_layer_zstd). Returns the
// descriptor fields and digests; kInvalidArgument for no recipients or an
// already encrypted type, kUnsupported for a type that is not a layer,
// kIoError if reading or writing failed (`out` then holds a partial blob the
// caller must discard). The caller checks input_digest against what it
// expected. Thread-safe with respect to other calls.
StatusOr<EncryptedLayer> encrypt_layer_blob(ByteSource& in, ByteSink& out,
                                            std::string_view media_type,
                                            const Recipients& recipients,
                                            std::optional<LayerCompression> compress,
                                            const PipelineOptions& pipeline);

// encrypt_layer_file is encrypt_layer_blob from the file `in_path` ("-":
// standard input) to the file `out_path` ("-": standard output), which
// appears only once complete (AtomicFileSink): on any error no output file
// is left. The input is looked at first (layer_sniff.h): with an empty
// `media_type` its type is what its first bytes say (tar, tar+gzip,
// tar+zstd); a given type must agree with them (a gzip stream is not a
// tar), and empty or non-layer input is refused (kInvalidArgument naming the
// input); input that is compressed already is encrypted as it is, whatever
// `compress` says. Errors name the file.
StatusOr<EncryptedLayer> encrypt_layer_file(const std::string& in_path, const std::string& out_path,
                                            std::string_view media_type,
                                            const Recipients& recipients,
                                            std::optional<LayerCompression> compress);

// encrypt_layer_sniffed is encrypt_layer_file's core on any source and
// sink: the first bytes of `in` (named `in_name` in messages) decide or
// check the media type as encrypt_layer_file says, then encrypt_layer_blob
// runs. On error `out` may hold a partial blob the caller must discard.
StatusOr<EncryptedLayer> encrypt_layer_sniffed(ByteSource& in, const std::string& in_name,
                                               ByteSink& out, std::string_view media_type,
                                               const Recipients& recipients,
                                               std::optional<LayerCompression> compress,
                                               const PipelineOptions& pipeline);

// encrypt_image: see the file comment. Errors name the layer (platform,
// index, digest) and the cause: kInvalidArgument for a selection that
// matches nothing or an already encrypted layer, kIntegrityError for a blob
// that does not match its digest, kUnsupported for recipients or media types
// we cannot handle.
StatusOr<ImageReport> encrypt_image(const OciRef& src, const OciRef& dst,
                                    const EncryptImageOptions& options);

// decrypt_image: see the file comment. kKeyError if no key opens a selected
// layer; kIntegrityError for a failed MAC or digest.
StatusOr<ImageReport> decrypt_image(const OciRef& src, const OciRef& dst,
                                    const DecryptImageOptions& options);

// RewrapMode: kAdd appends a wrapped-key blob for new recipients to each
// layer's annotation (ocicrypt's `,` form: old recipients keep access);
// kSet replaces every wrapped key with one for exactly the given recipients
// (a new key-encryption key, a changed recipient list). Neither re-encrypts:
// layer blobs, digests, sizes and the layer key stay the same; only
// descriptors and manifests change. So neither revokes anything: a removed
// recipient who kept the old manifest (still pullable by digest) or the
// unwrapped layer key can still decrypt the same blobs.
//
// Revocation is kSet with `rekey`: every selected layer is re-encrypted
// under a fresh layer key and nonce in one pass (the old blob is decrypted
// and its HMAC verified while the new one is written: DecryptingSource, no
// plaintext file), so the new blobs have new digests and old keys open
// nothing of the new image; the plaintext (and its digest, the diff_id) is
// unchanged. In place, the old blobs are then deleted as garbage unless
// another tag still references them (a warning says which).
//
// kRemove takes the recipients named by `remove_ids` (recipient_list.h) off
// each layer without any key: their JWE entries or PKCS7 RecipientInfos go,
// the rest stay byte for byte. Like kSet alone it does not revoke.
//
// kAdd skips a recipient a layer already has (when it can be named: see
// recipient_list.h) and says so in a warning.
enum class RewrapMode { kAdd, kSet, kRemove };

struct RewrapImageOptions {
  const PreparedKeys* keys = nullptr;  // must open every selected layer
  const Recipients* recipients = nullptr;
  RewrapMode mode = RewrapMode::kAdd;
  bool rekey = false;                   // with kSet: re-encrypt under a fresh layer key
  std::vector<std::string> remove_ids;  // kRemove: recipient ids to take off
  LayerSelection select;
  PipelineOptions pipeline;        // for rekey
  BytesProgressFn bytes_progress;  // for rekey
  ProgressFn progress;
};

// rewrap_image: see RewrapMode. Plain layers are left alone. kKeyError if
// the keys cannot open a selected encrypted layer (index.json is then not
// touched), kInvalidArgument if the selection has no encrypted layer or
// `rekey` is set with kAdd, or for kRemove if no layer has any of the ids or
// removing them would leave a layer with no recipient; with rekey, kIntegrityError if an old blob
// fails its HMAC or its plaintext digest (nothing is published).
StatusOr<ImageReport> rewrap_image(const OciRef& src, const OciRef& dst,
                                   const RewrapImageOptions& options);

// rewrap_layer_annotations does for one encrypted layer's annotations what
// rewrap_image does for each selected layer (kAdd or kSet; not kRemove):
// unwraps the layer key with `keys` and wraps the same private options for
// `rcpt`, added to the existing recipients (kAdd, skipping those the layer
// has, with a line each in `skipped`, which may be null) or replacing them
// (kSet). Returns the action: "recipients added", "rewrapped" or
// "unchanged" (kAdd with nothing new); `*ann` is changed only on success.
// Errors name the layer as `name`: kKeyError if no key opens it.
StatusOr<std::string> rewrap_layer_annotations(Annotations* ann, const PreparedKeys& keys,
                                               const Recipients& rcpt, RewrapMode mode,
                                               const std::string& name,
                                               std::vector<std::string>* skipped);

// LayerInfoRow is one line of `layercrypt layerinfo`.
struct LayerInfoRow {
  size_t index = 0;
  std::string digest;
  std::string platform;
  int64_t size = 0;
  std::string media_type;
  std::string encryption;               // "" (plain) or the schemes, e.g. "jwe,pkcs7"
  std::string cipher;                   // from pubopts, "" when plain
  std::vector<std::string> recipients;  // e.g. "jwe:RSA-OAEP", "pkcs7:1 recipient"
  std::vector<LayerRecipient> who;      // each recipient with its id (recipient_list.h)
};

// layer_info lists the layers of every manifest of `ref`.
StatusOr<std::vector<LayerInfoRow>> layer_info(const OciRef& ref);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_IMAGE_IMAGE_CRYPT_H_
