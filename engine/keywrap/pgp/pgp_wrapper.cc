// engine/keywrap/pgp/pgp_wrapper.cc: see pgp_wrapper.h.
#include "engine/keywrap/pgp/pgp_wrapper.h"

#include <set>

#include "engine/keywrap/pgp/pgp_keyring.h"
#include "engine/keywrap/pgp/pgp_packets.h"

namespace layercrypt {
namespace {

class PgpWrapper final : public KeyWrapper {
 public:
  std::string_view scheme() const override { return "pgp"; }
  size_t recipient_count(const Recipients& r) const override { return r.pgp.size(); }

  StatusOr<std::vector<uint8_t>> wrap(std::span<const uint8_t> priv_json,
                                      const Recipients& r) const override {
    return pgp_encrypt(priv_json, r.pgp);
  }

  StatusOr<std::vector<std::string>> recipient_ids(const Recipients& r) const override {
    std::vector<std::string> out;
    for (const auto& p : r.pgp) out.push_back("pgp:" + p.key_id);
    return out;
  }

  std::string missing_keys(const PreparedKeys& keys) const override {
    if (keys.pgp_keyrings.empty())
      return "needs an OpenPGP secret keyring (e.g. gpg --export-secret-keys)";
    return "";
  }

  StatusOr<kernels::SecretBytes> unwrap(std::span<const uint8_t> blob,
                                        const PreparedKeys& keys) const override {
    LC_ASSIGN_OR_RETURN(PgpMessage m, parse_pgp_message(blob));
    if (m.data_tag != 18)
      return Unsupported("pgp blob: encrypted data packet tag " + std::to_string(m.data_tag) +
                         " (only SEIPD, tag 18, is read)");
    std::string why;
    for (const PgpSecretKeyring& k : keys.pgp_keyrings) {
      auto plain = pgp_decrypt(blob, m, k.data, k.password);
      if (plain.ok()) return plain;
      why += (why.empty() ? "" : "; ") + k.name + ": " + plain.status().message();
    }
    return KeyError(why.empty() ? "no OpenPGP secret keyring given" : why);
  }

  StatusOr<std::string> describe(std::span<const uint8_t> blob) const override {
    LC_ASSIGN_OR_RETURN(PgpMessage m, parse_pgp_message(blob));
    std::string ids;
    for (const auto& p : m.pkesks)
      ids += (ids.empty() ? "" : ", ") +
             (p.version == 3 ? pgp_key_id_hex(p.key_id) : "v" + std::to_string(p.version));
    return "pgp message, " + std::to_string(m.pkesks.size()) +
           (m.pkesks.size() == 1 ? " recipient" : " recipients") +
           (ids.empty() ? "" : " (" + ids + ")");
  }

  StatusOr<std::vector<BlobRecipient>> recipients(std::span<const uint8_t> blob) const override {
    LC_ASSIGN_OR_RETURN(PgpMessage m, parse_pgp_message(blob));
    std::vector<BlobRecipient> out;
    for (const auto& p : m.pkesks) {
      const bool named = p.version == 3 && p.key_id != std::array<uint8_t, 8>{};
      out.push_back(
          {pgp_algorithm_name(p.algorithm), named ? "pgp:" + pgp_key_id_hex(p.key_id) : "", ""});
    }
    return out;
  }

  StatusOr<std::optional<std::vector<uint8_t>>> remove(
      std::span<const uint8_t> blob, const std::vector<size_t>& drop) const override {
    return remove_pgp_recipients(blob, drop);
  }
};

}  // namespace

const KeyWrapper& pgp_key_wrapper() {
  static const PgpWrapper w;
  return w;
}

}  // namespace layercrypt
