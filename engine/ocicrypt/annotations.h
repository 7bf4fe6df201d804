// engine/ocicrypt/annotations.h: the ocicrypt annotations on an encrypted layer
// descriptor (spec §2.2, §2.3, §7, §9).
//
//   org.opencontainers.image.enc.pubopts           base64(public options JSON)
//   org.opencontainers.image.enc.keys.<scheme>     base64(blob)[,base64(blob)...]
// with scheme jwe, pkcs7, pgp, pkcs11 or provider.<name>.
//
// Mirrors Go ocicrypt: a missing pubopts annotation yields empty public
// options (decryption then fails with "no cipher type provided"); a wrapped
// keys value is split on ',' and every blob is base64-decoded on its own;
// adding a recipient appends ",<base64>" (ctr-enc's behaviour). Where Go
// aborts the whole scheme when one blob does not decode, split_wrapped_keys
// reports a per-blob error and still returns the later blobs, so one corrupt
// blob cannot hide a good one. An empty blob (",," or a trailing ',') is
// reported as a per-blob error too, where Go would try to unwrap zero bytes.
//
// All functions are pure and thread-safe.
#ifndef LAYERCRYPT_ENGINE_OCICRYPT_ANNOTATIONS_H_
#define LAYERCRYPT_ENGINE_OCICRYPT_ANNOTATIONS_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/ocicrypt/layer_options.h"

namespace layercrypt {

// Annotations is a descriptor's annotation map (sorted, as Go emits it).
using Annotations = std::map<std::string, std::string>;

// kEncAnnotationPrefix: every ocicrypt annotation starts with this; all of
// them are removed when a layer is decrypted.
inline constexpr std::string_view kEncAnnotationPrefix = "org.opencontainers.image.enc.";
inline constexpr std::string_view kPubOptsAnnotation = "org.opencontainers.image.enc.pubopts";
inline constexpr std::string_view kKeysAnnotationPrefix = "org.opencontainers.image.enc.keys.";
inline constexpr std::string_view kJweKeysAnnotation = "org.opencontainers.image.enc.keys.jwe";
inline constexpr std::string_view kPkcs7KeysAnnotation = "org.opencontainers.image.enc.keys.pkcs7";
inline constexpr std::string_view kPgpKeysAnnotation = "org.opencontainers.image.enc.keys.pgp";
inline constexpr std::string_view kPkcs11KeysAnnotation =
    "org.opencontainers.image.enc.keys.pkcs11";
inline constexpr std::string_view kProviderKeysAnnotationPrefix =
    "org.opencontainers.image.enc.keys.provider.";

// keys_annotation returns the annotation key of a scheme name: "jwe" →
// "org.opencontainers.image.enc.keys.jwe", "provider.foo" → "….keys.provider.foo".
// Never fails (the name is not checked).
std::string keys_annotation(std::string_view scheme);

// provider_keys_annotation returns "org.opencontainers.image.enc.keys.provider.<name>".
std::string provider_keys_annotation(std::string_view provider_name);

// read_public_options reads and parses the pubopts annotation. Returns the
// options, empty options if the annotation is absent (as Go does), or a
// kDataError if it is not valid base64 or not valid options JSON.
StatusOr<PublicLayerOptions> read_public_options(const Annotations& annotations);

// public_options_annotation returns the pubopts annotation value for `opts`:
// base64 of Go's JSON. Never fails.
std::string public_options_annotation(const PublicLayerOptions& opts);

// WrappedKeyBlob is one comma-separated element of a keys annotation.
// `status` is OK and `data` holds the decoded bytes, or `status` says why the
// element could not be decoded and `data` is empty.
struct WrappedKeyBlob {
  size_t index = 0;  // position in the comma-separated list
  std::vector<uint8_t> data;
  Status status;
};

// split_wrapped_keys splits a keys annotation value on ',' and base64-decodes
// each element. Returns one entry per element, in order; a corrupt or empty
// element has a non-OK status but never stops the later ones. An empty value
// gives one (failed) entry, as Go's strings.Split does.
std::vector<WrappedKeyBlob> split_wrapped_keys(std::string_view value);

// append_wrapped_key returns `existing` + "," + base64(blob), or just
// base64(blob) if `existing` is empty. Never fails.
std::string append_wrapped_key(std::string_view existing, std::span<const uint8_t> blob);

// encryption_schemes returns the scheme names of every keys annotation
// present ("jwe", "pgp", "provider.foo", ...), sorted bytewise, as ctr-enc
// layerinfo's ENCRYPTION column lists them. Empty for a plain layer.
std::vector<std::string> encryption_schemes(const Annotations& annotations);

// has_wrapped_keys returns true if any keys annotation is present (Go treats
// such a layer as already encrypted).
bool has_wrapped_keys(const Annotations& annotations);

// strip_encryption_annotations returns `annotations` without any key that
// starts with "org.opencontainers.image.enc." (imgcrypt's
// FilterOutAnnotations, containers/image's decrypt step).
Annotations strip_encryption_annotations(const Annotations& annotations);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_OCICRYPT_ANNOTATIONS_H_
