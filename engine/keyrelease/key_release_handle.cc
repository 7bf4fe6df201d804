// engine/keyrelease/key_release_handle.cc: KeyRelease::handle, the
// protocol side of key_release.h.
#include "engine/keyrelease/key_release.h"

namespace layercrypt {

StatusOr<kernels::SecretBytes> KeyRelease::handle(std::span<const uint8_t> request,
                                                  const Caller& who,
                                                  std::optional<KeyProviderOp> expected) {
  const char* what = !expected                           ? "request"
                     : *expected == KeyProviderOp::kWrap ? "keywrap"
                                                         : "keyunwrap";
  if (request.size() > kMaxKeyProviderMessage) {
    Status s =
        DataError("invalid request: " + std::to_string(request.size()) + " bytes, more than the " +
                  std::to_string(kMaxKeyProviderMessage) + " allowed");
    decide(what, who, "", s);
    return s;
  }
  auto parsed = parse_keyprovider_request(request);
  if (!parsed.ok()) {
    decide(what, who, "", parsed.status());
    return parsed.status();
  }
  if (expected && parsed->op != *expected) {
    Status s =
        DataError(std::string("invalid request: op ") +
                  (parsed->op == KeyProviderOp::kWrap ? "keywrap" : "keyunwrap") + " sent to the " +
                  (*expected == KeyProviderOp::kWrap ? "WrapKey" : "UnWrapKey") + " method");
    decide(what, who, "", s);
    return s;
  }
  if (parsed->op == KeyProviderOp::kWrap) {
    LC_ASSIGN_OR_RETURN(std::vector<uint8_t> annotation,
                        wrap(parsed->params, parsed->optsdata, who));
    const std::vector<uint8_t> reply = keywrap_reply(annotation);
    return kernels::SecretBytes(reply.begin(), reply.end());
  }
  LC_ASSIGN_OR_RETURN(kernels::SecretBytes optsdata, unwrap(parsed->annotation, who));
  return keyunwrap_reply(optsdata);
}

}  // namespace layercrypt
