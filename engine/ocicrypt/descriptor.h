// engine/ocicrypt/descriptor.h: the OCI content descriptor (image-spec v1.1)
// as one typed value, decoded and encoded exactly as Go's encoding/json does
// with image-spec's Descriptor and Platform.
//
// The containerd payload carries one (engine/containerd/payload.h), a
// manifest lists them, and the C ABI takes and returns them as JSON. The
// image walk (engine/image/) edits manifests as JSON documents instead,
// because it must keep members this type does not know; it reads them
// through the same field names.
//
// Decoding mirrors Go's leniency: member names match case-insensitively,
// unknown members are ignored, `null` leaves a field as it was (resets a
// map, a slice or the platform pointer), a repeated member decodes again
// into the same field, `data` is base64 (or Go's other []byte forms, see
// go_json.h). A member of the wrong JSON type is a kDataError naming it.
//
// Encoding is json.Marshal's output byte for byte: image-spec member order,
// omitempty for urls, annotations, data and artifactType, annotations sorted
// bytewise, platform written whenever it is set (Go's non-nil pointer).
//
// All functions are pure and thread-safe.
#ifndef LAYERCRYPT_ENGINE_OCICRYPT_DESCRIPTOR_H_
#define LAYERCRYPT_ENGINE_OCICRYPT_DESCRIPTOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/go_json.h"
#include "engine/core/status.h"

namespace layercrypt {

// Platform is image-spec's Platform.
struct Platform {
  std::string architecture;              // "architecture"
  std::string os;                        // "os"
  std::string os_version;                // "os.version", omitempty
  std::vector<std::string> os_features;  // "os.features", omitempty
  std::string variant;                   // "variant", omitempty
};

// Descriptor is image-spec v1.1's Descriptor.
struct Descriptor {
  std::string media_type;                          // "mediaType"
  std::string digest;                              // "digest"
  int64_t size = 0;                                // "size"
  std::vector<std::string> urls;                   // "urls", omitempty
  std::map<std::string, std::string> annotations;  // "annotations", omitempty
  std::vector<uint8_t> data;                       // "data" (base64), omitempty
  std::optional<Platform> platform;                // "platform"
  std::string artifact_type;                       // "artifactType", omitempty
};

// decode_descriptor decodes the JSON value `v` into `*d` as Go decodes into
// an existing Descriptor (so `null` is a no-op). kDataError for a value that
// is neither an object nor null, or a member of the wrong type; the message
// names the member ("descriptor.size: ...").
Status decode_descriptor(const gojson::Value& v, Descriptor* d);

// parse_descriptor parses one descriptor JSON object (as in a manifest's
// "layers"). Returns the descriptor, or a kDataError (invalid JSON, a value
// that is not an object, a malformed member).
StatusOr<Descriptor> parse_descriptor(std::string_view json);

// encode_descriptor returns Go's json.Marshal of `desc`. Never fails.
std::string encode_descriptor(const Descriptor& desc);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_OCICRYPT_DESCRIPTOR_H_
