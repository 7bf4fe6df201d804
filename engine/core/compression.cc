// engine/core/compression.cc: see compression.h.
#include "engine/core/compression.h"

namespace layercrypt {

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "?";
}

}  // namespace layercrypt
