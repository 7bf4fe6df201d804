// tests/fuzz/wrapped_key_fuzz.cc: hostile annotations through the reference
// key provider's parse_wrapped_key and KeyRelease::unwrap.
//
// Property: for any bytes, parse_wrapped_key and unwrap never crash, trip a
// sanitizer or leak, and every failure is a non-empty one-line message. What
// parses serialises back to bytes that parse to the same key id, KEK kind,
// nonce and ciphertext. unwrap (policy: key "k" under a fixed file KEK,
// released to "local") fails with parse_wrapped_key's own status where that
// fails, and otherwise either opens (the input is then a genuine blob for
// "k", and wrapping its plaintext again opens to the same bytes) or fails
// with kKeyError (another key) or kIntegrityError (a forgery).
//
// Input: the annotation bytes. The corpus holds blobs wrapped under the
// fixed KEK (so mutations reach the cipher) and malformed variants.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <span>
#include <string>

#include "engine/keyrelease/key_release.h"
#include "engine/keyrelease/wrapped_key.h"

namespace {

using layercrypt::Status;
using layercrypt::StatusCode;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "wrapped_key_fuzz: %s\n", what);
  std::abort();
}

void check_message(const Status& s) {
  if (s.ok()) fail("a failure was reported with an OK status");
  if (s.message().empty()) fail("empty error message");
  if (s.message().find_first_of("\r\n") != std::string::npos) fail("multi-line error message");
}

// The fixed KEK (hex) and policy, written once to a private directory.
layercrypt::KeyRelease& service() {
  static std::unique_ptr<layercrypt::KeyRelease> s = [] {
    char dir[] = "/tmp/layercrypt-wrapped-key-fuzz-XXXXXX";
    if (::mkdtemp(dir) == nullptr) fail("mkdtemp failed");
    const std::string d = dir;
    std::ofstream(d + "/k.kek") << std::string(64, '7') << "\n";
    std::ofstream(d + "/policy.json")
        << R"({"keys": {"k": {"kek": {"file": "k.kek"}, "release-to": ["local"]}}})";
    if (::chmod((d + "/k.kek").c_str(), 0600) != 0) fail("chmod failed");
    layercrypt::KeyReleaseOptions o;
    o.policy_path = d + "/policy.json";
    auto service = std::make_unique<layercrypt::KeyRelease>(o);
    // Load the policy and the KEK now; then the files are no longer needed.
    layercrypt::Caller who;
    who.local = true;
    const std::string opts = "{}";
    if (!service
             ->wrap({{"layercrypt", {layercrypt::kernels::SecretBytes{'k'}}}},
                    {reinterpret_cast<const uint8_t*>(opts.data()), opts.size()}, who)
             .ok())
      fail("cannot wrap with the fixed KEK");
    // The policy and the KEK are loaded: the files can go (the policy
    // store keeps the last good policy when its file disappears).
    ::unlink((d + "/k.kek").c_str());
    ::unlink((d + "/policy.json").c_str());
    ::rmdir(dir);
    return service;
  }();
  return *s;
}

layercrypt::Caller local() {
  layercrypt::Caller who;
  who.transport = "cmd";
  who.local = true;
  return who;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  auto parsed = layercrypt::parse_wrapped_key(in);
  auto opened = service().unwrap(in, local());
  if (!parsed.ok()) {
    check_message(parsed.status());
    if (opened.ok()) fail("an annotation that does not parse opened");
    if (opened.status().code() != parsed.status().code() ||
        opened.status().message() != parsed.status().message())
      fail("unwrap and parse_wrapped_key disagree on a parse failure");
    return 0;
  }
  auto again = layercrypt::parse_wrapped_key(layercrypt::serialize_wrapped_key(*parsed));
  if (!again.ok() || again->key_id != parsed->key_id || again->kek != parsed->kek ||
      again->nonce != parsed->nonce || again->sealed != parsed->sealed)
    fail("serialize_wrapped_key does not round-trip");
  if (!opened.ok()) {
    check_message(opened.status());
    if (opened.status().code() != StatusCode::kKeyError &&
        opened.status().code() != StatusCode::kIntegrityError)
      fail("a parsed annotation failed other than kKeyError or kIntegrityError");
    if (parsed->key_id == "k" && parsed->kek == layercrypt::KekKind::kFile &&
        opened.status().code() != StatusCode::kIntegrityError)
      fail("a blob for the key failed other than kIntegrityError");
    return 0;
  }
  if (parsed->key_id != "k") fail("a blob for another key opened");
  if (opened->empty()) return 0;  // an empty plaintext is not wrapped again
  auto rewrapped =
      service().wrap({{"layercrypt", {layercrypt::kernels::SecretBytes{'k'}}}}, *opened, local());
  if (!rewrapped.ok()) fail("cannot wrap an opened plaintext again");
  auto back = service().unwrap(*rewrapped, local());
  if (!back.ok() || *back != *opened) fail("wrapping again does not open to the same bytes");
  return 0;
}
