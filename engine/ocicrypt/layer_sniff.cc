// engine/ocicrypt/layer_sniff.cc: see layer_sniff.h.
#include "engine/ocicrypt/layer_sniff.h"

#include <algorithm>

#include "engine/core/hex.h"
#include "engine/ocicrypt/media_types.h"

namespace layercrypt {
namespace {

constexpr size_t kTarBlock = 512;
constexpr size_t kChksumOffset = 148;
constexpr size_t kChksumLen = 8;

bool all_zero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// tar_header_checksum_ok checks a 512-byte block the way tar(1) does: the
// checksum field holds optional leading spaces, at least one octal digit,
// then NUL or space (or the field's end); its value must be the sum of the
// block's bytes with the field read as eight spaces, unsigned or signed.
bool tar_header_checksum_ok(const uint8_t* h) {
  const uint8_t* f = h + kChksumOffset;
  size_t i = 0;
  while (i < kChksumLen && f[i] == ' ') ++i;
  uint64_t stored = 0;
  size_t digits = 0;
  for (; i < kChksumLen && f[i] >= '0' && f[i] <= '7'; ++i, ++digits)
    stored = stored * 8 + (f[i] - '0');
  if (digits == 0) return false;
  for (; i < kChksumLen; ++i)
    if (f[i] != ' ' && f[i] != 0) return false;
  int64_t sum_unsigned = 0, sum_signed = 0;
  for (size_t j = 0; j < kTarBlock; ++j) {
    const bool in_field = j >= kChksumOffset && j < kChksumOffset + kChksumLen;
    const uint8_t b = in_field ? uint8_t{' '} : h[j];
    sum_unsigned += b;
    sum_signed += static_cast<int8_t>(b);
  }
  return static_cast<int64_t>(stored) == sum_unsigned || static_cast<int64_t>(stored) == sum_signed;
}

}  // namespace

const char* layer_blob_kind_name(LayerBlobKind kind) {
  switch (kind) {
    case LayerBlobKind::kEmpty:
      return "empty";
    case LayerBlobKind::kTar:
      return "tar";
    case LayerBlobKind::kGzip:
      return "gzip";
    case LayerBlobKind::kZstd:
      return "zstd";
    case LayerBlobKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

LayerBlobKind sniff_layer_blob(const uint8_t* head, size_t head_len) {
  if (head_len == 0) return LayerBlobKind::kEmpty;
  if (head_len >= 2 && head[0] == 0x1f && head[1] == 0x8b) return LayerBlobKind::kGzip;
  if (head_len >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
    return LayerBlobKind::kZstd;
  if (head_len < kTarBlock) return LayerBlobKind::kUnknown;
  if (all_zero(head, kTarBlock))
    return head_len >= 2 * kTarBlock && all_zero(head + kTarBlock, kTarBlock)
               ? LayerBlobKind::kTar
               : LayerBlobKind::kUnknown;
  return tar_header_checksum_ok(head) ? LayerBlobKind::kTar : LayerBlobKind::kUnknown;
}

StatusOr<std::string> sniffed_layer_media_type(const uint8_t* head, size_t head_len,
                                               std::string_view input_name) {
  switch (sniff_layer_blob(head, head_len)) {
    case LayerBlobKind::kTar:
      return std::string(kOciLayerTar);
    case LayerBlobKind::kGzip:
      return std::string(kOciLayerTarGzip);
    case LayerBlobKind::kZstd:
      return std::string(kOciLayerTarZstd);
    case LayerBlobKind::kEmpty:
      return InvalidArgument(std::string(input_name) + " is empty");
    case LayerBlobKind::kUnknown:
      break;
  }
  std::string shown;
  for (size_t i = 0; i < std::min<size_t>(head_len, 4); ++i) {
    if (i != 0) shown += ' ';
    shown += to_hex(head + i, 1);
  }
  return InvalidArgument(std::string(input_name) +
                         " is not a tar, gzip or zstd stream (first bytes: " + shown + ")");
}

}  // namespace layercrypt
