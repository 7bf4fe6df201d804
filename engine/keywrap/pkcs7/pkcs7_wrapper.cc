// engine/keywrap/pkcs7/pkcs7_wrapper.cc: see pkcs7_wrapper.h.
#include "engine/keywrap/pkcs7/pkcs7_wrapper.h"

#include "engine/keywrap/pkcs7/pkcs7.h"

namespace layercrypt {
namespace {

class Pkcs7Wrapper final : public KeyWrapper {
 public:
  std::string_view scheme() const override { return "pkcs7"; }
  size_t recipient_count(const Recipients& r) const override { return r.pkcs7.size(); }
  StatusOr<std::vector<uint8_t>> wrap(std::span<const uint8_t> priv_json,
                                      const Recipients& r) const override {
    return pkcs7_encrypt(priv_json, r.pkcs7);
  }
  StatusOr<std::vector<std::string>> recipient_ids(const Recipients& r) const override {
    std::vector<std::string> out;
    for (const auto& cert : r.pkcs7) out.push_back("pkcs7:" + pkcs7_recipient_id(cert));
    return out;
  }
  std::string missing_keys(const PreparedKeys& keys) const override {
    if (keys.private_keys.empty()) return "needs a private key and the recipient certificate";
    if (keys.certificates.empty()) return "needs the recipient certificate as well as the key";
    return "";
  }
  StatusOr<kernels::SecretBytes> unwrap(std::span<const uint8_t> blob,
                                        const PreparedKeys& keys) const override {
    return pkcs7_decrypt(blob, keys.private_keys, keys.certificates);
  }
  StatusOr<std::string> describe(std::span<const uint8_t> blob) const override {
    LC_ASSIGN_OR_RETURN(Pkcs7Summary s, pkcs7_describe(blob));
    return s.to_string();
  }
  StatusOr<std::vector<BlobRecipient>> recipients(std::span<const uint8_t> blob) const override {
    LC_ASSIGN_OR_RETURN(Pkcs7Summary s, pkcs7_describe(blob));
    std::vector<BlobRecipient> out;
    for (size_t i = 0; i < s.recipient_kinds.size(); ++i)
      out.push_back({s.recipient_kinds[i],
                     s.recipient_ids[i].empty() ? "" : "pkcs7:" + s.recipient_ids[i], ""});
    return out;
  }
  StatusOr<std::optional<std::vector<uint8_t>>> remove(
      std::span<const uint8_t> blob, const std::vector<size_t>& drop) const override {
    return pkcs7_remove_recipients(blob, drop);
  }
};

}  // namespace

const KeyWrapper& pkcs7_key_wrapper() {
  static const Pkcs7Wrapper w;
  return w;
}

}  // namespace layercrypt
