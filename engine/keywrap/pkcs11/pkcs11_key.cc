// engine/keywrap/pkcs11/pkcs11_key.cc: see pkcs11_key.h.
#include "engine/keywrap/pkcs11/pkcs11_key.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "engine/core/io.h"

namespace layercrypt {
namespace {

constexpr size_t kMaxYaml = size_t{1} << 20;

// The attribute names of RFC 7512 (§2.3); an x- name is a vendor's.
constexpr std::array<std::string_view, 13> kPathAttributes = {"token",
                                                              "manufacturer",
                                                              "serial",
                                                              "model",
                                                              "library-manufacturer",
                                                              "library-description",
                                                              "library-version",
                                                              "object",
                                                              "type",
                                                              "id",
                                                              "slot-description",
                                                              "slot-manufacturer",
                                                              "slot-id"};
constexpr std::array<std::string_view, 4> kQueryAttributes = {"pin-source", "pin-value",
                                                              "module-name", "module-path"};

bool is_vendor(std::string_view name) { return name.size() > 2 && name.substr(0, 2) == "x-"; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// pct_decode decodes %XX escapes into *out; false for a bad escape.
template <typename Out>
bool pct_decode(std::string_view in, Out* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(static_cast<typename Out::value_type>(in[i]));
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<typename Out::value_type>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

Status bad_uri(const std::string& why) { return InvalidArgument("invalid pkcs11 URI: " + why); }

std::string yaml_error(const YAML::Exception& e, std::string_view what) {
  // yaml-cpp's messages are fixed phrases plus a position; the input is not
  // quoted (the key YAML holds a PIN).
  std::string msg = std::string(what) + " is not valid YAML";
  if (!e.mark.is_null()) msg += " (line " + std::to_string(e.mark.line + 1) + ")";
  return msg;
}

bool is_absolute(std::string_view p) { return !p.empty() && p[0] == '/'; }

}  // namespace

std::string Pkcs11Uri::redacted() const {
  auto esc = [](std::string_view v) {
    std::string out;
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
        out.push_back(static_cast<char>(c));
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
    return out;
  };
  std::string path, query;
  auto add = [](std::string& to, char sep, std::string_view name, const std::string& value) {
    if (!to.empty()) to.push_back(sep);
    to.append(name).push_back('=');
    to += value;
  };
  if (!token.empty()) add(path, ';', "token", esc(token));
  if (!object.empty()) add(path, ';', "object", esc(object));
  if (!id.empty()) add(path, ';', "id", esc(std::string(id.begin(), id.end())));
  if (slot) add(path, ';', "slot-id", std::to_string(*slot));
  for (const auto& [n, v] : other_path) add(path, ';', n, v);
  if (has_pin_value) add(query, '&', "pin-value", "***");
  if (!pin_source.empty()) add(query, '&', "pin-source", esc(pin_source));
  if (!module_name.empty()) add(query, '&', "module-name", esc(module_name));
  if (!module_path.empty()) add(query, '&', "module-path", esc(module_path));
  for (const auto& [n, v] : other_query) add(query, '&', n, v);
  std::string out = "pkcs11:" + path;
  if (!query.empty()) out += "?" + query;
  return out;
}

StatusOr<Pkcs11Uri> parse_pkcs11_uri(std::string_view text) {
  constexpr std::string_view kPrefix = "pkcs11:";
  if (text.substr(0, kPrefix.size()) != kPrefix) return bad_uri("it does not start with pkcs11:");
  text.remove_prefix(kPrefix.size());
  const size_t q = text.find('?');
  const std::string_view path_part = text.substr(0, q);
  const std::string_view query_part =
      q == std::string_view::npos ? std::string_view() : text.substr(q + 1);
  Pkcs11Uri uri;
  std::vector<std::string> seen;
  auto once = [&seen](std::string_view name) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) return false;
    seen.emplace_back(name);
    return true;
  };
  if (!path_part.empty()) {
    for (std::string_view attr : split(path_part, ';')) {
      const size_t eq = attr.find('=');
      if (eq == std::string_view::npos) return bad_uri("a path attribute has no '='");
      const std::string_view name = attr.substr(0, eq), raw = attr.substr(eq + 1);
      const std::string shown = quoted_for_message(name);
      if (std::find(kPathAttributes.begin(), kPathAttributes.end(), name) ==
              kPathAttributes.end() &&
          !is_vendor(name))
        return bad_uri("unknown path attribute " + shown);
      if (!once(name)) return bad_uri("duplicate attribute " + shown);
      std::string value;
      if (!pct_decode(raw, &value)) return bad_uri("bad %-escape in attribute " + shown);
      if (name == "token") {
        uri.token = value;
      } else if (name == "object") {
        uri.object = value;
      } else if (name == "id") {
        uri.id.assign(value.begin(), value.end());
      } else if (name == "slot-id") {
        if (value.empty() || value.size() > 19 ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return bad_uri("slot-id must be a decimal number");
        uri.slot = std::stoull(value);
      } else {
        uri.other_path.emplace_back(std::string(name), std::string(raw));
      }
    }
  }
  if (q != std::string_view::npos) {
    for (std::string_view attr : split(query_part, '&')) {
      const size_t eq = attr.find('=');
      if (eq == std::string_view::npos) return bad_uri("a query attribute has no '='");
      const std::string_view name = attr.substr(0, eq), raw = attr.substr(eq + 1);
      const std::string shown = quoted_for_message(name);
      if (std::find(kQueryAttributes.begin(), kQueryAttributes.end(), name) ==
              kQueryAttributes.end() &&
          !is_vendor(name))
        return bad_uri("unknown query attribute " + shown);
      if (!once(name)) return bad_uri("duplicate attribute " + shown);
      if (name == "pin-value") {
        if (!pct_decode(raw, &uri.pin_value)) return bad_uri("bad %-escape in pin-value");
        uri.has_pin_value = true;
        continue;
      }
      std::string value;
      if (!pct_decode(raw, &value)) return bad_uri("bad %-escape in attribute " + shown);
      if (name == "pin-source") {
        uri.pin_source = value;
      } else if (name == "module-name") {
        uri.module_name = value;
      } else if (name == "module-path") {
        if (!is_absolute(value)) return bad_uri("module-path must be an absolute path");
        uri.module_path = value;
      } else {
        uri.other_query.emplace_back(std::string(name), std::string(raw));
      }
    }
  }
  if (uri.has_pin_value && !uri.pin_source.empty())
    return bad_uri("it has both pin-value and pin-source");
  return uri;
}

StatusOr<kernels::SecretBytes> pkcs11_pin(const Pkcs11Uri& uri) {
  if (uri.has_pin_value) return uri.pin_value;
  if (uri.pin_source.empty())
    return KeyError("the pkcs11 URI " + uri.redacted() + " has neither pin-value nor pin-source");
  std::string_view path = uri.pin_source;
  if (path.substr(0, 5) == "file:") path.remove_prefix(5);
  if (path.substr(0, 2) == "//")
    path.remove_prefix(2);  // file:///abs
  else if (path.find(':') != std::string_view::npos && path.find(':') < path.find('/'))
    return InvalidArgument("pin-source " + quoted_for_message(uri.pin_source) +
                           ": only file: PIN sources are supported");
  if (!is_absolute(path))
    return InvalidArgument("pin-source " + quoted_for_message(uri.pin_source) +
                           " must be an absolute path");
  LC_ASSIGN_OR_RETURN(kernels::SecretBytes pin, read_secret_file(std::string(path), 4096));
  if (!pin.empty() && pin.back() == '\n') pin.pop_back();
  if (!pin.empty() && pin.back() == '\r') pin.pop_back();
  return pin;
}

StatusOr<Pkcs11KeyFile> parse_pkcs11_key_file(std::span<const uint8_t> data) {
  if (data.size() > kMaxYaml) return DataError("pkcs11 key file is larger than 1 MiB");
  const std::string text(data.begin(), data.end());
  kernels::ScopedWipe wipe_text(const_cast<char*>(text.data()), text.size());
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return DataError(yaml_error(e, "pkcs11 key file"));
  } catch (...) {
    return DataError("pkcs11 key file is not valid YAML");
  }
  Pkcs11KeyFile out;
  std::string uri_text;
  try {
    if (!root.IsMap()) return DataError("pkcs11 key file: not a YAML map with a pkcs11 key");
    bool have_pkcs11 = false;
    for (const auto& kv : root) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const YAML::Node& v = kv.second;
      if (key == "pkcs11") {
        if (!v.IsMap()) return DataError("pkcs11 key file: pkcs11 must be a map with uri");
        for (const auto& p : v) {
          if (!p.first.IsScalar() || p.first.Scalar() != "uri")
            return DataError("pkcs11 key file: unknown key under pkcs11 (only uri)");
          if (!p.second.IsScalar()) return DataError("pkcs11 key file: uri must be a string");
          uri_text = p.second.Scalar();
          have_pkcs11 = true;
        }
      } else if (key == "module") {
        if (v.IsNull()) continue;
        if (!v.IsMap()) return DataError("pkcs11 key file: module must be a map");
        for (const auto& m : v) {
          if (!m.first.IsScalar() || m.first.Scalar() != "env")
            return DataError("pkcs11 key file: unknown key under module (only env)");
          if (m.second.IsNull()) continue;
          if (!m.second.IsMap()) return DataError("pkcs11 key file: module.env must be a map");
          for (const auto& e : m.second) {
            if (!e.first.IsScalar() || !e.second.IsScalar())
              return DataError("pkcs11 key file: module.env entries must be NAME: value");
            const std::string name = e.first.Scalar();
            if (name.empty() || name.find('=') != std::string::npos ||
                name.find('\0') != std::string::npos)
              return DataError("pkcs11 key file: bad environment variable name " +
                               quoted_for_message(name));
            out.env.emplace_back(name, e.second.Scalar());
          }
        }
      } else {
        return DataError("pkcs11 key file: unknown key " + quoted_for_message(key) +
                         " (only pkcs11 and module)");
      }
    }
    if (!have_pkcs11 || uri_text.empty()) return DataError("pkcs11 key file: no pkcs11.uri");
  } catch (const YAML::Exception& e) {
    return DataError(yaml_error(e, "pkcs11 key file"));
  }
  kernels::ScopedWipe wipe_uri(uri_text.data(), uri_text.size());
  LC_ASSIGN_OR_RETURN(out.uri, parse_pkcs11_uri(uri_text));
  if (out.uri.object.empty() && out.uri.id.empty())
    return InvalidArgument("pkcs11 key " + out.uri.redacted() + " names neither object nor id");
  if (!out.uri.slot && out.uri.token.empty())
    return InvalidArgument("pkcs11 key " + out.uri.redacted() + " names neither token nor slot-id");
  return out;
}

bool is_pkcs11_key_file(std::span<const uint8_t> data) { return parse_pkcs11_key_file(data).ok(); }

Pkcs11ModulePolicy pkcs11_internal_policy() {
#if defined(__x86_64__)
  constexpr const char* kArch = "x86_64";
#elif defined(__aarch64__)
  constexpr const char* kArch = "aarch64";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
  constexpr const char* kArch = "powerpc64le";
#elif defined(__s390x__)
  constexpr const char* kArch = "s390x";
#elif defined(__i386__)
  constexpr const char* kArch = "i386";
#elif defined(__arm__)
  constexpr const char* kArch = "arm";
#else
  constexpr const char* kArch = "unknown";
#endif
  Pkcs11ModulePolicy p;
  p.module_directories = {"/usr/lib64/pkcs11/", "/usr/lib/pkcs11/", "/usr/local/lib/pkcs11/",
                          "/usr/lib/softhsm/", std::string("/usr/lib/") + kArch + "-linux-gnu/"};
  p.allowed_module_paths = p.module_directories;
  p.source = "OCICRYPT_CONFIG=internal";
  return p;
}

namespace {

Status read_string_list(const YAML::Node& v, std::string_view key, const std::string& source,
                        std::vector<std::string>* out) {
  if (v.IsNull()) return Status::Ok();
  if (!v.IsSequence())
    return DataError(source + ": pkcs11 " + std::string(key) + " must be a list of paths");
  for (const auto& item : v) {
    if (!item.IsScalar() || item.Scalar().empty())
      return DataError(source + ": pkcs11 " + std::string(key) + " must be a list of paths");
    out->push_back(item.Scalar());
  }
  return Status::Ok();
}

StatusOr<Pkcs11ModulePolicy> policy_from_node(const YAML::Node& v, const std::string& source) {
  Pkcs11ModulePolicy p;
  p.source = source;
  if (v.IsNull()) return p;
  if (!v.IsMap()) return DataError(source + ": the pkcs11 module policy must be a YAML map");
  for (const auto& kv : v) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    if (key == "module-directories") {
      LC_RETURN_IF_ERROR(read_string_list(kv.second, key, source, &p.module_directories));
    } else if (key == "allowed-module-paths") {
      LC_RETURN_IF_ERROR(read_string_list(kv.second, key, source, &p.allowed_module_paths));
    } else {
      return DataError(source + ": unknown pkcs11 key " + quoted_for_message(key) +
                       " (module-directories, allowed-module-paths)");
    }
  }
  return p;
}

StatusOr<YAML::Node> load_yaml(std::span<const uint8_t> yaml, const std::string& source) {
  if (yaml.size() > kMaxYaml) return DataError(source + " is larger than 1 MiB");
  try {
    return YAML::Load(std::string(yaml.begin(), yaml.end()));
  } catch (const YAML::Exception& e) {
    return DataError(yaml_error(e, source));
  } catch (...) {
    return DataError(source + " is not valid YAML");
  }
}

}  // namespace

StatusOr<Pkcs11ModulePolicy> parse_pkcs11_config(std::span<const uint8_t> yaml,
                                                 const std::string& source) {
  LC_ASSIGN_OR_RETURN(YAML::Node root, load_yaml(yaml, source));
  try {
    return policy_from_node(root, source);
  } catch (const YAML::Exception& e) {
    return DataError(yaml_error(e, source));
  }
}

StatusOr<Pkcs11ModulePolicy> parse_pkcs11_config_file(std::span<const uint8_t> yaml,
                                                      const std::string& source) {
  LC_ASSIGN_OR_RETURN(YAML::Node root, load_yaml(yaml, source));
  try {
    if (root.IsNull()) return policy_from_node(YAML::Node(), source);
    if (!root.IsMap()) return DataError(source + ": not a YAML map");
    for (const auto& kv : root)
      if (kv.first.IsScalar() && kv.first.Scalar() == "pkcs11")
        return policy_from_node(kv.second, source);
    return policy_from_node(YAML::Node(), source);
  } catch (const YAML::Exception& e) {
    return DataError(yaml_error(e, source));
  }
}

std::string pkcs11_config_yaml(const Pkcs11ModulePolicy& policy) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "module-directories" << YAML::Value << YAML::BeginSeq;
  for (const auto& d : policy.module_directories) out << d;
  out << YAML::EndSeq;
  out << YAML::Key << "allowed-module-paths" << YAML::Value << YAML::BeginSeq;
  for (const auto& d : policy.allowed_module_paths) out << d;
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

StatusOr<Pkcs11ModulePolicy> load_pkcs11_policy() {
  auto from_file = [](const std::string& path) -> std::optional<StatusOr<Pkcs11ModulePolicy>> {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;  // Go: a missing file is skipped
    auto data = read_file_bounded(path, kMaxYaml);
    if (!data.ok()) return StatusOr<Pkcs11ModulePolicy>(data.status());
    return parse_pkcs11_config_file(*data, path);
  };
  const char* env = ::getenv("OCICRYPT_CONFIG");
  if (env != nullptr && *env != '\0') {
    if (std::string_view(env) == "internal") return pkcs11_internal_policy();
    if (auto p = from_file(env)) return std::move(*p);
  }
  std::vector<std::string> candidates;
  if (const char* xdg = ::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0')
    candidates.push_back(std::string(xdg) + "/ocicrypt.conf");
  if (const char* home = ::getenv("HOME"); home != nullptr && *home != '\0')
    candidates.push_back(std::string(home) + "/.config/ocicrypt.conf");
  candidates.push_back("etc/ocicrypt.conf");
  for (const auto& c : candidates)
    if (auto p = from_file(c)) return std::move(*p);
  return KeyError(
      "no ocicrypt config file was found: pkcs11 needs a module policy; set "
      "OCICRYPT_CONFIG=internal for the built-in one, or to a file with pkcs11: "
      "module-directories and allowed-module-paths");
}

StatusOr<Pkcs11ModulePolicy> load_pkcs11_policy_file(const std::string& config) {
  if (config == "internal") return pkcs11_internal_policy();
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> data, read_file_bounded(config, kMaxYaml));
  return parse_pkcs11_config_file(data, config);
}

namespace {

bool is_allowed(const std::string& path, const std::vector<std::string>& allowed) {
  for (const auto& a : allowed) {
    if (path == a) return true;
    if (!a.empty() && a.back() == '/' && path.size() > a.size() &&
        path.compare(0, a.size(), a) == 0 && path.find('/', a.size()) == std::string::npos)
      return true;
  }
  return false;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> sorted_entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string join_dir(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Status not_allowed(const std::string& path, const Pkcs11ModulePolicy& policy) {
  return KeyError("module " + path + " is not allowed by OCICRYPT_CONFIG (" + policy.source +
                  "): add it, or its directory with a trailing '/', to allowed-module-paths");
}

}  // namespace

StatusOr<std::string> resolve_pkcs11_module(const Pkcs11Uri& uri,
                                            const Pkcs11ModulePolicy& policy) {
  std::vector<std::string> dirs;
  if (!uri.module_path.empty()) {
    struct stat st {};
    if (::stat(uri.module_path.c_str(), &st) != 0)
      return InvalidArgument("module-path " + uri.module_path + " is not accessible");
    if (S_ISREG(st.st_mode)) {
      if (!is_allowed(uri.module_path, policy.allowed_module_paths))
        return not_allowed(uri.module_path, policy);
      return uri.module_path;
    }
    if (!S_ISDIR(st.st_mode))
      return InvalidArgument("module-path " + uri.module_path +
                             " is neither a file nor a directory");
    dirs.push_back(uri.module_path);
  } else {
    dirs = policy.module_directories;
  }
  if (uri.module_name.empty())
    return InvalidArgument("pkcs11 key " + uri.redacted() +
                           " needs module-name or module-path (the PKCS#11 module to load)");
  const std::string want = lower(uri.module_name);
  for (const auto& dir : dirs) {
    for (const auto& name : sorted_entries(dir)) {
      const std::string l = lower(name);
      const size_t at = l.find(want);
      if (at == std::string::npos) continue;
      const size_t end = at + want.size();
      if (end != l.size() && l[end] != '.') continue;
      const std::string file = join_dir(dir, name);
      if (!is_allowed(file, policy.allowed_module_paths)) return not_allowed(file, policy);
      return file;
    }
  }
  std::string where;
  for (const auto& d : dirs) where += (where.empty() ? "" : ", ") + d;
  return KeyError("no PKCS#11 module named " + quoted_for_message(uri.module_name) + " in " +
                  (where.empty() ? std::string("the module directories (none configured in ") +
                                       policy.source + ")"
                                 : where));
}

}  // namespace layercrypt
