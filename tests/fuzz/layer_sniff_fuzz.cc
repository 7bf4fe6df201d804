// tests/fuzz/layer_sniff_fuzz.cc: the first bytes of whatever a user hands
// `layercrypt encrypt-layer`.
//
// Property: for any bytes, sniff_layer_blob and sniffed_layer_media_type
// never crash or trip a sanitizer, and agree: the media type is returned
// exactly when the kind is tar, gzip or zstd (and is the OCI layer type of
// that kind), else the error is a non-empty one-line kInvalidArgument.
// PeekSource over the bytes replays them unchanged, whatever the peek length.
//
// Input: the bytes as a blob's head. The corpus holds a ustar and a v7
// header, gzip and zstd magic, an empty archive and a zip header.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/core/io.h"
#include "engine/ocicrypt/layer_sniff.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using layercrypt::LayerBlobKind;
  const LayerBlobKind kind = layercrypt::sniff_layer_blob(data, size);
  auto mt = layercrypt::sniffed_layer_media_type(data, size, "input");
  const char* want = kind == LayerBlobKind::kTar    ? "application/vnd.oci.image.layer.v1.tar"
                     : kind == LayerBlobKind::kGzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                     : kind == LayerBlobKind::kZstd ? "application/vnd.oci.image.layer.v1.tar+zstd"
                                                    : nullptr;
  if ((want != nullptr) != mt.ok()) std::abort();
  if (mt.ok() && *mt != want) std::abort();
  if (!mt.ok() &&
      (mt.status().code() != layercrypt::StatusCode::kInvalidArgument ||
       mt.status().message().empty() || mt.status().message().find('\n') != std::string::npos))
    std::abort();
  for (size_t peek : {size_t{0}, size_t{1}, size_t{7}, layercrypt::kLayerSniffLen}) {
    layercrypt::MemorySource src(data, size);
    auto p = layercrypt::PeekSource::make(src, peek);
    if (!p.ok()) std::abort();
    std::vector<uint8_t> back(size + 1);
    auto n = layercrypt::read_full(**p, back.data(), back.size());
    if (!n.ok() || *n != size || (size != 0 && std::memcmp(back.data(), data, size) != 0))
      std::abort();
  }
  return 0;
}
