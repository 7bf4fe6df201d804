// engine/stream/layer_cipher.h: the ocicrypt layer cipher AES_256_CTR_HMAC_SHA256,
// streamed through the parallel pipeline.
//
// Format (containers/ocicrypt blockcipher_aes_ctr.go; byte-compatible):
//
//   encrypted blob = AES-256-CTR(symkey, nonce, plaintext blob)
//                    same length, no header, no padding, no tag
//   pubopts.hmac   = HMAC-SHA256(symkey, encrypted blob)      (32 bytes)
//
//   symkey: 32 random bytes, also the HMAC key (no key separation)
//   nonce:  16 random bytes, the whole initial counter block; the counter is
//           one 128-bit big-endian number that wraps mod 2^128
//
// The MAC covers the ciphertext only: not the nonce, the options or the
// length. It can be checked only after the last byte.
//
// Release policy. Go ocicrypt releases plaintext as it decrypts and holds
// back only the last ~10 KiB until the MAC verdict, so a decompressor and a
// tar extractor parse unauthenticated, attacker-malleable plaintext. We do
// not: by default (kVerifyFirst) no plaintext byte reaches the sink until the
// MAC over the whole layer has verified. A source that can be read twice (a
// regular file) is read twice: MAC first, then decrypt, and the second read
// checks every chunk against a tag the first recorded (AES-GMAC under a key
// of the run's own), so a file rewritten in between stops the run at the
// first chunk that changed instead of releasing what the MAC never saw. A
// pipe is spooled
// (see engine/core/io.h Spool) while it is MACed, then decrypted from the spool.
// kStream keeps Go's single pass for nodes without spool space: plaintext is
// written as it is produced and the MAC verdict comes at the end; the caller
// must then treat everything written as unverified and discard it on error
// (layercrypt-decoder exits non-zero, so containerd aborts the unpack).
#ifndef LAYERCRYPT_ENGINE_STREAM_LAYER_CIPHER_H_
#define LAYERCRYPT_ENGINE_STREAM_LAYER_CIPHER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <optional>

#include "engine/core/compression.h"
#include "engine/core/io.h"
#include "engine/core/layer_key.h"
#include "engine/core/status.h"
#include "engine/stream/gzip_index.h"
#include "engine/stream/pipeline.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// ReleasePolicy chooses when decrypted bytes may reach the sink.
enum class ReleasePolicy : uint8_t {
  kVerifyFirst,  // nothing is written before the MAC has verified
  kStream,       // write as decrypted; the MAC verdict comes at the end
};

// LayerDecryptOptions tunes decrypt_layer.
struct LayerDecryptOptions {
  ReleasePolicy policy = ReleasePolicy::kVerifyFirst;
  // Spool memory bound for a source that cannot be rewound; beyond it the
  // ciphertext goes to an anonymous temporary file in $TMPDIR.
  size_t spool_memory_limit = size_t{8} << 20;
  PipelineOptions pipeline;
  // decompress, when set, is the compression of the plaintext blob, and the
  // sink receives the tar instead of the blob (engine/stream/layer_decompress.h;
  // kNone writes the blob unchanged). Unset: the blob as it is.
  std::optional<Compression> decompress;
  // gzip_index, with decompress == kGzip, is the blob's chunk index
  // (parse_gzip_index against the descriptor's size): the chunks are then
  // inflated in parallel. An index that does not fit the blob read is not
  // used (verify-first) or fails the run (kStream, where the blob's length
  // is known only at its end).
  std::optional<GzipIndex> gzip_index;
  // expected_blob_digest, when not empty, is the digest the blob read must
  // have ("sha256:<hex>", its descriptor's). kStream without decompress
  // only: the pass that MACs the blob then also hashes the blob and the
  // plaintext written, all three in one multi-lane stage, and fills
  // LayerDecryptResult::plain_sha256; a blob of another digest fails with
  // kIntegrityError before the MAC is checked. The caller then need not
  // hash either stream itself.
  std::string expected_blob_digest;
};

// LayerDecryptResult describes a successful decryption.
struct LayerDecryptResult {
  uint64_t bytes = 0;          // plaintext bytes written
  bool spooled = false;        // the ciphertext was spooled (pipe input)
  bool spool_spilled = false;  // ... and the spool went to a temporary file
  PipelineStats verify_stats;  // the MAC pass (kVerifyFirst only)
  PipelineStats decrypt_stats;
  // With decompress: the tar bytes written (`bytes` is then the blob's
  // length), whether the chunk index was used, and from which chunk on the
  // indexed inflater had to fall back to sequential inflation (-1: none).
  uint64_t tar_bytes = 0;
  bool indexed_inflate = false;
  int64_t inflate_fallback_chunk = -1;
  // With expected_blob_digest: the SHA-256 of the plaintext written.
  std::array<uint8_t, 32> plain_sha256{};
};

// decrypt_layer reads an encrypted layer blob from `source` and writes the
// plaintext to `sink` (or, with options.decompress, the tar it holds),
// checking HMAC-SHA256(symkey, ciphertext) against `expected_hmac` (32
// bytes, compared in constant time).
//
// Returns the result on success. On failure returns:
//   kIntegrityError  the MAC did not match (message: expected and computed
//                    MAC in hex; the blob is corrupt, truncated, extended or
//                    tampered with, or the options belong to another blob),
//                    or the blob does not have options.expected_blob_digest,
//                    or a file read twice changed between the reads;
//   kInvalidArgument key or nonce of the wrong length, or
//                    expected_blob_digest with kVerifyFirst or decompress;
//   kDataError       with decompress: the verified blob is not a valid
//                    gzip/zstd stream (the tar written is cut short);
//   kIoError         reading, spooling or writing failed.
// With kVerifyFirst nothing has been written to `sink` on any failure except
// a write error, with decompress a corrupt compressed stream, or a file that
// changed between the reads; what was written is verified plaintext all the
// same. With kStream, bytes already written are unverified.
// Thread-safe with respect to other calls; uses the pipeline's threads.
StatusOr<LayerDecryptResult> decrypt_layer(ByteSource& source, ByteSink& sink, const LayerKey& key,
                                           const std::array<uint8_t, kLayerHmacLen>& expected_hmac,
                                           const LayerDecryptOptions& options);

// LayerEncryptResult is what encrypting a layer produces besides the blob.
struct LayerEncryptResult {
  uint64_t bytes = 0;                         // blob size (plain = cipher)
  std::array<uint8_t, kLayerHmacLen> hmac{};  // pubopts.hmac
  std::array<uint8_t, 32> plain_sha256{};     // digest of the plaintext blob
  std::array<uint8_t, 32> cipher_sha256{};    // digest of the encrypted blob
  PipelineStats stats;
  // encrypt_layer_gzip and encrypt_layer_zstd only: the tar's length and
  // digest (the diff_id; plain_sha256 is then the compressed blob's), and,
  // for gzip only, the chunk index of the gzip blob.
  uint64_t tar_bytes = 0;
  std::array<uint8_t, 32> tar_sha256{};
  std::optional<GzipIndex> gzip_index;
};

// encrypt_layer reads a plaintext layer blob from `source`, writes the
// encrypted blob to `sink`, and returns its HMAC and the SHA-256 digests of
// the input and output blobs, all computed in the same pass. Returns
// kInvalidArgument for a key or nonce of the wrong length and kIoError if
// reading or writing failed (the sink then holds a partial blob that the
// caller must discard). Thread-safe with respect to other calls.
StatusOr<LayerEncryptResult> encrypt_layer(ByteSource& source, ByteSink& sink, const LayerKey& key,
                                           const PipelineOptions& options);

// encrypt_layer_gzip is encrypt_layer for a tar that is compressed on the
// way: it reads an uncompressed tar from `source`, compresses it into one
// gzip member at ISA-L `level` (0..3) in parallel chunks of
// options.chunk_size (engine/stream/layer_compress.h), encrypts that member and
// writes the encrypted blob to `sink`, all in one pass. Returns the HMAC,
// the digests of the tar (diff_id), the gzip blob (the private options'
// digest) and the encrypted blob, and the chunk index. The blob's bytes
// depend only on the tar, the level and the chunk size (and the key), never
// on the thread count. Errors as encrypt_layer, plus kInvalidArgument for a
// level outside 0..3. Thread-safe with respect to other calls.
StatusOr<LayerEncryptResult> encrypt_layer_gzip(ByteSource& source, ByteSink& sink,
                                                const LayerKey& key, int level,
                                                const PipelineOptions& options);

// DecryptingSource reads an encrypted layer blob from `inner` and yields its
// plaintext, computing HMAC-SHA256(symkey, ciphertext) as it goes. At the
// end of the blob, before it reports the end, it checks the HMAC against
// `expected_hmac` in constant time: a mismatch is returned as a read error
// (kIntegrityError), so a consumer (encrypt_layer re-encrypting the layer
// under a new key) cannot finish with unverified plaintext. Used by the
// re-key of `recipients set --rekey`: the plaintext exists only in the
// pipeline's buffers, never in a file. Not rewindable; not thread-safe.
class DecryptingSource final : public ByteSource {
 public:
  // DecryptingSource borrows `inner`, which must outlive it. kInvalidArgument
  // from the first read() if the key or nonce has the wrong length.
  DecryptingSource(ByteSource& inner, const LayerKey& key,
                   const std::array<uint8_t, kLayerHmacLen>& expected_hmac, std::string name);
  ~DecryptingSource() override;
  StatusOr<size_t> read(uint8_t* out, size_t cap) override;
  std::optional<uint64_t> size_hint() const override { return inner_.size_hint(); }

 private:
  struct State;
  ByteSource& inner_;
  std::unique_ptr<State> s_;
};

// encrypt_layer_zstd is encrypt_layer_gzip for zstd: it reads an
// uncompressed tar from `source`, compresses it into ONE standard zstd frame
// (with a content checksum; `zstd -d`, Go's klauspost/compress and
// containerd read it) at `level` (kMinZstdLevel..kMaxZstdLevel, 1..19;
// kDefaultZstdLevel is 3) with libzstd's multithreaded streaming compressor
// (options.threads workers, default one per core;
// engine/stream/layer_compress.h ZstdTarSource), encrypts the frame and writes the
// encrypted blob to `sink`, all in one pass. Returns bytes (the frame's
// length = the encrypted blob's), the HMAC, tar_bytes and tar_sha256 (the
// tar read: the diff_id), plain_sha256 (the frame: the private options'
// digest) and cipher_sha256; gzip_index stays empty, and stats.bytes
// counts frame bytes (their reading includes compression). An empty tar
// (0 bytes) gives a valid frame of nothing. The blob's bytes depend only on
// the tar and the level (and the key), never on the thread count. Errors as
// encrypt_layer, plus kInvalidArgument for a level outside 1..19.
// Thread-safe with respect to other calls; starts libzstd's worker threads
// besides the pipeline's.
StatusOr<LayerEncryptResult> encrypt_layer_zstd(ByteSource& source, ByteSink& sink,
                                                const LayerKey& key, int level,
                                                const PipelineOptions& options);

// new_layer_key returns a fresh 32-byte key and 16-byte nonce from the OS
// CSPRNG (OpenSSL RAND_priv_bytes), or kInternal if it failed.
StatusOr<LayerKey> new_layer_key();

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_STREAM_LAYER_CIPHER_H_
