// bindings/c/layercrypt.cc: the C API (layercrypt.h) over the engine.
//
// Every entry point runs its body in guard(): engine Status values become
// lc_status codes with the message kept per thread, and no exception
// (std::bad_alloc, a bug) crosses into C.
#include "bindings/c/layercrypt.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/containerd/stream_processor.h"
#include "engine/core/io.h"
#include "engine/core/status.h"
#include "engine/core/version.h"
#include "engine/image/image_crypt.h"
#include "engine/image/image_json.h"
#include "engine/image/oci_layout.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/keys/private_key.h"
#include "engine/keywrap/keys_dir.h"
#include "engine/keywrap/pkcs11/pkcs11_key.h"
#if LAYERCRYPT_WITH_PGP
#include "engine/keywrap/pgp/pgp_keyring.h"
#endif
#include "engine/keywrap/provider/key_providers.h"
#include "engine/keywrap/recipients.h"
#include "engine/ocicrypt/annotations.h"
#include "engine/ocicrypt/descriptor.h"
#include "engine/ocicrypt/media_types.h"
#include "engine/stream/layer_cipher.h"

struct lc_encrypt_config {
  layercrypt::Recipients recipients;
  std::optional<layercrypt::LayerCompression> compress;
};

struct lc_decrypt_config {
  layercrypt::PreparedKeys keys;
};

struct lc_layer {
  std::string descriptor_json;
  std::string media_type;
  std::string digest;
  uint64_t size = 0;
  std::string diff_id;
};

namespace {

using layercrypt::Status;
using layercrypt::StatusCode;

thread_local std::string g_last_error;

lc_status code_of(StatusCode c) {
  switch (c) {
    case StatusCode::kOk:
      return LC_OK;
    case StatusCode::kInvalidArgument:
      return LC_ERR_INVALID_ARGUMENT;
    case StatusCode::kDataError:
      return LC_ERR_DATA;
    case StatusCode::kIntegrityError:
      return LC_ERR_INTEGRITY;
    case StatusCode::kKeyError:
      return LC_ERR_KEY;
    case StatusCode::kUnsupported:
      return LC_ERR_UNSUPPORTED;
    case StatusCode::kIoError:
      return LC_ERR_IO;
    default:
      return LC_ERR_INTERNAL;
  }
}

lc_status fail(lc_status code, std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  g_last_error = std::move(message);
  return code;
}

lc_status fail(const Status& st) { return fail(code_of(st.code()), st.message()); }

lc_status null_argument(const char* name) {
  return fail(LC_ERR_INVALID_ARGUMENT, std::string(name) + " is NULL");
}

template <typename F>
lc_status guard(F&& body) {
  g_last_error.clear();
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(LC_ERR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(LC_ERR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(LC_ERR_INTERNAL, "internal error");
  }
}

// CallbackSource / CallbackSink adapt lc_reader / lc_writer; a failing
// callback is remembered so the error maps to LC_ERR_CALLBACK.
class CallbackSource final : public layercrypt::ByteSource {
 public:
  explicit CallbackSource(lc_reader r) : r_(r) {}
  layercrypt::StatusOr<size_t> read(uint8_t* out, size_t cap) override {
    const int64_t n = r_.read(r_.ctx, out, cap);
    if (n < 0 || static_cast<uint64_t>(n) > cap) {
      failed = true;
      return layercrypt::IoError(n < 0 ? "the reader callback reported an error"
                                       : "the reader callback returned more bytes than asked");
    }
    return static_cast<size_t>(n);
  }
  bool failed = false;

 private:
  lc_reader r_;
};

class CallbackSink final : public layercrypt::ByteSink {
 public:
  explicit CallbackSink(lc_writer w) : w_(w) {}
  Status write(const uint8_t* data, size_t len) override {
    if (len == 0) return Status::Ok();
    if (w_.write(w_.ctx, data, len) != 0) {
      failed = true;
      return layercrypt::IoError("the writer callback reported an error");
    }
    return Status::Ok();
  }
  bool failed = false;

 private:
  lc_writer w_;
};

lc_status fail_io(const Status& st, const CallbackSource& in, const CallbackSink* out) {
  if (in.failed || (out != nullptr && out->failed)) return fail(LC_ERR_CALLBACK, st.message());
  return fail(st);
}

int64_t fd_read(void* ctx, uint8_t* buf, size_t cap) {
  const int fd = *static_cast<int*>(ctx);
  for (;;) {
    const ssize_t n = ::read(fd, buf, cap);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

int fd_write(void* ctx, const uint8_t* buf, size_t len) {
  const int fd = *static_cast<int*>(ctx);
  while (len > 0) {
    const ssize_t n = ::write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

char* copy_out(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) throw std::bad_alloc();
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// load_providers loads a key-provider config (NULL path: the environment's).
layercrypt::StatusOr<std::shared_ptr<const layercrypt::KeyProviders>> load_providers(
    const char* path, uint32_t timeout_ms) {
  return layercrypt::load_key_providers(
      path ? path : "",
      timeout_ms ? std::chrono::milliseconds(timeout_ms) : layercrypt::kDefaultKeyProviderTimeout);
}

// add_prepared parses one key (and password) into `config`.
lc_status add_prepared(lc_decrypt_config* config, layercrypt::DecryptKeys raw,
                       const std::string& name) {
  const bool certificate = !raw.certificates.empty();
  auto prepared = layercrypt::prepare_decrypt_keys(raw);
  if (!prepared.ok()) return fail(prepared.status());
  if (!prepared->problems.empty()) return fail(LC_ERR_KEY, prepared->problems.front());
  if (prepared->private_keys.empty() && prepared->pgp_keyrings.empty() &&
      (!certificate || prepared->certificates.empty()))
    return fail(LC_ERR_DATA, name + " holds no usable key");
  for (auto& k : prepared->pgp_keyrings) config->keys.pgp_keyrings.push_back(std::move(k));
  for (auto& k : prepared->private_keys) config->keys.private_keys.push_back(std::move(k));
  for (auto& c : prepared->certificates) config->keys.certificates.push_back(std::move(c));
  return LC_OK;
}

#if !LAYERCRYPT_WITH_PKCS11
lc_status no_pkcs11() {
  return fail(LC_ERR_UNSUPPORTED, "this build of layercrypt has no pkcs11 scheme");
}
#else
using PolicyPtr = std::shared_ptr<const layercrypt::Pkcs11ModulePolicy>;

// set_policy stores `policy` in `*out`, or fails with its error.
lc_status set_policy(layercrypt::StatusOr<layercrypt::Pkcs11ModulePolicy> policy, PolicyPtr* out) {
  if (!policy.ok()) return fail(policy.status());
  *out = std::make_shared<const layercrypt::Pkcs11ModulePolicy>(std::move(policy).value());
  return LC_OK;
}

lc_status set_policy_named(const char* config_path, PolicyPtr* out) {
  return set_policy(config_path ? layercrypt::load_pkcs11_policy_file(config_path)
                                : layercrypt::load_pkcs11_policy(),
                    out);
}

lc_status set_policy_yaml(const uint8_t* yaml, size_t yaml_len, PolicyPtr* out) {
  if (yaml == nullptr && yaml_len != 0) return null_argument("yaml");
  return set_policy(layercrypt::parse_pkcs11_config({yaml, yaml_len}, "the pkcs11 policy given"),
                    out);
}

// add_pkcs11_key adds a parsed key YAML, reading OCICRYPT_CONFIG's policy
// first when the config has none.
lc_status add_pkcs11_key(lc_decrypt_config* config, layercrypt::Pkcs11KeyFile key) {
  if (!config->keys.pkcs11_policy) {
    const lc_status st = set_policy_named(nullptr, &config->keys.pkcs11_policy);
    if (st != LC_OK) return st;
    config->keys.pkcs11_policy_error.clear();
  }
  config->keys.pkcs11_keys.push_back(std::move(key));
  return LC_OK;
}
#endif

lc_status add_key_bytes(lc_decrypt_config* config, layercrypt::kernels::SecretBytes data,
                        const uint8_t* password, size_t password_len, const std::string& name) {
#if LAYERCRYPT_WITH_PKCS11
  auto p11 = layercrypt::parse_pkcs11_key_file(data);
  if (p11.ok() || p11.status().code() == StatusCode::kInvalidArgument) {  // a key YAML
    if (!p11.ok()) return fail(p11.status().with_context(name));
    if (password != nullptr)
      return fail(LC_ERR_INVALID_ARGUMENT,
                  name + " is a pkcs11 key YAML: it takes no password (its PIN is in its URI)");
    return add_pkcs11_key(config, std::move(p11).value());
  }
#endif
  layercrypt::DecryptKeys raw;
  std::optional<layercrypt::kernels::SecretBytes> pw;
  if (password != nullptr) pw.emplace(password, password + password_len);
#if LAYERCRYPT_WITH_PGP
  if (layercrypt::pgp_keyring_kind(data) != layercrypt::PgpKeyringKind::kNone) {
    raw.pgp_keyrings.push_back(std::move(data));
    raw.pgp_passwords.push_back(std::move(pw));
    raw.pgp_keyring_names.push_back(name);
    return add_prepared(config, std::move(raw), name);
  }
#endif
  const auto kind = layercrypt::classify_key_file(data, nullptr, nullptr);
  if (kind == layercrypt::KeyFileKind::kPublicKey)
    return fail(LC_ERR_INVALID_ARGUMENT,
                name + " is a public key; decryption needs the private key");
  if (kind == layercrypt::KeyFileKind::kCertificate) {
    raw.certificates.emplace_back(data.begin(), data.end());
  } else {
    raw.private_keys.push_back(std::move(data));
    raw.passwords.push_back(std::move(pw));
    raw.key_names.push_back(name);
  }
  return add_prepared(config, std::move(raw), name);
}

layercrypt::StatusOr<layercrypt::Descriptor> parse_descriptor_arg(const char* json) {
  auto d = layercrypt::parse_descriptor(json);
  if (!d.ok()) return d.status().with_context("descriptor");
  return d;
}

// decrypt_one is lc_decrypt_layer on any source and sink; `cb_in` and
// `cb_out` (may be null) are the callback adapters, to tell a failing
// callback apart.
lc_status decrypt_one(const lc_decrypt_config* config, const char* descriptor_json,
                      layercrypt::ByteSource& src, layercrypt::ByteSink& sink, unsigned flags,
                      lc_layer** layer, const CallbackSource* cb_in, const CallbackSink* cb_out) {
  if (config == nullptr) return null_argument("config");
  if (descriptor_json == nullptr) return null_argument("descriptor_json");
  if ((flags & ~(LC_DECRYPT_STREAM | LC_DECRYPT_DECOMPRESS)) != 0)
    return fail(LC_ERR_INVALID_ARGUMENT, "unknown flags " + std::to_string(flags));
  auto desc = parse_descriptor_arg(descriptor_json);
  if (!desc.ok()) return fail(desc.status());
  const std::string name =
      desc->digest.empty() ? std::string("the layer") : "layer " + desc->digest;
  auto plain_type = layercrypt::decrypted_media_type(desc->media_type);
  if (!plain_type.ok()) return fail(plain_type.status().with_context(name));
  if (layercrypt::encryption_schemes(desc->annotations).empty())
    return fail(LC_ERR_DATA, name +
                                 " has no wrapped-key annotations "
                                 "(org.opencontainers.image.enc.keys.*): the descriptor is not "
                                 "that of an encrypted layer");
  auto opened = layercrypt::open_layer_key(desc->annotations, config->keys);
  if (!opened.ok()) return fail(opened.status().with_context(name));
  layercrypt::LayerDecryptOptions options;
  options.policy = (flags & LC_DECRYPT_STREAM) ? layercrypt::ReleasePolicy::kStream
                                               : layercrypt::ReleasePolicy::kVerifyFirst;
  if (flags & LC_DECRYPT_DECOMPRESS) {
    const Status st = layercrypt::set_decompress_options(*desc, &options, nullptr);
    if (!st.ok()) return fail(st.with_context(name));
  }
  auto result = layercrypt::decrypt_layer(src, sink, opened->key, opened->hmac, options);
  if (!result.ok()) {
    const Status st = result.status().with_context(name);
    if ((cb_in != nullptr && cb_in->failed) || (cb_out != nullptr && cb_out->failed))
      return fail(LC_ERR_CALLBACK, st.message());
    return fail(st);
  }
  if (layer != nullptr) {
    auto out_layer = std::make_unique<lc_layer>();
    layercrypt::Descriptor d;
    d.media_type = *plain_type;
    d.digest = opened->plain_digest;
    d.size = static_cast<int64_t>(result->bytes);
    out_layer->descriptor_json = layercrypt::encode_descriptor(d);
    out_layer->media_type = d.media_type;
    out_layer->digest = d.digest;
    out_layer->size = result->bytes;
    *layer = out_layer.release();
  }
  return LC_OK;
}

// run_image_operation parses `src` and `dst`, runs `op` on them and returns
// its report as JSON through `report_json` (may be null).
template <typename Op>
lc_status run_image_operation(const char* src, const char* dst, char** report_json,
                              const char* verb, Op op) {
  if (src == nullptr) return null_argument("src");
  if (dst == nullptr) return null_argument("dst");
  auto s = layercrypt::parse_oci_ref(src);
  if (!s.ok()) return fail(s.status());
  auto d = layercrypt::parse_oci_ref(dst);
  if (!d.ok()) return fail(d.status());
  auto rep = op(*s, *d);
  if (!rep.ok()) return fail(rep.status());
  if (report_json != nullptr)
    *report_json = copy_out(layercrypt::image_report_json(*rep, verb, src, dst, -1));
  return LC_OK;
}

}  // namespace

extern "C" {

const char* lc_last_error(void) { return g_last_error.c_str(); }

const char* lc_status_name(lc_status status) {
  switch (status) {
    case LC_OK:
      return "LC_OK";
    case LC_ERR_INVALID_ARGUMENT:
      return "LC_ERR_INVALID_ARGUMENT";
    case LC_ERR_DATA:
      return "LC_ERR_DATA";
    case LC_ERR_INTEGRITY:
      return "LC_ERR_INTEGRITY";
    case LC_ERR_KEY:
      return "LC_ERR_KEY";
    case LC_ERR_UNSUPPORTED:
      return "LC_ERR_UNSUPPORTED";
    case LC_ERR_IO:
      return "LC_ERR_IO";
    case LC_ERR_CALLBACK:
      return "LC_ERR_CALLBACK";
    case LC_ERR_INTERNAL:
      return "LC_ERR_INTERNAL";
  }
  return "LC_ERR_UNKNOWN";
}

void lc_free(void* p) { std::free(p); }

void lc_api_version(int* major, int* minor) {
  if (major != nullptr) *major = LC_API_VERSION_MAJOR;
  if (minor != nullptr) *minor = LC_API_VERSION_MINOR;
}

const char* lc_version(void) { return layercrypt::version_string(); }

const char* lc_cpu_paths(void) {
  static const std::string paths = [] {
    try {
      return layercrypt::describe_cpu_paths();
    } catch (...) {
      return std::string();
    }
  }();
  return paths.c_str();
}

lc_reader lc_fd_reader(int* fd) { return lc_reader{fd, fd_read}; }
lc_writer lc_fd_writer(int* fd) { return lc_writer{fd, fd_write}; }

// ---- configs ------------------------------------------------------------------

lc_encrypt_config* lc_encrypt_config_new(void) { return new (std::nothrow) lc_encrypt_config(); }
void lc_encrypt_config_free(lc_encrypt_config* config) { delete config; }

lc_status lc_encrypt_config_add_recipient(lc_encrypt_config* config, const char* recipient) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (recipient == nullptr) return null_argument("recipient");
    layercrypt::Recipients added = config->recipients;
    const Status st = layercrypt::add_recipient(recipient, &added);
    if (!st.ok()) return fail(st);
    if (!added.providers.empty() && !added.key_providers) {
      auto p = layercrypt::load_key_providers("");
      if (!p.ok()) return fail(p.status());
      added.key_providers = std::move(*p);
    }
    config->recipients = std::move(added);
    return LC_OK;
  });
}

lc_status lc_encrypt_config_set_gpg_pubring(lc_encrypt_config* config, const char* path) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (path == nullptr) return null_argument("path");
#if LAYERCRYPT_WITH_PGP
    auto data = layercrypt::read_file_bounded(path, size_t{64} << 20);
    if (!data.ok()) return fail(data.status());
    config->recipients.pgp_pubring = std::make_shared<const std::vector<uint8_t>>(std::move(*data));
    return LC_OK;
#else
    return fail(LC_ERR_UNSUPPORTED, "this build has no pgp scheme");
#endif
  });
}

lc_status lc_encrypt_config_set_gpg_pubring_data(lc_encrypt_config* config, const uint8_t* pubring,
                                                 size_t pubring_len) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (pubring == nullptr && pubring_len != 0) return null_argument("pubring");
#if LAYERCRYPT_WITH_PGP
    config->recipients.pgp_pubring =
        std::make_shared<const std::vector<uint8_t>>(pubring, pubring + pubring_len);
    return LC_OK;
#else
    return fail(LC_ERR_UNSUPPORTED, "this build has no pgp scheme");
#endif
  });
}

lc_status lc_encrypt_config_set_keyprovider_config(lc_encrypt_config* config, const char* path,
                                                   uint32_t timeout_ms) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    auto p = load_providers(path, timeout_ms);
    if (!p.ok()) return fail(p.status());
    config->recipients.key_providers = std::move(*p);
    return LC_OK;
  });
}

lc_status lc_decrypt_config_set_keyprovider_config(lc_decrypt_config* config, const char* path,
                                                   uint32_t timeout_ms) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    auto p = load_providers(path, timeout_ms);
    if (!p.ok()) return fail(p.status());
    config->keys.key_providers = std::move(*p);
    return LC_OK;
  });
}

lc_status lc_decrypt_config_add_provider(lc_decrypt_config* config, const char* key) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (key == nullptr) return null_argument("key");
    if (std::string_view(key).rfind("provider:", 0) != 0)
      return fail(LC_ERR_INVALID_ARGUMENT, "a provider key is provider:NAME[:PARAMS]");
    auto r = layercrypt::parse_provider_spec(key);
    if (!r.ok()) return fail(r.status());
    if (!config->keys.key_providers) {
      auto p = layercrypt::load_key_providers("");
      if (!p.ok()) return fail(p.status());
      config->keys.key_providers = std::move(*p);
    }
    config->keys.provider_params[r->name].push_back(std::move(r->params));
    return LC_OK;
  });
}

lc_status lc_encrypt_config_add_recipient_key(lc_encrypt_config* config, const char* scheme,
                                              const uint8_t* key, size_t key_len) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (key == nullptr) return null_argument("key");
    const std::string name = "recipient key " + std::to_string(config->recipients.size() + 1);
    const Status st = layercrypt::add_recipient_data(scheme ? scheme : "", {key, key_len}, name,
                                                     &config->recipients);
    return st.ok() ? LC_OK : fail(st);
  });
}

lc_status lc_encrypt_config_set_compression(lc_encrypt_config* config, const char* compression) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (compression == nullptr) return null_argument("compression");
    const std::string c = compression;
    if (c == "none") {
      config->compress.reset();
      return LC_OK;
    }
    auto parsed = layercrypt::parse_layer_compression(c);
    if (!parsed.ok()) return fail(parsed.status());
    config->compress = *parsed;
    return LC_OK;
  });
}

lc_decrypt_config* lc_decrypt_config_new(void) { return new (std::nothrow) lc_decrypt_config(); }
void lc_decrypt_config_free(lc_decrypt_config* config) { delete config; }

lc_status lc_decrypt_config_add_key(lc_decrypt_config* config, const uint8_t* key, size_t key_len,
                                    const uint8_t* password, size_t password_len) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (key == nullptr || key_len == 0) return fail(LC_ERR_INVALID_ARGUMENT, "key is empty");
    if (password == nullptr && password_len != 0) return null_argument("password");
    return add_key_bytes(config, layercrypt::kernels::SecretBytes(key, key + key_len), password,
                         password_len,
                         "key " + std::to_string(config->keys.private_keys.size() + 1));
  });
}

lc_status lc_decrypt_config_add_key_file(lc_decrypt_config* config, const char* path,
                                         const char* password) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (path == nullptr) return null_argument("path");
    auto data = layercrypt::read_secret_file(path);
    if (!data.ok()) return fail(data.status());
    return add_key_bytes(config, std::move(*data), reinterpret_cast<const uint8_t*>(password),
                         password ? std::strlen(password) : 0, path);
  });
}

lc_status lc_decrypt_config_add_keys_dir(lc_decrypt_config* config, const char* dir) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (dir == nullptr) return null_argument("dir");
    auto contents = layercrypt::load_keys_dir(dir);
    if (!contents.ok()) return fail(contents.status());
    auto& found = contents->keys;
    if (found.private_keys.empty() && found.pkcs11_keys.empty())
      return fail(LC_ERR_KEY, std::string("no usable private key in ") + dir);
    for (auto& k : found.private_keys) config->keys.private_keys.push_back(std::move(k));
    for (auto& c : found.certificates) config->keys.certificates.push_back(std::move(c));
    if (!found.pkcs11_keys.empty() && !config->keys.pkcs11_policy) {
      // The directory's keys use OCICRYPT_CONFIG's policy unless one was set.
      config->keys.pkcs11_policy = found.pkcs11_policy;
      config->keys.pkcs11_policy_error = found.pkcs11_policy_error;
    }
    for (auto& k : found.pkcs11_keys) config->keys.pkcs11_keys.push_back(std::move(k));
    return LC_OK;
  });
}

// ---- PKCS#11 tokens --------------------------------------------------------------

lc_status lc_encrypt_config_set_pkcs11_config(lc_encrypt_config* config, const char* config_path) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
#if LAYERCRYPT_WITH_PKCS11
    return set_policy_named(config_path, &config->recipients.pkcs11_policy);
#else
    (void)config_path;
    return no_pkcs11();
#endif
  });
}

lc_status lc_decrypt_config_set_pkcs11_config(lc_decrypt_config* config, const char* config_path) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
#if LAYERCRYPT_WITH_PKCS11
    const lc_status st = set_policy_named(config_path, &config->keys.pkcs11_policy);
    if (st == LC_OK) config->keys.pkcs11_policy_error.clear();
    return st;
#else
    (void)config_path;
    return no_pkcs11();
#endif
  });
}

lc_status lc_encrypt_config_set_pkcs11_policy(lc_encrypt_config* config, const uint8_t* yaml,
                                              size_t yaml_len) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
#if LAYERCRYPT_WITH_PKCS11
    return set_policy_yaml(yaml, yaml_len, &config->recipients.pkcs11_policy);
#else
    (void)yaml, (void)yaml_len;
    return no_pkcs11();
#endif
  });
}

lc_status lc_decrypt_config_set_pkcs11_policy(lc_decrypt_config* config, const uint8_t* yaml,
                                              size_t yaml_len) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
#if LAYERCRYPT_WITH_PKCS11
    const lc_status st = set_policy_yaml(yaml, yaml_len, &config->keys.pkcs11_policy);
    if (st == LC_OK) config->keys.pkcs11_policy_error.clear();
    return st;
#else
    (void)yaml, (void)yaml_len;
    return no_pkcs11();
#endif
  });
}

// ---- one layer ----------------------------------------------------------------

void lc_layer_free(lc_layer* layer) { delete layer; }
const char* lc_layer_descriptor_json(const lc_layer* layer) {
  return layer ? layer->descriptor_json.c_str() : "";
}
const char* lc_layer_diff_id(const lc_layer* layer) { return layer ? layer->diff_id.c_str() : ""; }
const char* lc_layer_media_type(const lc_layer* layer) {
  return layer ? layer->media_type.c_str() : "";
}
const char* lc_layer_digest(const lc_layer* layer) { return layer ? layer->digest.c_str() : ""; }
uint64_t lc_layer_size(const lc_layer* layer) { return layer ? layer->size : 0; }

lc_status lc_encrypt_layer(const lc_encrypt_config* config, const char* media_type, lc_reader in,
                           lc_writer out, lc_layer** layer) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (in.read == nullptr) return null_argument("in.read");
    if (out.write == nullptr) return null_argument("out.write");
    if (layer == nullptr) return null_argument("layer");
    CallbackSource src(in);
    CallbackSink sink(out);
    auto enc =
        layercrypt::encrypt_layer_sniffed(src, "the layer", sink, media_type ? media_type : "",
                                          config->recipients, config->compress, {});
    if (!enc.ok()) return fail_io(enc.status(), src, &sink);
    const layercrypt::Descriptor d = enc->descriptor();
    auto out_layer = std::make_unique<lc_layer>();
    out_layer->descriptor_json = layercrypt::encode_descriptor(d);
    out_layer->media_type = enc->media_type;
    out_layer->digest = enc->digest;
    out_layer->size = enc->size;
    out_layer->diff_id = enc->diff_id;
    *layer = out_layer.release();
    return LC_OK;
  });
}

lc_status lc_decrypt_layer(const lc_decrypt_config* config, const char* descriptor_json,
                           lc_reader in, lc_writer out, unsigned flags, lc_layer** layer) {
  return guard([&] {
    if (in.read == nullptr) return null_argument("in.read");
    if (out.write == nullptr) return null_argument("out.write");
    CallbackSource src(in);
    CallbackSink sink(out);
    return decrypt_one(config, descriptor_json, src, sink, flags, layer, &src, &sink);
  });
}

lc_status lc_decrypt_layer_fd(const lc_decrypt_config* config, const char* descriptor_json,
                              int in_fd, int out_fd, unsigned flags, lc_layer** layer) {
  return guard([&] {
    if (in_fd < 0) return fail(LC_ERR_INVALID_ARGUMENT, "in_fd is not a file descriptor");
    if (out_fd < 0) return fail(LC_ERR_INVALID_ARGUMENT, "out_fd is not a file descriptor");
    layercrypt::FdSource src(in_fd, "fd " + std::to_string(in_fd));
    layercrypt::FdSink sink(out_fd, "fd " + std::to_string(out_fd));
    return decrypt_one(config, descriptor_json, src, sink, flags, layer, nullptr, nullptr);
  });
}

// ---- descriptors only ------------------------------------------------------------

lc_status lc_check_layer_keys(const lc_decrypt_config* config, const char* descriptor_json) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (descriptor_json == nullptr) return null_argument("descriptor_json");
    auto desc = parse_descriptor_arg(descriptor_json);
    if (!desc.ok()) return fail(desc.status());
    auto opened = layercrypt::open_layer_key(desc->annotations, config->keys);
    if (!opened.ok()) return fail(opened.status().with_context("layer " + desc->digest));
    return LC_OK;
  });
}

lc_status lc_layer_plain_digest(const lc_decrypt_config* config, const char* descriptor_json,
                                char** digest_out) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    if (descriptor_json == nullptr) return null_argument("descriptor_json");
    if (digest_out == nullptr) return null_argument("digest_out");
    auto desc = parse_descriptor_arg(descriptor_json);
    if (!desc.ok()) return fail(desc.status());
    auto opened = layercrypt::open_layer_key(desc->annotations, config->keys);
    if (!opened.ok()) return fail(opened.status().with_context("layer " + desc->digest));
    *digest_out = copy_out(opened->plain_digest);
    return LC_OK;
  });
}

lc_status lc_add_recipients(const lc_decrypt_config* keys, const lc_encrypt_config* recipients,
                            const char* descriptor_json, char** descriptor_out) {
  return guard([&] {
    if (keys == nullptr) return null_argument("keys");
    if (recipients == nullptr) return null_argument("recipients");
    if (descriptor_json == nullptr) return null_argument("descriptor_json");
    if (descriptor_out == nullptr) return null_argument("descriptor_out");
    if (recipients->recipients.empty())
      return fail(LC_ERR_INVALID_ARGUMENT, "no recipients to add");
    auto desc = parse_descriptor_arg(descriptor_json);
    if (!desc.ok()) return fail(desc.status());
    auto action = layercrypt::rewrap_layer_annotations(
        &desc->annotations, keys->keys, recipients->recipients, layercrypt::RewrapMode::kAdd,
        "layer " + desc->digest, nullptr);
    if (!action.ok()) return fail(action.status());
    *descriptor_out = copy_out(layercrypt::encode_descriptor(*desc));
    return LC_OK;
  });
}

// ---- whole images -------------------------------------------------------------------

lc_status lc_encrypt_image(const lc_encrypt_config* config, const char* src, const char* dst,
                           char** report_json) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    return run_image_operation(src, dst, report_json, "encrypted",
                               [config](const layercrypt::OciRef& s, const layercrypt::OciRef& d) {
                                 layercrypt::EncryptImageOptions options;
                                 options.recipients = &config->recipients;
                                 options.compress = config->compress;
                                 return layercrypt::encrypt_image(s, d, options);
                               });
  });
}

lc_status lc_decrypt_image(const lc_decrypt_config* config, const char* src, const char* dst,
                           char** report_json) {
  return guard([&] {
    if (config == nullptr) return null_argument("config");
    return run_image_operation(src, dst, report_json, "decrypted",
                               [config](const layercrypt::OciRef& s, const layercrypt::OciRef& d) {
                                 layercrypt::DecryptImageOptions options;
                                 options.keys = &config->keys;
                                 return layercrypt::decrypt_image(s, d, options);
                               });
  });
}

lc_status lc_layer_info(const char* image, char** json) {
  return guard([&] {
    if (image == nullptr) return null_argument("image");
    if (json == nullptr) return null_argument("json");
    auto ref = layercrypt::parse_oci_ref(image);
    if (!ref.ok()) return fail(ref.status());
    auto rows = layercrypt::layer_info(*ref);
    if (!rows.ok()) return fail(rows.status());
    *json = copy_out(layercrypt::layer_info_json(*rows, -1));
    return LC_OK;
  });
}

}  // extern "C"
