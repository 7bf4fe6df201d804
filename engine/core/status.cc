// engine/core/status.cc
#include "engine/core/status.h"

namespace layercrypt {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid-argument";
    case StatusCode::kDataError:
      return "data";
    case StatusCode::kIntegrityError:
      return "integrity";
    case StatusCode::kKeyError:
      return "key";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kIoError:
      return "io";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string quoted_for_message(std::string_view untrusted) {
  constexpr size_t kMax = 96;
  std::string s(untrusted.substr(0, kMax));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
  if (untrusted.size() > kMax) s += "...";
  return "\"" + s + "\"";
}

}  // namespace layercrypt
