// engine/stream/selfcheck.h: known-answer self-test of the kernels on this CPU.
//
// Like ipsec-mb's power-on self-test, run_self_check() runs a handful of
// fixed vectors through every kernel the engine depends on (AES-256-CTR
// across the 2^128 counter wrap, AES-256-GCM, SHA-256, HMAC-SHA256 single
// and multi-buffer, gzip deflate/inflate, CRC-32), on the ipsec-mb path the
// engine will use. A failure means the build or the CPU is broken.
#ifndef LAYERCRYPT_ENGINE_STREAM_SELFCHECK_H_
#define LAYERCRYPT_ENGINE_STREAM_SELFCHECK_H_

#include <string>
#include <vector>

namespace layercrypt {

// SelfCheckResult is one named check: whether it passed and a one-line
// detail (the code path used, or what differed).
struct SelfCheckResult {
  std::string name;
  bool ok;
  std::string detail;
};

// run_self_check runs every check and returns their results in a fixed
// order. It never throws. Thread-safe.
std::vector<SelfCheckResult> run_self_check();

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_STREAM_SELFCHECK_H_
