// engine/ocicrypt/media_types.h: OCI and Docker layer media types, and how encryption
// maps them (spec §6).
//
// Encrypted layers carry the plaintext layer's type plus the suffix
// "+encrypted" (ocicrypt spec/spec.go). We decrypt the six OCI layer types
// (tar, tar+gzip, tar+zstd, and their nondistributable variants) and the
// Docker "rootfs.diff.tar.gzip+encrypted" form that some tools wrote.
//
// Decrypt mapping: we strip "+encrypted", as containers/image does. We do NOT
// copy imgcrypt's quirk of turning OCI tar(+gzip)+encrypted into Docker
// types, nor its refusal of the nondistributable types.
// Encrypt mapping: "+encrypted" is appended to the OCI types (including the
// nondistributable ones, as containers/image does); Docker rootfs.diff.tar.gzip
// becomes OCI tar+gzip+encrypted and Docker rootfs.diff.tar becomes OCI
// tar+encrypted, as imgcrypt does. Anything else (foreign layers, configs,
// in-toto attestations, already encrypted types) is refused.
//
// All functions are pure and thread-safe.
#ifndef LAYERCRYPT_ENGINE_OCICRYPT_MEDIA_TYPES_H_
#define LAYERCRYPT_ENGINE_OCICRYPT_MEDIA_TYPES_H_

#include <optional>
#include <string>
#include <string_view>

#include "engine/core/compression.h"
#include "engine/core/status.h"

namespace layercrypt {

inline constexpr std::string_view kEncryptedSuffix = "+encrypted";

// OCI layer types.
inline constexpr std::string_view kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistTar =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistTarGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNondistTarZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

// Encrypted OCI layer types.
inline constexpr std::string_view kOciLayerTarEnc =
    "application/vnd.oci.image.layer.v1.tar+encrypted";
inline constexpr std::string_view kOciLayerTarGzipEnc =
    "application/vnd.oci.image.layer.v1.tar+gzip+encrypted";
inline constexpr std::string_view kOciLayerTarZstdEnc =
    "application/vnd.oci.image.layer.v1.tar+zstd+encrypted";
inline constexpr std::string_view kOciLayerNondistTarEnc =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+encrypted";
inline constexpr std::string_view kOciLayerNondistTarGzipEnc =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip+encrypted";
inline constexpr std::string_view kOciLayerNondistTarZstdEnc =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd+encrypted";

// Docker layer types.
inline constexpr std::string_view kDockerLayerTarGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerForeignLayerTarGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerTarGzipEnc =
    "application/vnd.docker.image.rootfs.diff.tar.gzip+encrypted";

// is_encrypted_media_type returns true if `media_type` ends in "+encrypted"
// (any type, decryptable by us or not).
bool is_encrypted_media_type(std::string_view media_type);

// is_decryptable_media_type returns true for the seven encrypted layer types
// we decrypt (six OCI, one Docker gzip).
bool is_decryptable_media_type(std::string_view media_type);

// is_layer_media_type returns true for the plain layer types we know the
// compression of: the six OCI types and Docker rootfs.diff.tar(.gzip) and
// rootfs.foreign.diff.tar.gzip.
bool is_layer_media_type(std::string_view media_type);

// decrypted_media_type returns `media_type` without "+encrypted" if it is a
// type we decrypt; otherwise kUnsupported naming the type.
StatusOr<std::string> decrypted_media_type(std::string_view media_type);

// encrypted_media_type returns the type an encrypted copy of a layer of type
// `media_type` gets (see the file comment). Returns kInvalidArgument if it is
// already encrypted, kUnsupported if it is not a layer type we encrypt.
StatusOr<std::string> encrypted_media_type(std::string_view media_type);

// gzip_media_type returns the type an uncompressed tar layer of type
// `media_type` gets once gzip-compressed (OCI tar -> tar+gzip, the
// non-distributable tar likewise, Docker rootfs.diff.tar -> OCI tar+gzip as
// imgcrypt maps Docker types), or nullopt for any other type (compressed,
// encrypted, not a layer).
std::optional<std::string> gzip_media_type(std::string_view media_type);

// zstd_media_type is gzip_media_type for zstd: OCI tar -> tar+zstd, the
// non-distributable tar likewise, Docker rootfs.diff.tar -> OCI tar+zstd
// (Docker has no zstd layer type); nullopt for any other type.
std::optional<std::string> zstd_media_type(std::string_view media_type);

// compression_of returns the compression of a layer of type `media_type`,
// encrypted (what decryption yields) or not. Returns kUnsupported for a type
// that is not a known layer type.
StatusOr<Compression> compression_of(std::string_view media_type);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_OCICRYPT_MEDIA_TYPES_H_
