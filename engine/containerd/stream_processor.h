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
#ifndef LAYERCRYPT_ENGINE_CONTAINERD_STREAM_PROCESSOR_H_
#define LAYERCRYPT_ENGINE_CONTAINERD_STREAM_PROCESSOR_H_

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/core/io.h"
#include "engine/stream/layer_cipher.h"
#include "engine/core/status.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// StreamProcessorOptions configures one decoder run.
struct StreamProcessorOptions {
  std::optional<std::string> keys_dir;  // --decryption-keys-path
  std::string env_media_type;           // STREAM_PROCESSOR_MEDIATYPE ("" if unset)
  LayerDecryptOptions decrypt;          // release policy, spool bound, pipeline
  // decompress: write the layer's tar, not its (gzip/zstd) blob
  // (--decompress): the compression comes from the descriptor's media type
  // and a layercrypt chunk index annotation, if any, is used to inflate in
  // parallel. decrypt.decompress and decrypt.gzip_index are set from these.
  bool decompress = false;
};

// StreamProcessorReport describes a run, for warnings and --stats.
struct StreamProcessorReport {
  std::vector<std::string> warnings;  // one line each (skipped key files, ...)
  std::string media_type;             // the layer's (descriptor) media type
  std::string layer_digest;           // the layer's (descriptor) digest
  size_t keys_tried = 0;
  LayerDecryptResult result;
};

// run_stream_processor decrypts the layer read from `in` to `out` as
// described above, with `payload` the bytes read from fd 3. Returns OK with
// `report` filled in; or the first error as a one-line Status that names the
// cause and the way out (bad payload, unsupported media type, no usable key,
// wrong key, MAC failure, I/O). `report` may be null. With the default
// release policy nothing has been written to `out` when it fails (except on
// a write error). Thread-safe with respect to other runs.
Status run_stream_processor(std::span<const uint8_t> payload, ByteSource& in, ByteSink& out,
                            const StreamProcessorOptions& options,
                            StreamProcessorReport* report);

// no_payload_message returns the error for a decoder started without fd 3,
// listing the usual reasons containerd passes no payload.
std::string no_payload_message();

// kMaxPayloadLen bounds what read_payload accepts: a payload is a few KiB,
// keys included.
inline constexpr size_t kMaxPayloadLen = size_t{16} << 20;

// read_payload reads the payload from `fd` (fd 3 under containerd) to EOF
// into wiping memory (ctr-enc style payloads carry private keys) and closes
// `fd`. Returns the bytes; kInvalidArgument with no_payload_message() if
// `fd` is not open; kIoError if reading fails; kDataError if there are more
// than kMaxPayloadLen bytes. Not thread-safe (it closes `fd`).
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
