// engine/containerd/payload.h: the fd-3 payload containerd hands an ocicrypt stream
// processor (spec §8.2), and the OCI descriptor it carries.
//
// Wire format: a protobuf google.protobuf.Any
//   field 1 type_url (string) = "io.containerd.ocicrypt.v1.Payload"
//   field 2 value    (bytes)  = Go encoding/json of imgcrypt's Payload:
//   {"DecryptConfig":{"Parameters":{name:[b64|null,...]}|null},
//    "Descriptor":{"mediaType":…,"digest":…,"size":N,"urls"?,"annotations"?,
//                  "data"?,"platform"?,"artifactType"?}}
//
// Parsing mirrors Go: the Any is decoded by hand (two length-delimited
// fields in any order; other fields of valid wire types are skipped as
// protobuf-go does; the last occurrence of a field wins); the JSON is decoded
// with Go's leniency (case-insensitive member names, unknown members
// ignored, []byte as base64/null/int array; see layer_options.h). We are
// stricter where Go's leniency only hides a broken producer: a known field
// with the wrong wire type, a group wire type (3/4), a field number 0 or a
// type_url other than the exact one is an error, and so is a JSON value that
// is not an object (Go would accept `null` and fail later).
//
// encode_payload is the inverse and byte-identical to containerd's output
// (parameter names sorted; the descriptor as engine/ocicrypt/descriptor.h
// encodes it). Key material in the payload (private keys, passwords) stays in
// wiping memory: DecryptParameters values are kernels::SecretBytes and the
// payload bytes are read from / written to SecretBytes.
//
// All functions are pure and thread-safe; a DecryptParameters object is not
// synchronised (the usual const-is-shareable rule applies).
#ifndef LAYERCRYPT_ENGINE_CONTAINERD_PAYLOAD_H_
#define LAYERCRYPT_ENGINE_CONTAINERD_PAYLOAD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/ocicrypt/descriptor.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

inline constexpr std::string_view kPayloadTypeUrl = "io.containerd.ocicrypt.v1.Payload";

// Parameter names of ocicrypt's DecryptConfig (config/constructors.go).
inline constexpr std::string_view kParamPrivKeys = "privkeys";
inline constexpr std::string_view kParamPrivKeysPasswords = "privkeys-passwords";
inline constexpr std::string_view kParamX509s = "x509s";
inline constexpr std::string_view kParamGpgPrivKeys = "gpg-privatekeys";
inline constexpr std::string_view kParamGpgPrivKeysPasswords = "gpg-privatekeys-passwords";
inline constexpr std::string_view kParamPkcs11Yamls = "pkcs11-yamls";
inline constexpr std::string_view kParamPkcs11Config = "pkcs11-config";

// DecryptParameters is ocicrypt's DecryptConfig.Parameters
// (map[string][][]byte): per name a list of byte strings, each possibly
// null. A default-constructed object is Go's nil map (JSON `null`, what CRI's
// node key model sends); any set() makes it a map. A `null` list for a name
// is read as an empty list.
class DecryptParameters {
 public:
  using List = std::vector<std::optional<kernels::SecretBytes>>;
  using Map = std::map<std::string, List>;

  // is_null returns true for Go's nil map (no keys at all).
  bool is_null() const { return !map_.has_value(); }
  // make_empty turns a null map into an empty one (JSON `{}`).
  void make_empty() {
    if (!map_) map_.emplace();
  }
  // entries returns every parameter, sorted by name (empty if null).
  const Map& entries() const;
  // find returns the list for `name`, or null if there is none.
  const List* find(std::string_view name) const;
  // get returns the list for `name`, or an empty list.
  const List& get(std::string_view name) const;
  // set replaces the list for `name`.
  void set(std::string name, List values);
  // append adds one value (nullopt = JSON null) to the list for `name`.
  void append(std::string_view name, std::optional<kernels::SecretBytes> value);

  // Accessors for the parameters the key unwrappers read.
  const List& privkeys() const { return get(kParamPrivKeys); }
  const List& privkeys_passwords() const { return get(kParamPrivKeysPasswords); }
  const List& x509s() const { return get(kParamX509s); }

 private:
  std::optional<Map> map_;
};

// Payload is imgcrypt's Payload.
struct Payload {
  DecryptParameters parameters;  // DecryptConfig.Parameters
  Descriptor descriptor;
};

// parse_payload parses the fd-3 bytes (a protobuf Any). Returns the payload,
// or a kDataError (truncated/malformed protobuf, bad JSON, a JSON value that
// is not an object, a member of the wrong type) or kUnsupported (a type_url
// other than io.containerd.ocicrypt.v1.Payload; the message names the one
// found). Never quotes key material.
StatusOr<Payload> parse_payload(std::span<const uint8_t> bytes);

// parse_payload_json parses the Any's value (the JSON) alone. Same errors as
// parse_payload apart from the protobuf ones.
StatusOr<Payload> parse_payload_json(std::span<const uint8_t> json);

// encode_payload returns the protobuf Any bytes containerd would write for
// `payload`, in wiping memory. Never fails.
kernels::SecretBytes encode_payload(const Payload& payload);

// encode_payload_json returns Go's json.Marshal of the Payload alone, in
// wiping memory. Never fails.
kernels::SecretBytes encode_payload_json(const Payload& payload);

// parse_manifest_layers parses an image manifest (or any JSON object) and
// returns its "layers" descriptors, decoded as Go's encoding/json decodes
// image-spec's Manifest (the form containerd hands a stream processor).
// A document without "layers" gives an empty list. Returns a kDataError for
// invalid JSON, a value that is not an object, or a malformed layer.
StatusOr<std::vector<Descriptor>> parse_manifest_layers(std::string_view json);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CONTAINERD_PAYLOAD_H_
