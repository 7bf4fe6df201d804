// engine/containerd/stream_processor.h: decrypting one layer the way containerd's
// stream-processor contract (imgcrypt's ctd-decoder) asks.
//
// containerd execs the decoder for every encrypted layer with:
//   stdin   the encrypted layer blob (a pipe);
//   stdout  a pipe for the decrypted blob (still gzip/zstd if it was);
//   fd 3    the payload: a protobuf google.protobuf.Any, type_url
//           io.containerd.ocicrypt.v1.Payload, whose value is the JSON
//           {"DecryptConfig":{"Parameters":{...keys...}},"Descriptor":{...}};
//   env     STREAM_PROCESSOR_MEDIATYPE = the layer's media type;
//   args    --decryption-keys-path DIR (the CRI "node" key model).
// On failure the decoder must exit non-zero; containerd then reports its
// stderr verbatim as the pull error.
//
// run_stream_processor does everything but the process plumbing: it parses
// the payload, checks the media type, loads the keys directory and the
// payload's keys, unwraps the layer key (engine/keywrap/key_unwrap.h), validates the
// options (a public nonce is rejected), and decrypts with the chosen release
// policy (engine/stream/layer_cipher.h: by default nothing is written before the
// MAC verifies).
//
// Without a payload (containerd 2.1+'s transfer service starts processors
// with no fd 3) the descriptor comes from containerd's content store
// (engine/containerd/content_store.h): the decoder reads the blob, takes
// its sha256, and uses the encrypted-layer descriptors of the manifests
// there that list that digest, trying each until one unwraps.
//
// Spooling: verify-first on a pipe must keep the ciphertext until the MAC
// has verified. When the layer blob is already a file in the content store
// (containerd commits it there before it unpacks), the decoder reads that
// file twice instead (MAC pass, then decryption) and drains stdin on
// another thread, hashing it; the stdin digest must equal the layer's
// digest before the first plaintext byte is released, else the run fails.
// The file is used only if its size is the descriptor's and its first
// bytes are those read from stdin; otherwise stdin is spooled as before.
#ifndef LAYERCRYPT_ENGINE_CONTAINERD_STREAM_PROCESSOR_H_
#define LAYERCRYPT_ENGINE_CONTAINERD_STREAM_PROCESSOR_H_

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/containerd/content_store.h"
#include "engine/core/io.h"
#include "engine/core/status.h"
#include "engine/keywrap/provider/key_providers.h"
#include "engine/stream/layer_cipher.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// StreamProcessorOptions configures one decoder run.
struct StreamProcessorOptions {
  std::optional<std::string> keys_dir;  // --decryption-keys-path
  // key_providers: the configured key providers (OCICRYPT_KEYPROVIDER_CONFIG
  // or --keyprovider-config); a provider.NAME blob goes to provider NAME with
  // the payload's NAME parameters only (ctr-enc --key provider:NAME:PARAMS).
  std::shared_ptr<const KeyProviders> key_providers;
  std::string env_media_type;   // STREAM_PROCESSOR_MEDIATYPE ("" if unset)
  LayerDecryptOptions decrypt;  // release policy, spool bound, pipeline
  // decompress: write the layer's tar, not its (gzip/zstd) blob
  // (--decompress): the compression comes from the descriptor's media type
  // and a layercrypt chunk index annotation, if any, is used to inflate in
  // parallel. decrypt.decompress and decrypt.gzip_index are set from these.
  bool decompress = false;
  // containerd_root: containerd's root directory. Its content store
  // supplies the descriptor when there is no payload, and the layer file
  // that saves spooling a piped layer. nullopt: the content store is not
  // used, and a run without a payload fails.
  std::optional<std::string> containerd_root;
  std::string containerd_root_origin;  // for messages: how the root was found
  // find_containerd_root, when containerd_root is unset, is called (at most
  // once) the first time the content store is needed, so a run that does
  // not need it (a payload and a small layer) pays nothing for finding it.
  std::function<ContainerdRoot()> find_containerd_root;
  ContentScanLimits scan;
  // Layers of at most this many bytes are always spooled (in memory, as
  // cheap as reading a file) rather than read from the content store.
  uint64_t content_store_min_size = uint64_t{8} << 20;
};

// StreamProcessorReport describes a run, for warnings and --stats.
struct StreamProcessorReport {
  std::vector<std::string> warnings;  // one line each (skipped key files, ...)
  std::string media_type;             // the layer's (descriptor) media type
  std::string layer_digest;           // the layer's (descriptor) digest
  size_t keys_tried = 0;
  // Where the descriptor came from: "payload", or "content store manifest
  // sha256:..." when there was no payload.
  std::string descriptor_from;
  std::optional<ContentScanStats> scan;  // set when the content store was scanned
  std::string containerd_root;           // the root used ("" if none was needed)
  std::string containerd_root_origin;
  size_t candidates = 0;  // descriptors found for the digest
  // No payload, and the content store is missing or lists the layer in no
  // manifest (the tool adds how to point it at containerd's root).
  bool descriptor_not_found = false;
  // The ciphertext was read from the content store's file, not spooled;
  // stdin was drained and its digest checked.
  bool read_from_content_store = false;
  uint64_t spool_bytes = 0;    // bytes of ciphertext spooled (memory or $TMPDIR)
  bool spool_spilled = false;  // ... and the spool went to a file in $TMPDIR
  LayerDecryptResult result;
};

// run_stream_processor decrypts the layer read from `in` to `out` as
// described above, with `payload` the bytes read from fd 3 (empty: there
// was no payload; see options.containerd_root). Returns OK with
// `report` filled in; or the first error as a one-line Status that names the
// cause and the way out (bad payload, unsupported media type, no usable key,
// wrong key, MAC failure, I/O). `report` may be null. With the default
// release policy nothing has been written to `out` when it fails (except on
// a write error). Thread-safe with respect to other runs.
Status run_stream_processor(std::span<const uint8_t> payload, ByteSource& in, ByteSink& out,
                            const StreamProcessorOptions& options, StreamProcessorReport* report);

// set_decompress_options makes `decrypt` write the tar of the layer `desc`
// describes: the compression comes from its media type, and a layercrypt
// chunk index annotation that fits desc.size lets gzip inflate in parallel
// (one that does not fit is a line in `warnings`, which may be null).
// kUnsupported for a media type that is not a layer.
Status set_decompress_options(const Descriptor& desc, LayerDecryptOptions* decrypt,
                              std::vector<std::string>* warnings);

// no_payload_message returns the error for a decoder started without fd 3,
// listing the usual reasons containerd passes no payload.
std::string no_payload_message();

// kMaxPayloadLen bounds what read_payload accepts: a payload is a few KiB,
// keys included.
inline constexpr size_t kMaxPayloadLen = size_t{16} << 20;

// read_payload reads the payload from `fd` (fd 3 under containerd) to EOF
// into wiping memory (ctr-enc style payloads carry private keys) and closes
// `fd`. Returns the bytes, none if `fd` is not open (containerd 2.1+'s
// transfer service passes no fd 3); kIoError if reading fails; kDataError
// if there are more than kMaxPayloadLen bytes. Not thread-safe (it closes
// `fd`).
StatusOr<kernels::SecretBytes> read_payload(int fd);

// prepare_openssl_for_one_job sets OpenSSL up for a process that runs one
// stream-processor job and exits (layercrypt-decoder): no cleanup at exit
// (OpenSSL would free its method stores and DRBGs one by one, ~1.2 M
// instructions, just before the kernel frees the whole address space) and
// no error-string tables (~0.9 M instructions; the decoder's messages never
// include OpenSSL's strings). Call it before any other OpenSSL use of the
// process: the first initialisation decides. Returns true if OpenSSL
// accepted it. Not thread-safe.
bool prepare_openssl_for_one_job();

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CONTAINERD_STREAM_PROCESSOR_H_
