// engine/keywrap/jwe/jwe_wrapper.cc: see jwe_wrapper.h.
#include "engine/keywrap/jwe/jwe_wrapper.h"

#include "engine/keywrap/jwe/jwe.h"

namespace layercrypt {
namespace {

std::string_view text_of(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

class JweWrapper final : public KeyWrapper {
 public:
  std::string_view scheme() const override { return "jwe"; }
  size_t recipient_count(const Recipients& r) const override { return r.jwe.size(); }
  StatusOr<std::vector<uint8_t>> wrap(std::span<const uint8_t> priv_json,
                                      const Recipients& r) const override {
    LC_ASSIGN_OR_RETURN(std::string text, jwe_encrypt(priv_json, r.jwe));
    return std::vector<uint8_t>(text.begin(), text.end());
  }
  StatusOr<std::vector<std::string>> recipient_ids(const Recipients& r) const override {
    std::vector<std::string> out;
    for (const auto& pub : r.jwe) {
      LC_ASSIGN_OR_RETURN(std::string t, jwk_thumbprint(pub));
      out.push_back("jwe:" + t);
    }
    return out;
  }
  std::string missing_keys(const PreparedKeys& keys) const override {
    return keys.private_keys.empty() ? "needs a private key" : "";
  }
  StatusOr<kernels::SecretBytes> unwrap(std::span<const uint8_t> blob,
                                        const PreparedKeys& keys) const override {
    return jwe_decrypt(text_of(blob), keys.private_keys);
  }
  StatusOr<std::string> describe(std::span<const uint8_t> blob) const override {
    LC_ASSIGN_OR_RETURN(JweSummary s, jwe_describe(text_of(blob)));
    return s.to_string();
  }
  StatusOr<std::vector<BlobRecipient>> recipients(std::span<const uint8_t> blob) const override {
    LC_ASSIGN_OR_RETURN(JweSummary s, jwe_describe(text_of(blob)));
    std::vector<BlobRecipient> out;
    for (size_t i = 0; i < s.recipient_algs.size(); ++i)
      out.push_back({s.recipient_algs[i],
                     s.recipient_kids[i].empty() ? "" : "jwe:kid=" + s.recipient_kids[i],
                     s.recipient_key_digests[i]});
    return out;
  }
  StatusOr<std::optional<std::vector<uint8_t>>> remove(
      std::span<const uint8_t> blob, const std::vector<size_t>& drop) const override {
    LC_ASSIGN_OR_RETURN(auto kept, jwe_remove_recipients(text_of(blob), drop));
    if (!kept) return std::optional<std::vector<uint8_t>>();
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(kept->begin(), kept->end()));
  }
};

}  // namespace

const KeyWrapper& jwe_key_wrapper() {
  static const JweWrapper w;
  return w;
}

}  // namespace layercrypt
