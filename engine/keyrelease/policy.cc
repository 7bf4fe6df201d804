// engine/keyrelease/policy.cc: see policy.h.
#include "engine/keyrelease/policy.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "engine/core/go_json.h"
#include "engine/core/io.h"

namespace layercrypt {

namespace {

using gojson::Value;
using Kind = gojson::Value::Kind;

std::string_view view(const gojson::String& s) { return {s.data(), s.size()}; }

// Reader walks the policy JSON, naming the member path in every error.
struct Reader {
  std::string source;

  Status error(const std::string& where, const std::string& why) const {
    return DataError(source + ": " + where + ": " + why);
  }

  // members checks that `v` is an object whose member names are all in
  // `allowed`, each once, and returns them by name.
  StatusOr<std::map<std::string, const Value*>> members(const Value& v, const std::string& where,
                                                        std::initializer_list<const char*> allowed,
                                                        bool any_name = false) const {
    if (v.kind != Kind::kObject)
      return error(where, std::string("a ") + gojson::kind_name(v.kind) + ", not an object");
    std::map<std::string, const Value*> out;
    for (const gojson::Member& m : v.members) {
      const std::string name(view(m.name));
      bool ok = any_name;
      for (const char* a : allowed) ok = ok || name == a;
      if (!ok) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        return error(where,
                     "unknown member " + quoted_for_message(name) + " (known: " + list + ")");
      }
      if (!out.emplace(name, &m.value).second)
        return error(where, "member " + quoted_for_message(name) + " appears twice");
    }
    return out;
  }

  StatusOr<std::string> string(const Value& v, const std::string& where) const {
    if (v.kind != Kind::kString)
      return error(where, std::string("a ") + gojson::kind_name(v.kind) + ", not a string");
    if (v.text.empty()) return error(where, "empty");
    return std::string(view(v.text));
  }

  StatusOr<std::vector<std::string>> identities(const Value& v, const std::string& where) const {
    if (v.kind != Kind::kArray)
      return error(where, std::string("a ") + gojson::kind_name(v.kind) + ", not an array");
    std::vector<std::string> out;
    for (size_t i = 0; i < v.items.size(); ++i) {
      const std::string at = where + "[" + std::to_string(i) + "]";
      LC_ASSIGN_OR_RETURN(std::string id, string(v.items[i], at));
      if (!is_valid_identity_pattern(id))
        return error(at,
                     quoted_for_message(id) +
                         " is not an identity (cn:NAME, san:NAME, sha256:HEX, local, uid:N, *)");
      out.push_back(std::move(id));
    }
    return out;
  }

  StatusOr<KekSpec> kek(const Value& v, const std::string& where,
                        const std::string& base_dir) const {
    LC_ASSIGN_OR_RETURN(auto m, members(v, where, {"file", "pkcs11"}));
    if (m.size() != 1) return error(where, "needs exactly one of \"file\" and \"pkcs11\"");
    KekSpec spec;
    if (m.count("file")) {
      spec.kind = KekKind::kFile;
      LC_ASSIGN_OR_RETURN(spec.file, string(*m["file"], where + ".file"));
      if (spec.file[0] != '/') spec.file = base_dir + "/" + spec.file;
      return spec;
    }
    const std::string at = where + ".pkcs11";
    spec.kind = KekKind::kPkcs11;
    LC_ASSIGN_OR_RETURN(auto p, members(*m["pkcs11"], at,
                                        {"module", "token", "label", "id", "pin-file", "pin-env"}));
    for (const char* required : {"module", "token"})
      if (!p.count(required)) return error(at, std::string("no \"") + required + "\"");
    LC_ASSIGN_OR_RETURN(spec.module, string(*p["module"], at + ".module"));
    LC_ASSIGN_OR_RETURN(spec.token, string(*p["token"], at + ".token"));
    if (p.count("label")) {
      LC_ASSIGN_OR_RETURN(spec.label, string(*p["label"], at + ".label"));
    }
    if (p.count("id")) {
      LC_ASSIGN_OR_RETURN(std::string hex, string(*p["id"], at + ".id"));
      if (hex.size() % 2 != 0 || hex.find_first_not_of("0123456789abcdefABCDEF") != hex.npos)
        return error(at + ".id", "not an even number of hex digits");
      for (size_t i = 0; i < hex.size(); i += 2)
        spec.id.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    }
    if (spec.label.empty() && spec.id.empty()) return error(at, "needs \"label\" or \"id\"");
    if (p.count("pin-file") + p.count("pin-env") != 1)
      return error(at, "needs exactly one of \"pin-file\" and \"pin-env\"");
    if (p.count("pin-file")) {
      LC_ASSIGN_OR_RETURN(spec.pin_file, string(*p["pin-file"], at + ".pin-file"));
      if (spec.pin_file[0] != '/') spec.pin_file = base_dir + "/" + spec.pin_file;
    } else {
      LC_ASSIGN_OR_RETURN(spec.pin_env, string(*p["pin-env"], at + ".pin-env"));
    }
    return spec;
  }
};

std::string short_hex(const std::string& hex) {
  return hex.size() > 16 ? hex.substr(0, 16) + "..." : hex;
}

std::string normalised_fingerprint(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ':') continue;
    out.push_back(c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

}  // namespace

bool is_valid_identity_pattern(std::string_view p) {
  if (p == "*" || p == "local") return true;
  auto rest = [&p](std::string_view prefix) -> std::optional<std::string_view> {
    if (p.substr(0, prefix.size()) != prefix) return std::nullopt;
    return p.substr(prefix.size());
  };
  if (auto r = rest("cn:")) return !r->empty();
  if (auto r = rest("san:")) return !r->empty();
  if (auto r = rest("uid:"))
    return !r->empty() && r->size() <= 10 && r->find_first_not_of("0123456789") == r->npos;
  if (auto r = rest("sha256:")) {
    const std::string hex = normalised_fingerprint(*r);
    return hex.size() == 64 && hex.find_first_not_of("0123456789abcdef") == hex.npos;
  }
  return false;
}

bool Caller::matches(std::string_view p) const {
  if (p == "*") return true;
  if (p == "local") return local;
  if (p.substr(0, 4) == "uid:") return local && uid && std::to_string(*uid) == p.substr(4);
  if (!tls_verified) return false;
  if (p.substr(0, 3) == "cn:") return !subject_cn.empty() && subject_cn == p.substr(3);
  if (p.substr(0, 4) == "san:") {
    for (const std::string& san : sans)
      if (san == p.substr(4)) return true;
    return false;
  }
  if (p.substr(0, 7) == "sha256:")
    return !cert_sha256.empty() &&
           normalised_fingerprint(cert_sha256) == normalised_fingerprint(p.substr(7));
  return false;
}

std::string Caller::identity() const {
  std::string out;
  if (local) {
    out = "local";
    if (uid) out += " uid:" + std::to_string(*uid);
  }
  if (tls_verified) {
    if (!out.empty()) out += " ";
    out += subject_cn.empty() ? "cert" : "cn:" + subject_cn;
    if (!cert_sha256.empty()) out += " sha256:" + short_hex(normalised_fingerprint(cert_sha256));
  }
  return out.empty() ? "unauthenticated" : out;
}

const PolicyKey* Policy::find(std::string_view id) const {
  auto it = keys.find(std::string(id));
  return it == keys.end() ? nullptr : &it->second;
}

StatusOr<Policy> parse_policy(std::string_view json, std::string_view source,
                              const std::string& base_dir) {
  Reader r{std::string(source)};
  auto root = gojson::parse(json);
  if (!root.ok()) return DataError(std::string(source) + ": " + root.status().message());
  LC_ASSIGN_OR_RETURN(auto top, r.members(*root, "policy", {"default-key", "keys"}));
  if (!top.count("keys")) return r.error("policy", "no \"keys\"");
  Policy policy;
  policy.source = std::string(source);
  LC_ASSIGN_OR_RETURN(auto keys, r.members(*top["keys"], "keys", {}, true));
  for (const auto& [id, value] : keys) {
    const std::string where = "keys." + (is_valid_key_id(id) ? id : quoted_for_message(id));
    if (!is_valid_key_id(id))
      return r.error(where, "not a key id (1-128 of A-Z a-z 0-9 . _ : @ / + -)");
    LC_ASSIGN_OR_RETURN(auto m, r.members(*value, where, {"kek", "release-to", "wrap-by"}));
    if (!m.count("kek")) return r.error(where, "no \"kek\"");
    if (!m.count("release-to")) return r.error(where, "no \"release-to\"");
    PolicyKey key;
    key.id = id;
    LC_ASSIGN_OR_RETURN(key.kek, r.kek(*m["kek"], where + ".kek", base_dir));
    LC_ASSIGN_OR_RETURN(key.release_to, r.identities(*m["release-to"], where + ".release-to"));
    if (m.count("wrap-by")) {
      LC_ASSIGN_OR_RETURN(key.wrap_by, r.identities(*m["wrap-by"], where + ".wrap-by"));
    }
    policy.keys.emplace(id, std::move(key));
  }
  if (top.count("default-key")) {
    LC_ASSIGN_OR_RETURN(policy.default_key, r.string(*top["default-key"], "default-key"));
    if (!policy.find(policy.default_key))
      return r.error("default-key", quoted_for_message(policy.default_key) + " is not in keys");
  }
  return policy;
}

PolicyStore::PolicyStore(std::string path, std::function<void(const std::string&)> log)
    : path_(std::move(path)), log_(std::move(log)) {}

StatusOr<std::shared_ptr<const Policy>> PolicyStore::current() {
  std::lock_guard<std::mutex> lock(mu_);
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    const Status why = IoError("policy " + path_ + ": " + std::strerror(errno));
    if (stamp_.has_value() || last_error_.message() != why.message()) {
      stamp_.reset();
      if (good_) log_("policy: " + why.message() + "; keeping the policy loaded before");
      last_error_ = why;
    }
    if (good_) return good_;
    return why;
  }
  FileStamp stamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  if (stamp_ && *stamp_ == stamp) {
    if (good_) return good_;
    return last_error_;
  }
  stamp_ = stamp;
  Status why;
  auto data = read_file_bounded(path_, kMaxPolicySize);
  if (data.ok()) {
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : path_.substr(0, slash);
    auto parsed =
        parse_policy({reinterpret_cast<const char*>(data->data()), data->size()}, path_, dir);
    if (parsed.ok()) {
      good_ = std::make_shared<const Policy>(std::move(*parsed));
      last_error_ = Status::Ok();
      log_("policy: loaded " + path_ + " (" + std::to_string(good_->keys.size()) + " keys)");
      return good_;
    }
    why = parsed.status();
  } else {
    why = data.status();
  }
  last_error_ = why;
  if (good_) {
    log_("policy: " + why.message() + "; keeping the policy loaded before");
    return good_;
  }
  log_("policy: " + why.message() + "; refusing every request until it is fixed");
  return why;
}

StatusOr<std::shared_ptr<const Kek>> PolicyStore::kek(const PolicyKey& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [spec, kek] : keks_)
      if (spec == key.kek) return kek;
  }
  // Opened outside the lock: a token can be slow, and other keys need not wait.
  LC_ASSIGN_OR_RETURN(std::shared_ptr<const Kek> kek, open_kek(key.kek));
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [spec, have] : keks_)
    if (spec == key.kek) return have;
  keks_.emplace_back(key.kek, kek);
  return kek;
}

}  // namespace layercrypt
