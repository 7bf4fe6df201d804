// tests/fuzz/pkcs11_key_fuzz.cc: hostile pkcs11 key YAMLs, URIs and module
// policies through their parsers (engine/keywrap/pkcs11/pkcs11_key.h).
//
// Property: for any bytes, parse_pkcs11_key_file, parse_pkcs11_uri,
// parse_pkcs11_config and parse_pkcs11_config_file never crash, trip a
// sanitizer, leak or let a yaml-cpp exception escape, and fail with a
// non-empty one-line message that never shows a pin-value; what parses
// gives a redacted() URI without the PIN that parses to the same token,
// object, id and slot. A
// parsed policy is written by pkcs11_config_yaml into YAML that parses to
// the same lists.
//
// Input: the bytes as each of the four inputs. The corpus holds key YAMLs
// as ocicrypt documents them, URIs, policies and malformed variants.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "engine/keywrap/pkcs11/pkcs11_key.h"

namespace {

// shows_pin says whether `text` holds a pin-value other than the "***"
// redacted() writes.
bool shows_pin(std::string_view text) {
  for (size_t at = text.find("pin-value="); at != std::string_view::npos;
       at = text.find("pin-value=", at + 1)) {
    const std::string_view rest = text.substr(at + 10);
    const std::string_view value = rest.substr(0, rest.find_first_of("&;\" "));
    if (!value.empty() && value != "***") return true;
  }
  return false;
}

void check_message(const layercrypt::Status& st) {
  const std::string& m = st.message();
  if (st.ok() || m.empty() || m.find('\n') != std::string::npos || shows_pin(m)) std::abort();
}

void check_uri(const layercrypt::Pkcs11Uri& uri) {
  const std::string shown = uri.redacted();
  if (shows_pin(shown)) std::abort();
  auto again = layercrypt::parse_pkcs11_uri(shown);
  if (!again.ok() || again->has_pin_value != uri.has_pin_value || again->token != uri.token ||
      again->object != uri.object || again->id != uri.id || again->slot != uri.slot)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layercrypt;
  const std::span<const uint8_t> in(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto key = parse_pkcs11_key_file(in);
  if (key.ok())
    check_uri(key->uri);
  else
    check_message(key.status());
  auto uri = parse_pkcs11_uri(text);
  if (uri.ok())
    check_uri(*uri);
  else
    check_message(uri.status());
  for (bool file : {false, true}) {
    auto policy = file ? parse_pkcs11_config_file(in, "fuzz") : parse_pkcs11_config(in, "fuzz");
    if (!policy.ok()) {
      check_message(policy.status());
      continue;
    }
    const std::string yaml = pkcs11_config_yaml(*policy);
    auto again = parse_pkcs11_config(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(yaml.data()), yaml.size()),
        "fuzz");
    if (!again.ok() || again->module_directories != policy->module_directories ||
        again->allowed_module_paths != policy->allowed_module_paths)
      std::abort();
  }
  return 0;
}
