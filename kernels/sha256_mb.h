// kernels/sha256_mb.h: streaming multi-lane SHA-256 and HMAC-SHA256: several
// independent digests fed piece by piece and computed together.
//
// Why: encrypting a layer hashes three independent streams (the source
// digest, the HMAC over the ciphertext and the digest of the encrypted blob)
// and decrypting two or three, each at one-stream SHA-NI speed (~1.7 GB/s
// per core through OpenSSL, kernels/sha256.h). Each SHA256RNDS2 depends on
// the one before, so a single stream leaves the SHA unit idle most of the
// time; independent streams whose rounds interleave fill it. ipsec-mb
// interleaves like that but only hashes whole messages (kernels/
// hmac_sha256_mb.h), and OpenSSL has no multi-buffer API, so this is the one
// primitive layercrypt implements itself. It is kept to the compression
// function, the block buffering and the HMAC wrapping; everything else (and
// the fallback) is OpenSSL.
//
// What: a Sha256Lanes object holds up to kSha256MaxLanes lanes, each a plain
// SHA-256 or an HMAC-SHA256 under its own key. update() feeds every lane its
// own piece (lengths may differ, and may be 0), update_all() feeds all lanes
// the same bytes (the HMAC and the blob digest of the same ciphertext).
// final(lane) yields that lane's 32-byte digest or tag; each lane equals
// what kernels/sha256.h or kernels/hmac_sha256.h would compute from the same
// bytes, however they were split.
//
// How (Sha256Path::kShaNi): each lane keeps its state, a buffer of up to 63
// bytes and its length. An update first tops up each lane's buffer (at most
// one single-lane block per lane), then compresses the whole blocks of all
// lanes together: the (up to) four lanes with the most blocks left run in
// one pass with their SHA-NI rounds interleaved, for as many blocks as the
// least busy of them has; then the rest again, until no lane has a whole
// block left. Tails go to the buffers. So equal pieces (the common case:
// the same chunk to every lane, or a chunk of plaintext and its ciphertext)
// take one pass, and unequal ones a pass per distinct length. An HMAC lane
// starts from the state after its key^ipad block; final() runs one more
// block from the key^opad state.
//
// Cost, per core, 1 MiB updates, medians of CPU-time figures on a busy
// 2-vCPU AMD EPYC (family 26 model 2), bench/bench_hmac_sha256.cc
// BM_Sha256Lanes (bench/results/amd-epyc-family26-model2-2vcpu/
// sha256_lanes.txt): one OpenSSL stream 1.56 GiB/s; lanes 1: 1.61, 2: 2.26
// (1.45x; ipsec-mb's two-job SHA-NI code does 1.55x in the same run),
// 3: 2.72 (1.74x), 4: 2.79 (the fourth lane's registers spill: the
// legacy-encoded SHA instructions reach only xmm0-15). On this core the SHA
// unit's throughput, about one SHA256RNDS2 every two cycles, bounds two
// streams; three come close to that bound. A lane that runs alone costs
// the same as OpenSSL.
//
// Paths: kShaNi needs SHA-NI and SSE4.1 (cpuid, read once). kOpenSsl keeps
// one OpenSSL context per lane and feeds each in turn (no interleaving); it
// is the fallback without SHA-NI and the reference the tests compare with.
// No AVX-512 or AVX2 lane path: those hash 16 or 8 lanes for the price of a
// full pass however few are busy, and with the 2 to 3 streams a layer has
// they lose to SHA-NI by far: in the same run, ipsec-mb's 16-lane AVX-512
// HMAC-SHA256 hashed 3 jobs of 64 KiB at 0.93 GiB/s in all, against 2.0
// for its SHA-NI manager and 2.9 for three lanes here.
//
// Secrets: HMAC keys, the ipad/opad states derived from them and every
// lane's running state and buffer live in wiping memory (kernels/
// secure_memory.h) and are wiped on destruction; temporaries are wiped.
#ifndef LAYERCRYPT_KERNELS_SHA256_MB_H_
#define LAYERCRYPT_KERNELS_SHA256_MB_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace layercrypt::kernels {

// kSha256MaxLanes is the most lanes one Sha256Lanes object holds.
inline constexpr size_t kSha256MaxLanes = 8;
// kSha256LanesOutLen is the size of every lane's digest or tag.
inline constexpr size_t kSha256LanesOutLen = 32;

// Sha256Path names an implementation. kAuto resolves to kShaNi where the CPU
// has it, else kOpenSsl.
enum class Sha256Path : uint8_t { kAuto, kShaNi, kOpenSsl };

// sha256_path_name returns "auto", "sha-ni" or "openssl".
const char* sha256_path_name(Sha256Path path);

// sha256_path_supported returns true if this CPU can run `path` (kAuto and
// kOpenSsl always). Thread-safe.
bool sha256_path_supported(Sha256Path path);

// sha256_supported_paths returns every explicit path this CPU runs, kShaNi
// first, for tests and benchmarks. Thread-safe.
std::vector<Sha256Path> sha256_supported_paths();

// sha256_resolve_path returns the path a Sha256Lanes made with `path` uses:
// `path` itself if explicit, else kShaNi if supported, else kOpenSsl.
Sha256Path sha256_resolve_path(Sha256Path path);

// Sha256Lanes is a set of streaming SHA-256 / HMAC-SHA256 lanes computed
// together.
//
// Lifecycle: construct, add lanes (add_sha256 / add_hmac; lanes are numbered
// 0, 1, ... in the order they were added), update()/update_all() any number
// of times, final() each lane; reset() restarts every lane with the same
// kinds and keys. Lanes cannot be added once data was fed (until reset()).
//
// Thread-safety: an object is not thread-safe; distinct objects may be used
// from distinct threads. Movable, not copyable.
class Sha256Lanes {
 public:
  // Sha256Lanes makes an object with no lanes on the path `path` resolves
  // to. If that path is not supported here (an explicit kShaNi without
  // SHA-NI) or allocation fails, ok() is false and every call fails.
  explicit Sha256Lanes(Sha256Path path = Sha256Path::kAuto);
  // ~Sha256Lanes wipes every state, buffer and key.
  ~Sha256Lanes();
  Sha256Lanes(Sha256Lanes&& other) noexcept;
  Sha256Lanes& operator=(Sha256Lanes&& other) noexcept;
  Sha256Lanes(const Sha256Lanes&) = delete;
  Sha256Lanes& operator=(const Sha256Lanes&) = delete;

  // ok returns true if the object is usable (false after a failed
  // construction or a move-from).
  bool ok() const { return s_ != nullptr; }

  // path returns the resolved path (kShaNi or kOpenSsl).
  Sha256Path path() const { return path_; }

  // num_lanes returns how many lanes were added.
  size_t num_lanes() const;

  // add_sha256 adds a SHA-256 lane. Returns true on success; false if the
  // object is not ok(), already holds kSha256MaxLanes lanes, data was fed
  // since construction or reset(), or OpenSSL failed (kOpenSsl).
  bool add_sha256();

  // add_hmac adds an HMAC-SHA256 lane keyed with the `key_len` bytes at
  // `key` (any length; keys over 64 bytes are hashed first, as RFC 2104
  // requires; `key` may be null when `key_len` is 0). The key is kept only
  // in wiping memory. Returns true on success; false in any case add_sha256
  // fails, or if `key` is null with a non-zero length.
  bool add_hmac(const uint8_t* key, size_t key_len);

  // update feeds lane i the `lens[i]` bytes at `data[i]`, for every lane i <
  // num_lanes() (`data` and `lens` hold num_lanes() entries; `data[i]` may be
  // null when `lens[i]` is 0). Pieces may overlap or be the same memory.
  // Returns true on success; false, feeding nothing, if the object is not
  // ok(), a piece is null with a non-zero length, or a lane given bytes is
  // finished. On kOpenSsl an OpenSSL failure also returns false, and then
  // the lanes' states are unspecified.
  bool update(const uint8_t* const* data, const size_t* lens);

  // update_all feeds every lane the same `len` bytes at `data`. Returns true
  // on success; false as update() would.
  bool update_all(const uint8_t* data, size_t len);

  // final writes lane `lane`'s 32-byte digest (SHA-256 lane) or tag (HMAC
  // lane) to `out` and finishes the lane. `out_len` must be at least
  // kSha256LanesOutLen; exactly 32 bytes are written. Returns true on
  // success; false, writing nothing, if the object is not ok(), `lane` is
  // out of range or finished, `out` is null or `out_len` too small, or
  // OpenSSL failed. `out` may alias any piece previously fed.
  bool final(size_t lane, uint8_t* out, size_t out_len);

  // reset restarts every lane (same kinds, same keys) and allows adding
  // lanes again. Returns true on success; false if the object is not ok()
  // or OpenSSL failed.
  bool reset();

 private:
  struct State;
  std::unique_ptr<State> s_;
  Sha256Path path_ = Sha256Path::kOpenSsl;
};

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_SHA256_MB_H_
