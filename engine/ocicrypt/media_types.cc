// engine/ocicrypt/media_types.cc: media type tables (spec §6).
#include "engine/ocicrypt/media_types.h"

#include <array>

namespace layercrypt {
namespace {

struct LayerType {
  std::string_view plain;
  Compression compression;
};

// Every plain layer type whose compression we know. Exact string matches
// only: a media type is an identifier, not something to parse loosely.
constexpr std::array<LayerType, 9> kLayerTypes = {{
    {kOciLayerTar, Compression::kNone},
    {kOciLayerTarGzip, Compression::kGzip},
    {kOciLayerTarZstd, Compression::kZstd},
    {kOciLayerNondistTar, Compression::kNone},
    {kOciLayerNondistTarGzip, Compression::kGzip},
    {kOciLayerNondistTarZstd, Compression::kZstd},
    {kDockerLayerTar, Compression::kNone},
    {kDockerLayerTarGzip, Compression::kGzip},
    {kDockerForeignLayerTarGzip, Compression::kGzip},
}};

constexpr std::array<std::string_view, 7> kDecryptable = {
    kOciLayerTarEnc,        kOciLayerTarGzipEnc,        kOciLayerTarZstdEnc,
    kOciLayerNondistTarEnc, kOciLayerNondistTarGzipEnc, kOciLayerNondistTarZstdEnc,
    kDockerLayerTarGzipEnc,
};

// Printable, bounded copy of a caller-supplied type for error messages.
std::string shown(std::string_view t) {
  std::string s(t.substr(0, 128));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
  if (t.size() > 128) s += "...";
  return "\"" + s + "\"";
}

}  // namespace

bool is_encrypted_media_type(std::string_view media_type) {
  return media_type.ends_with(kEncryptedSuffix);
}

bool is_decryptable_media_type(std::string_view media_type) {
  for (std::string_view t : kDecryptable)
    if (t == media_type) return true;
  return false;
}

bool is_layer_media_type(std::string_view media_type) {
  for (const LayerType& t : kLayerTypes)
    if (t.plain == media_type) return true;
  return false;
}

StatusOr<std::string> decrypted_media_type(std::string_view media_type) {
  if (!is_decryptable_media_type(media_type))
    return Unsupported("unsupported encrypted layer media type " + shown(media_type) +
                       " (expected an OCI tar, tar+gzip or tar+zstd type ending in +encrypted)");
  media_type.remove_suffix(kEncryptedSuffix.size());
  return std::string(media_type);
}

StatusOr<std::string> encrypted_media_type(std::string_view media_type) {
  if (media_type.find(kEncryptedSuffix) != std::string_view::npos)
    return InvalidArgument("layer media type " + shown(media_type) + " is already encrypted");
  // imgcrypt maps Docker layers to the OCI types when encrypting.
  if (media_type == kDockerLayerTarGzip) return std::string(kOciLayerTarGzipEnc);
  if (media_type == kDockerLayerTar) return std::string(kOciLayerTarEnc);
  for (const LayerType& t : kLayerTypes)
    if (t.plain == media_type && media_type.starts_with("application/vnd.oci."))
      return std::string(media_type) + std::string(kEncryptedSuffix);
  return Unsupported("cannot encrypt a layer of media type " + shown(media_type) +
                     " (only OCI and Docker tar layers can be encrypted)");
}

std::optional<std::string> gzip_media_type(std::string_view media_type) {
  if (media_type == kOciLayerTar || media_type == kDockerLayerTar)
    return std::string(kOciLayerTarGzip);
  if (media_type == kOciLayerNondistTar) return std::string(kOciLayerNondistTarGzip);
  return std::nullopt;
}

std::optional<std::string> zstd_media_type(std::string_view media_type) {
  if (media_type == kOciLayerTar || media_type == kDockerLayerTar)
    return std::string(kOciLayerTarZstd);
  if (media_type == kOciLayerNondistTar) return std::string(kOciLayerNondistTarZstd);
  return std::nullopt;
}

StatusOr<Compression> compression_of(std::string_view media_type) {
  if (is_encrypted_media_type(media_type)) {
    if (!is_decryptable_media_type(media_type))
      return Unsupported("unknown encrypted layer media type " + shown(media_type));
    media_type.remove_suffix(kEncryptedSuffix.size());
  }
  for (const LayerType& t : kLayerTypes)
    if (t.plain == media_type) return t.compression;
  return Unsupported("unknown layer media type " + shown(media_type));
}

}  // namespace layercrypt
