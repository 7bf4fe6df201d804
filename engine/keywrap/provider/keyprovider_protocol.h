// engine/keywrap/provider/keyprovider_protocol.h: the JSON messages of Go
// ocicrypt's key-provider protocol (spec §A.2), both sides: the client
// (provider_wrapper.h) writes requests and reads replies; a provider
// (tools/layercrypt-keyprovider) reads requests and writes replies. The
// same JSON travels over both transports: on stdin/stdout of a `cmd`
// provider, and as field 1 of the gRPC messages of
// keyprovider.KeyProviderService (keyprovider.proto).
//
// Requests, as Go writes them (the members always present, `{}` never
// `null` for an empty parameter map, so the Rust providers accept them):
//   {"op":"keywrap","keywrapparams":{"ec":{"Parameters":{NAME:[b64,...]},
//    "DecryptConfig":{"Parameters":{}}},"optsdata":b64(private options)},
//    "keyunwrapparams":{"dc":null,"annotation":null}}
//   {"op":"keyunwrap","keywrapparams":{"ec":null,"optsdata":null},
//    "keyunwrapparams":{"dc":{"Parameters":{NAME:[b64,...]}},"annotation":b64(blob)}}
// Stricter than Go: a provider receives only its own parameters, never the
// other schemes' keys and passwords (Go sends the whole EncryptConfig /
// DecryptConfig).
//
// Replies: {"keywrapresults":{"annotation":BYTES}} and
// {"keyunwrapresults":{"optsdata":BYTES}}, BYTES being padded std base64
// or an array of integers 0..255, as Go accepts both; we write integer
// arrays, which both the Go and the Rust clients read.
//
// Secrets: private options (wrap requests, unwrap replies) and parameters
// are built and parsed in wiping memory (gojson). Messages never quote a
// request or reply.
//
// Thread-safety: pure functions.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_PROTOCOL_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_PROTOCOL_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// kMaxKeyProviderMessage bounds a request or reply (either side).
inline constexpr size_t kMaxKeyProviderMessage = 1 << 20;

// ProviderParams is Go's map[string][][]byte (EncryptConfig.Parameters,
// DecryptConfig.Parameters): for a provider, NAME -> the PARAMS of each
// provider:NAME[:PARAMS] given ("Enabled" when none was).
using ProviderParams = std::map<std::string, std::vector<kernels::SecretBytes>>;

enum class KeyProviderOp { kWrap, kUnwrap };

// KeyProviderRequest is a parsed request (the provider's side).
struct KeyProviderRequest {
  KeyProviderOp op = KeyProviderOp::kWrap;
  ProviderParams params;            // ec.Parameters (wrap) / dc.Parameters (unwrap)
  kernels::SecretBytes optsdata;    // wrap: the private options JSON
  std::vector<uint8_t> annotation;  // unwrap: the bytes this provider's wrap returned
};

// keywrap_request / keyunwrap_request build a request for provider `name`
// carrying only params[name] (absent: an empty map).
kernels::SecretBytes keywrap_request(const std::string& name, const ProviderParams& params,
                                     std::span<const uint8_t> optsdata);
kernels::SecretBytes keyunwrap_request(const std::string& name, const ProviderParams& params,
                                       std::span<const uint8_t> annotation);

// parse_keywrap_reply returns the annotation bytes of a wrap reply (empty:
// the provider produced none). parse_keyunwrap_reply returns the private
// options of an unwrap reply (empty: this provider cannot open the blob).
// kDataError "invalid reply: why" for anything else (not JSON, wrong
// member types, bad base64, too large).
StatusOr<std::vector<uint8_t>> parse_keywrap_reply(std::span<const uint8_t> reply);
StatusOr<kernels::SecretBytes> parse_keyunwrap_reply(std::span<const uint8_t> reply);

// parse_keyprovider_request parses a request as Go or Rust clients write it
// (the provider's side): `op` must be keywrap or keyunwrap, the members
// Go's lenient rules allow (names case-insensitive, null maps, bytes as
// base64 or integer arrays). kDataError "invalid request: why".
StatusOr<KeyProviderRequest> parse_keyprovider_request(std::span<const uint8_t> request);

// keywrap_reply / keyunwrap_reply build a reply (integer arrays).
std::vector<uint8_t> keywrap_reply(std::span<const uint8_t> annotation);
kernels::SecretBytes keyunwrap_reply(std::span<const uint8_t> optsdata);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PROVIDER_KEYPROVIDER_PROTOCOL_H_
