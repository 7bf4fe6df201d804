// engine/status.cc
#include "engine/status.h"

namespace layercrypt {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid-argument";
    case StatusCode::kDataError: return "data";
    case StatusCode::kIntegrityError: return "integrity";
    case StatusCode::kKeyError: return "key";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kIoError: return "io";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace layercrypt
