// engine/stream/pipeline.h: the chunked parallel pipeline every layer stream runs on.
//
// ---------------------------------------------------------------------------
// Design
// ---------------------------------------------------------------------------
// A layer is a byte stream of unknown length (containerd hands the decoder a
// pipe) that can be gigabytes long. ocicrypt's cipher, AES-256-CTR with one
// HMAC-SHA256 over the whole ciphertext, has one part that parallelises
// perfectly and one that cannot be parallelised at all:
//
//   * CTR keystream block i is AES(nonce + i): any byte range can be
//     processed independently if we know its offset in the stream
//     (kernels::AesCtr256::xor_at). ipsec-mb does ~16 GB/s per core.
//   * HMAC-SHA256 is one Merkle-Damgard chain over every ciphertext byte in
//     order. It runs at ~1.8 GB/s on one core (SHA-NI) and sets the ceiling
//     for a single layer.
//
// So the stream is cut into fixed-size chunks (128 KiB by default, at least
// 64 KiB) and pushed through a oneTBB parallel_pipeline whose stages
// alternate between the two kinds:
//
//   read      serial, in order   fill a pooled buffer from the source;
//                                assign the chunk its sequence number and
//                                byte offset (the only place that knows them)
//   hash      serial, in order   HMAC / SHA-256 over the bytes, in order
//   cipher    parallel           CTR at the chunk's offset, in place
//   write     serial, in order   hand the bytes to the sink, in order
//
// The caller chooses the stages and their order (decryption MACs the
// ciphertext before decrypting it; encryption after), and a stage is just a
// function of a Chunk. Serial stages run concurrently with each other on
// different chunks. Hashes that read the same chunk may share a stage: a
// multi-lane pass (kernels/sha256_mb.h) hashes two streams for much less
// than two stages do. Three streams are split two and one, so that both
// cores hash: encryption runs CTR from the chunk into its second buffer,
// hashes the plaintext digest with the HMAC in one stage and the blob
// digest in the next (7% less wall time than all three in one stage on a
// 2 vCPU AMD EPYC); decryption (kStream, with the blob's digest) hashes the
// HMAC with the blob digest, then the plaintext digest.
//
// Order. "serial_in_order" filters see chunks in sequence-number order, so
// the hash and write stages need no reordering buffer of their own: TBB
// holds back a chunk that finished its parallel stage early until its
// predecessors have passed.
//
// Memory is bounded whatever the stream length. The pipeline allows at most
// `max_live_chunks` tokens in flight (default 4 per worker thread, at least
// 4), and owns at most that many chunk buffers (each with its second
// buffer, when the run asks for one), allocated the first time the read
// stage needs a new one (a one-chunk stream allocates one) and recycled: the
// read stage takes a free buffer, a final release stage gives it back. A
// token can never be without a buffer, so the read stage never blocks, and
// the reader cannot run ahead of the writer by more than max_live_chunks *
// chunk_size bytes (pigz's "can't get way ahead of the write thread").
//
// Chunk size. Small enough that the live chunks stay in the cores' caches:
// every chunk is written by the read stage and then read by the hash, the
// cipher and the write stages, often on the other core, so a buffer that
// has dropped out of cache costs each of them a trip to memory. Large
// enough that the per-chunk cost (a read() and a write() call, a TBB
// token) stays below 1% of the work. On a 2 vCPU Xeon, decrypting a 286 MB
// layer from a file with --stream ran at 1.41 GB/s with 1 MiB chunks, 1.43
// with 512 KiB and 1.57 with 128 KiB; 4 MiB chunks fell to 1.06 GB/s
// (bench/README.md). Compression keeps its own 1 MiB chunks
// (ChunkedGzip::kDefaultChunkSize): they are the deflate unit, and smaller
// ones would cost ratio.
//
// Ownership. A Chunk's buffer belongs to the pipeline; a stage may modify
// the bytes in place (the cipher does) but must not keep a pointer to them
// after it returns. Buffers are wiped before they are freed: they hold
// plaintext.
//
// Compression. The fused paths change a chunk's length on the way, so a
// chunk may carry a second pooled buffer (Chunk::out, out_buffer_size):
//
//   tar -> gzip -> encrypt (engine/stream/layer_compress.h, layer_cipher.h)
//     read tar (serial) | deflate into out (parallel, each chunk on its
//     own) | gzip framing: header, trailer, the chunk's offset in the
//     member, CRC-32 folded in order (serial) | sha256 of the tar and of
//     the gzip blob, two lanes (serial) | CTR on out at that offset
//     (parallel) | HMAC and sha256 of the ciphertext, two lanes (serial) |
//     write (serial)
//   decrypt -> inflate, with layercrypt's chunk index (layer_decompress.h)
//     read the blob as segments: gzip header, each compressed chunk,
//     trailer (serial) | CTR (parallel) | inflate each chunk into out
//     (parallel) | check the chunk and write it, or fall back to one
//     sequential inflater (serial)
//
// The reader looks one byte ahead so every chunk knows whether it is the
// last (a deflater must set BFINAL on it), and it can follow segment
// lengths the caller knows in advance instead of a fixed size, in which
// case a stream of any other length is an error. Seven serial stages on two
// cores still overlap: each is a chain over the chunks in order, and TBB
// runs different chains' chunks at once.
//
// Small streams. Starting TBB workers costs ~1 ms, more than decrypting a
// small layer. The read stage therefore reads the first chunk and one more
// byte on the calling thread; if the stream ends within that chunk, every
// stage runs inline on the calling thread and TBB is never touched.
//
// Waiting without spinning (PipelineOptions::read_ahead). A oneTBB worker
// that has no task spins (pause, then sched_yield) before it sleeps, and a
// pipeline whose work is one slow serial stage wakes it for every chunk: it
// never gets to sleep. The decoder's decrypt pass with `--decompress` is
// like that (CTR and a one-core inflate), and there TBB burnt a second core
// for nothing: 0.95 CPU-s for 0.52 s of stage work on a 300 MB tar, with
// 150,000 sched_yield calls (2 vCPU AMD EPYC, bench/README.md). Such runs
// ask for read_ahead: the stages run on the calling thread one chunk after
// the other, and a plain thread reads ahead into the pooled buffers. Each
// side sleeps on a condition variable when it waits for the other, so the
// CPU time is the work. Where the slow stage is short per chunk, TBB is
// faster in wall time, because it mostly runs a chunk's stages on the core
// that read it, and keeps the runs: the MAC pass (reading ahead on another
// core made it 8% slower), the plain decrypt pass, which is bound by the
// read, and encryption (10% slower on three threads: 0.38 -> 0.42 s for a
// 300 MB layer on tmpfs; TBB spends 0.72 CPU-s for 0.43 s of stage work).
// So do runs with parallel work (compression, indexed inflate) or two heavy
// serial stages (the MAC next to inflate with --stream).
//
// Errors. A stage returns a Status. A non-OK status is thrown as one
// internal exception type, which makes TBB cancel the pipeline and rethrow
// on the calling thread; run_pipeline turns it back into the Status. No
// exception leaves this API. After an error, stages may have seen only part
// of the stream: callers decide what that means (the layer decryptor, for
// one, never releases unverified plaintext).
//
// Statistics. Each stage's busy time and the read/write volumes are
// collected in PipelineStats (printable with `--stats`).
// ---------------------------------------------------------------------------
#ifndef LAYERCRYPT_ENGINE_STREAM_PIPELINE_H_
#define LAYERCRYPT_ENGINE_STREAM_PIPELINE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/core/io.h"
#include "engine/core/status.h"

namespace layercrypt {

// Chunk is one piece of the stream as it travels through the stages.
struct Chunk {
  uint64_t seq = 0;     // 0, 1, 2, ... in stream order
  uint64_t offset = 0;  // byte offset of data[0] in the stream
  uint8_t* data = nullptr;
  size_t len = 0;     // valid bytes; equals chunk_size except for the last chunk
  bool last = false;  // no chunk follows this one
  // A second buffer per chunk for stages that transform data into a
  // different length (compression): out_cap == PipelineOptions::
  // out_buffer_size bytes, null when that is 0. out_len and out_offset are
  // the stages' to set (0 when the chunk is read); the pipeline only wipes
  // the buffer at the end.
  uint8_t* out = nullptr;
  size_t out_cap = 0;
  size_t out_len = 0;
  uint64_t out_offset = 0;
  uint32_t crc = 0;  // free for a stage's per-chunk checksum
};

// StageKind says how TBB may schedule a stage.
enum class StageKind : uint8_t {
  kSerialInOrder,  // one chunk at a time, in sequence-number order
  kParallel,       // any number of chunks at once, any order
};

// Stage is one step of the pipeline: a name (for statistics), a kind, and a
// function applied to every chunk. The function runs on TBB worker threads
// (or on the calling thread for small streams) and must be safe for its
// kind: a kParallel stage is called concurrently.
struct Stage {
  std::string name;
  StageKind kind;
  std::function<Status(Chunk&)> run;
};

// PipelineOptions tunes a run. Zero means "the default".
struct PipelineOptions {
  size_t chunk_size = 0;       // default kDefaultChunkSize; at least kMinChunkSize
  size_t max_live_chunks = 0;  // default 4 per thread, at least 4
  size_t threads = 0;          // default and maximum: oneTBB's default concurrency
                               // (a tbb::global_control can raise the maximum)
  // out_buffer_size > 0 gives every chunk a second buffer of that size
  // (Chunk::out), allocated with the chunk's and recycled with it.
  size_t out_buffer_size = 0;
  // segments, when not empty, replaces fixed-size chunking: chunk i is
  // exactly segments[i] bytes (0 is allowed), and the stream must be exactly
  // their sum long; a source that ends early or has bytes beyond is a
  // kDataError. chunk_size is then unused. Segments let a reader follow a
  // structure it knows in advance, such as the chunks of an indexed gzip.
  std::vector<size_t> segments;
  // deliver_empty: an empty stream still passes one empty chunk (len 0,
  // last) through the stages, for writers that emit framing even for no
  // input. Otherwise stages never see an empty stream.
  bool deliver_empty = false;
  // read_ahead runs every stage on the calling thread, one chunk after the
  // other, and only the read on a thread of its own, which fills up to
  // max_live_chunks buffers ahead (default 8). Both threads sleep while
  // they wait. For runs whose work is one serial stage or less (a hash,
  // inflate, a write): TBB would give them no more speed, and its worker
  // threads spin (sched_yield) whenever they wait for that stage, which
  // costs a core. `threads` is unused.
  bool read_ahead = false;
  static constexpr size_t kDefaultChunkSize = size_t{128} << 10;
  static constexpr size_t kMinChunkSize = size_t{64} << 10;
};

// StageStats is the busy time of one stage.
struct StageStats {
  std::string name;
  double busy_seconds = 0;
};

// PipelineStats describes a finished run.
struct PipelineStats {
  uint64_t bytes = 0;
  uint64_t chunks = 0;
  double wall_seconds = 0;
  double read_seconds = 0;
  bool inline_run = false;  // the stream fitted one chunk; TBB was not used
  size_t chunk_size = 0;
  size_t max_live_chunks = 0;
  std::vector<StageStats> stages;

  // to_string formats the statistics as a few human-readable lines.
  std::string to_string() const;
};

// run_pipeline reads `source` to its end in chunks and passes every chunk
// through `stages` in order. Each chunk knows whether it is the last
// (the reader looks one byte ahead). Returns OK when the source reached EOF and
// every stage accepted every chunk; otherwise the first error (a read error
// or a stage's status). On return no stage is running and no buffer is
// referenced. `stats` may be null. Thread-safe with respect to other runs.
Status run_pipeline(ByteSource& source, const std::vector<Stage>& stages,
                    const PipelineOptions& options, PipelineStats* stats);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_STREAM_PIPELINE_H_
