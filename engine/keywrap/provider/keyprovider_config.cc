// engine/keywrap/provider/keyprovider_config.cc: see keyprovider_config.h.
#include "engine/keywrap/provider/keyprovider_config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "engine/core/go_json.h"
#include "engine/core/io.h"

namespace layercrypt {
namespace {

using gojson::Value;

// Ctx names the member being read: "SOURCE: key-providers.kms.cmd.path".
struct Ctx {
  std::string_view source;
  Status error(const std::string& member, const std::string& why) const {
    return DataError(std::string(source) + ": " + member + ": " + why);
  }
  Status want(const std::string& member, const char* type, const Value& got) const {
    return error(member, std::string("want ") + type + ", got " + gojson::kind_name(got.kind));
  }
};

std::string str(const gojson::String& s) { return std::string(s.data(), s.size()); }

Status read_string(const Ctx& c, const std::string& member, const Value& v, std::string* out) {
  if (v.kind != Value::Kind::kString && v.kind != Value::Kind::kNull)
    return c.want(member, "a string", v);
  if (v.kind == Value::Kind::kString) *out = str(v.text);
  return Status::Ok();
}

Status read_command(const Ctx& c, const std::string& member, const Value& v,
                    KeyProviderCommand* out) {
  if (v.kind != Value::Kind::kObject) return c.want(member, "an object", v);
  for (const auto& m : v.members) {
    if (gojson::name_matches(str(m.name), "path")) {
      LC_RETURN_IF_ERROR(read_string(c, member + ".path", m.value, &out->path));
    } else if (gojson::name_matches(str(m.name), "args")) {
      if (m.value.kind == Value::Kind::kNull) {
        out->args.clear();
        continue;
      }
      if (m.value.kind != Value::Kind::kArray)
        return c.want(member + ".args", "an array of strings", m.value);
      out->args.clear();
      for (size_t i = 0; i < m.value.items.size(); ++i) {
        std::string a;
        LC_RETURN_IF_ERROR(
            read_string(c, member + ".args[" + std::to_string(i) + "]", m.value.items[i], &a));
        out->args.push_back(std::move(a));
      }
    }
  }
  if (out->path.empty()) return c.error(member + ".path", "missing: the program to run");
  if (out->path.front() != '/')
    return c.error(member + ".path", "must be an absolute path (no PATH search), got " +
                                         quoted_for_message(out->path));
  return Status::Ok();
}

Status read_tls(const Ctx& c, const std::string& member, const Value& v, KeyProviderGrpcTls* out) {
  if (v.kind != Value::Kind::kObject) return c.want(member, "an object", v);
  for (const auto& m : v.members) {
    const std::string name = str(m.name);
    if (gojson::name_matches(name, "root-ca-file")) {
      LC_RETURN_IF_ERROR(read_string(c, member + ".root-ca-file", m.value, &out->root_ca_file));
    } else if (gojson::name_matches(name, "cert-file")) {
      LC_RETURN_IF_ERROR(read_string(c, member + ".cert-file", m.value, &out->cert_file));
    } else if (gojson::name_matches(name, "key-file")) {
      LC_RETURN_IF_ERROR(read_string(c, member + ".key-file", m.value, &out->key_file));
    } else if (gojson::name_matches(name, "server-name")) {
      LC_RETURN_IF_ERROR(read_string(c, member + ".server-name", m.value, &out->server_name));
    } else if (gojson::name_matches(name, "insecure-skip-verify")) {
      if (m.value.kind == Value::Kind::kBool)
        out->insecure_skip_verify = m.value.boolean;
      else if (m.value.kind != Value::Kind::kNull)
        return c.want(member + ".insecure-skip-verify", "true or false", m.value);
    }
  }
  if (out->cert_file.empty() != out->key_file.empty())
    return c.error(member, "cert-file and key-file go together (a client certificate needs both)");
  return Status::Ok();
}

Status read_entry(const Ctx& c, const std::string& member, const Value& v, KeyProviderEntry* out) {
  if (v.kind != Value::Kind::kObject) return c.want(member, "an object", v);
  for (const auto& m : v.members) {
    const std::string name = str(m.name);
    if (gojson::name_matches(name, "cmd")) {
      if (m.value.kind == Value::Kind::kNull) {
        out->cmd.reset();
        continue;
      }
      KeyProviderCommand cmd;
      LC_RETURN_IF_ERROR(read_command(c, member + ".cmd", m.value, &cmd));
      out->cmd = std::move(cmd);
    } else if (gojson::name_matches(name, "grpc")) {
      LC_RETURN_IF_ERROR(read_string(c, member + ".grpc", m.value, &out->grpc));
    } else if (gojson::name_matches(name, "grpc-tls")) {
      if (m.value.kind == Value::Kind::kNull) {
        out->grpc_tls.reset();
        continue;
      }
      KeyProviderGrpcTls tls;
      LC_RETURN_IF_ERROR(read_tls(c, member + ".grpc-tls", m.value, &tls));
      out->grpc_tls = std::move(tls);
    }
  }
  if (!out->cmd && out->grpc.empty())
    return c.error(member, "neither cmd nor grpc is set: a provider needs one of them");
  return Status::Ok();
}

}  // namespace

std::string KeyProviderEntry::describe() const {
  if (cmd) return "cmd " + cmd->path;
  return "grpc " + grpc + (grpc_tls ? " (TLS)" : "");
}

const KeyProviderEntry* KeyProviderConfig::find(std::string_view name) const {
  for (const auto& p : providers)
    if (p.name == name) return &p;
  return nullptr;
}

std::string KeyProviderConfig::names() const {
  std::string s;
  for (const auto& p : providers) s += (s.empty() ? "" : ", ") + p.name;
  return s.empty() ? "none" : s;
}

StatusOr<KeyProviderConfig> parse_keyprovider_config(std::string_view json,
                                                     std::string_view source) {
  const Ctx c{source};
  if (json.size() > kMaxKeyProviderConfigSize)
    return c.error("(file)", "larger than " + std::to_string(kMaxKeyProviderConfigSize) + " bytes");
  auto doc = gojson::parse(json);
  if (!doc.ok()) return DataError(std::string(source) + ": " + doc.status().message());
  if (doc->kind != Value::Kind::kObject) return c.want("(top level)", "an object", *doc);
  KeyProviderConfig out;
  out.source = std::string(source);
  bool seen = false;
  for (const auto& m : doc->members) {
    if (!gojson::name_matches(str(m.name), "key-providers")) continue;
    seen = true;
    if (m.value.kind == Value::Kind::kNull) {
      out.providers.clear();
      continue;
    }
    if (m.value.kind != Value::Kind::kObject) return c.want("key-providers", "an object", m.value);
    // Go decodes into a map: a later duplicate name replaces the earlier.
    std::vector<KeyProviderEntry> entries;
    for (const auto& p : m.value.members) {
      const std::string name = str(p.name);
      const std::string member = "key-providers." + name;
      if (name.empty()) return c.error("key-providers", "a provider has an empty name");
      KeyProviderEntry e;
      e.name = name;
      LC_RETURN_IF_ERROR(read_entry(c, member, p.value, &e));
      std::erase_if(entries, [&](const KeyProviderEntry& x) { return x.name == name; });
      entries.push_back(std::move(e));
    }
    out.providers = std::move(entries);
  }
  if (!seen) return c.error("key-providers", "missing: the file configures no provider");
  std::sort(out.providers.begin(), out.providers.end(),
            [](const KeyProviderEntry& a, const KeyProviderEntry& b) { return a.name < b.name; });
  return out;
}

StatusOr<KeyProviderConfig> load_keyprovider_config(const std::string& path) {
  auto data = read_file_bounded(path, kMaxKeyProviderConfigSize);
  if (!data.ok()) return data.status().with_context("key-provider config");
  return parse_keyprovider_config(
      std::string_view(reinterpret_cast<const char*>(data->data()), data->size()), path);
}

StatusOr<KeyProviderConfig> keyprovider_config_from_env() {
  const char* path = std::getenv(kKeyProviderConfigEnv);
  if (path == nullptr || *path == '\0') return KeyProviderConfig{};
  const std::string source = std::string(path) + " (" + kKeyProviderConfigEnv + ")";
  struct stat st;
  if (::stat(path, &st) != 0 && errno == ENOENT) {
    KeyProviderConfig out;
    out.source = source;
    out.missing = true;
    return out;
  }
  auto data = read_file_bounded(path, kMaxKeyProviderConfigSize);
  if (!data.ok()) return data.status().with_context("key-provider config");
  return parse_keyprovider_config(
      std::string_view(reinterpret_cast<const char*>(data->data()), data->size()), source);
}

}  // namespace layercrypt
