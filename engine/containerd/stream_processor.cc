// engine/containerd/stream_processor.cc
#include "engine/containerd/stream_processor.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <thread>

#include "engine/containerd/payload.h"
#include "engine/core/hex.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/key_wrapper.h"
#include "engine/keywrap/keys_dir.h"
#include "engine/keywrap/provider/key_providers.h"
#include "engine/ocicrypt/annotations.h"
#include "engine/ocicrypt/layer_options.h"
#include "engine/ocicrypt/media_types.h"
#include "engine/stream/gzip_index.h"
#include "kernels/sha256.h"

namespace layercrypt {
namespace {

// kReadBuffer is what stdin is read in when it is only hashed (drained
// beside the content store's file, or read whole to learn which layer it is).
constexpr size_t kReadBuffer = size_t{1} << 20;

// payload_keys collects the payload's private keys (with their passwords)
// and certificates, as ctd-decoder reads DecryptConfig.Parameters.
StatusOr<DecryptKeys> payload_keys(const DecryptParameters& params) {
  DecryptKeys keys;
  const auto& privs = params.privkeys();
  const auto& pwds = params.privkeys_passwords();
  if (!pwds.empty() && pwds.size() != privs.size())
    return DataError("payload has " + std::to_string(privs.size()) + " privkeys but " +
                     std::to_string(pwds.size()) + " privkeys-passwords; they must pair up");
  for (size_t i = 0; i < privs.size(); ++i) {
    if (!privs[i]) continue;  // a null entry carries no key
    keys.private_keys.push_back(*privs[i]);
    if (i < pwds.size() && pwds[i])
      keys.passwords.emplace_back(*pwds[i]);
    else
      keys.passwords.emplace_back(std::nullopt);
  }
  for (const auto& cert : params.x509s())
    if (cert) keys.certificates.emplace_back(cert->begin(), cert->end());
  if (const DecryptParameters::List* yamls = params.find(kParamPkcs11Yamls))
    for (const auto& y : *yamls)
      if (y) keys.pkcs11_yamls.push_back(*y);
  // OpenPGP secret keyrings, each with the passphrase at its index (Go
  // asks for one only where there is one).
  if (const DecryptParameters::List* rings = params.find(kParamGpgPrivKeys)) {
    const DecryptParameters::List* pws = params.find(kParamGpgPrivKeysPasswords);
    for (size_t i = 0; i < rings->size(); ++i) {
      // ctd-decoder sends [""] for an empty keys directory: no keyring.
      if (!(*rings)[i] || (*rings)[i]->empty()) continue;
      keys.pgp_keyrings.push_back(*(*rings)[i]);
      if (pws != nullptr && i < pws->size() && (*pws)[i])
        keys.pgp_passwords.emplace_back(*(*pws)[i]);
      else
        keys.pgp_passwords.emplace_back(std::nullopt);
      keys.pgp_keyring_names.push_back("payload gpg-privatekeys[" + std::to_string(i) + "]");
    }
  }
  return keys;
}

// skipped_summary lists the key files that were skipped, for an error line:
// the reason a user's key was not used is usually among them.
std::string skipped_summary(const std::vector<std::string>& warnings) {
  if (warnings.empty()) return "";
  constexpr size_t kShown = 3;
  std::string out = " (";
  for (size_t i = 0; i < warnings.size() && i < kShown; ++i) out += (i ? "; " : "") + warnings[i];
  if (warnings.size() > kShown)
    out += "; and " + std::to_string(warnings.size() - kShown) + " more";
  return out + ")";
}

// kPrefixLen: how much of stdin is read before deciding between the
// content store's file and a spool (compared with the file's first bytes).
constexpr size_t kPrefixLen = 64 * 1024;

// PrefixedSource reads `prefix`, then the rest of `rest`.
class PrefixedSource final : public ByteSource {
 public:
  PrefixedSource(std::span<const uint8_t> prefix, ByteSource& rest)
      : prefix_(prefix), rest_(rest) {}
  StatusOr<size_t> read(uint8_t* out, size_t cap) override {
    if (pos_ < prefix_.size()) {
      const size_t n = std::min(cap, prefix_.size() - pos_);
      std::memcpy(out, prefix_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    return rest_.read(out, cap);
  }

 private:
  std::span<const uint8_t> prefix_;
  size_t pos_ = 0;
  ByteSource& rest_;
};

// StdinCheckedFileSource reads the layer from the content store's file
// while a thread drains stdin (what containerd streams) and hashes it.
// The stdin digest is checked before the second pass starts (rewind(),
// which decrypt_layer calls only after the MAC verified) and by finish():
// no plaintext is released unless stdin carried exactly the layer.
class StdinCheckedFileSource final : public ByteSource {
 public:
  StdinCheckedFileSource(std::unique_ptr<ByteSource> file, std::span<const uint8_t> prefix,
                         ByteSource& in, std::string digest)
      : file_(std::move(file)), digest_(std::move(digest)) {
    drain_ = std::thread([this, prefix, &in] { drain_status_ = drain(prefix, in); });
  }
  ~StdinCheckedFileSource() override {
    if (drain_.joinable()) drain_.join();
  }
  StatusOr<size_t> read(uint8_t* out, size_t cap) override { return file_->read(out, cap); }
  Status rewind() override {
    LC_RETURN_IF_ERROR(finish());
    return file_->rewind();
  }
  bool can_rewind() const override { return true; }
  std::optional<uint64_t> size_hint() const override { return file_->size_hint(); }

  // finish waits for stdin's end and checks its digest.
  Status finish() {
    if (drain_.joinable()) drain_.join();
    return drain_status_;
  }

 private:
  Status drain(std::span<const uint8_t> prefix, ByteSource& in) {
    kernels::Sha256 hash;
    if (!hash.ok() || !hash.update(prefix.data(), prefix.size())) return Internal("sha256 failed");
    // Not zero-filled: a small layer touches one page of it, not 256.
    const auto buf = std::make_unique_for_overwrite<uint8_t[]>(kReadBuffer);
    uint64_t total = prefix.size();
    for (;;) {
      auto n = in.read(buf.get(), kReadBuffer);
      if (!n.ok()) return n.status().with_context("draining stdin");
      if (*n == 0) break;
      if (!hash.update(buf.get(), *n)) return Internal("sha256 failed");
      total += *n;
    }
    std::array<uint8_t, 32> d{};
    if (!hash.final(d.data(), d.size())) return Internal("sha256 failed");
    if (sha256_digest_string(d) != digest_)
      return IntegrityError("the layer containerd streamed on stdin (" + std::to_string(total) +
                            " bytes, " + sha256_digest_string(d) + ") is not the blob " + digest_ +
                            " read from the content store; nothing was released");
    return Status::Ok();
  }

  std::unique_ptr<ByteSource> file_;
  std::string digest_;
  Status drain_status_;
  std::thread drain_;
};

// file_starts_with returns true if the content-store blob at `path` is at
// least `prefix.size()` bytes and begins with `prefix`.
bool file_starts_with(const std::string& path, std::span<const uint8_t> prefix) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::vector<uint8_t> head(prefix.size());
  size_t got = 0;
  while (got < head.size()) {
    const ssize_t n = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return got == prefix.size() && std::equal(head.begin(), head.end(), prefix.begin());
}

// load_keys gathers the keys directory's keys, then the payload's
// (ctd-decoder's order).
StatusOr<PreparedKeys> load_keys(const StreamProcessorOptions& options,
                                 const DecryptParameters* params, StreamProcessorReport& rep,
                                 std::vector<std::string>* dir_problems) {
  PreparedKeys keys;
  keys.key_providers = options.key_providers;
  if (options.keys_dir) {
    auto dir = load_keys_dir(*options.keys_dir);
    if (!dir.ok()) {
      dir_problems->push_back(dir.status().message());
    } else {
      keys.private_keys = std::move(dir->keys.private_keys);
      keys.certificates = std::move(dir->keys.certificates);
      keys.problems = std::move(dir->keys.problems);
      keys.pkcs11_keys = std::move(dir->keys.pkcs11_keys);
      keys.pkcs11_policy = std::move(dir->keys.pkcs11_policy);
      keys.pkcs11_policy_error = std::move(dir->keys.pkcs11_policy_error);
      keys.pgp_keyrings = std::move(dir->keys.pgp_keyrings);
      for (auto& s : dir->skipped) rep.warnings.push_back("skipped " + s);
    }
  }
  if (params == nullptr) return keys;
  if (options.key_providers) {  // each provider gets its own parameters only
    for (const KeyWrapper* w : options.key_providers->wrappers()) {
      const std::string name(w->scheme().substr(kProviderSchemePrefix.size()));
      if (const DecryptParameters::List* list = params->find(name))
        for (const auto& v : *list)
          keys.provider_params[name].push_back(v ? *v : kernels::SecretBytes{});
    }
  }
  auto from_payload = payload_keys(*params);
  if (!from_payload.ok()) return from_payload.status().with_context("bad decryption payload");
#if LAYERCRYPT_WITH_PKCS11
  // The payload's key YAMLs are used under the decoder's own module policy
  // (OCICRYPT_CONFIG in its environment) when it has one; the payload's
  // pkcs11-config only when it has none (Go always takes the payload's).
  if (!from_payload->pkcs11_yamls.empty()) {
    auto own = load_pkcs11_policy();
    if (own.ok()) {
      from_payload->pkcs11_policy = std::make_shared<const Pkcs11ModulePolicy>(std::move(*own));
    } else if (const DecryptParameters::List* conf = params->find(kParamPkcs11Config);
               conf != nullptr && !conf->empty() && (*conf)[0]) {
      auto policy = parse_pkcs11_config(*(*conf)[0], "the payload's pkcs11-config");
      if (!policy.ok()) return policy.status().with_context("bad decryption payload");
      from_payload->pkcs11_policy = std::make_shared<const Pkcs11ModulePolicy>(std::move(*policy));
    }
  }
#endif
  if (!from_payload->private_keys.empty() || !from_payload->certificates.empty() ||
      !from_payload->pkcs11_yamls.empty() || !from_payload->pgp_keyrings.empty()) {
    auto prepared = prepare_decrypt_keys(*from_payload);
    if (!prepared.ok()) return prepared.status().with_context("bad decryption payload");
    for (auto& k : prepared->private_keys) keys.private_keys.push_back(std::move(k));
    for (auto& c : prepared->certificates) keys.certificates.push_back(std::move(c));
    for (auto& p : prepared->problems) keys.problems.push_back("payload " + p);
    for (auto& k : prepared->pkcs11_keys) keys.pkcs11_keys.push_back(std::move(k));
    for (auto& k : prepared->pgp_keyrings) keys.pgp_keyrings.push_back(std::move(k));
    if (!keys.pkcs11_policy) {
      keys.pkcs11_policy = prepared->pkcs11_policy;
      if (keys.pkcs11_policy_error.empty())
        keys.pkcs11_policy_error = prepared->pkcs11_policy_error;
    }
  }
  return keys;
}

std::string layer_name(const Descriptor& desc) {
  return desc.digest.empty() ? std::string("layer") : "layer " + desc.digest;
}

}  // namespace

std::string no_payload_message() {
  return "no decryption payload on fd 3: containerd passed none. It passes one only to the "
         "stream processors with ids io.containerd.ocicrypt.decoder.v1.tar and "
         "io.containerd.ocicrypt.decoder.v1.tar.gzip, and only when it unpacks a pull (not with "
         "--unpack=false or ctr import; with containerd 2.1+ CRI pulls need "
         "use_local_image_pull = true); check the [stream_processors] ids in config.toml";
}

StatusOr<kernels::SecretBytes> read_payload(int fd) {
  if (fcntl(fd, F_GETFD) < 0) return kernels::SecretBytes();  // no fd 3 at all
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};  // on every path, as the header promises
  FdSource src(fd, "payload fd " + std::to_string(fd));
  kernels::SecretBytes out;
  uint8_t buf[16384];
  kernels::ScopedWipe wipe(buf, sizeof buf);
  for (;;) {
    auto n = src.read(buf, sizeof buf);
    if (!n.ok()) return n.status().with_context("read payload");
    if (*n == 0) break;
    if (out.size() + *n > kMaxPayloadLen)
      return DataError("read payload: more than 16 MiB on fd " + std::to_string(fd) +
                       "; that is not a containerd payload");
    out.insert(out.end(), buf, buf + *n);
  }
  return out;
}

Status run_stream_processor(std::span<const uint8_t> payload_bytes, ByteSource& in, ByteSink& out,
                            const StreamProcessorOptions& options, StreamProcessorReport* report) {
  StreamProcessorReport local;
  StreamProcessorReport& rep = report ? *report : local;

  // 1. The descriptor(s): from the payload, or (later, once the blob's
  //    digest is known) from the content store.
  std::optional<Payload> payload;
  if (!payload_bytes.empty()) {
    auto parsed = parse_payload(payload_bytes);
    if (!parsed.ok()) return parsed.status().with_context("bad decryption payload on fd 3");
    payload = std::move(*parsed);
    rep.descriptor_from = "payload";
  } else if (!options.containerd_root && !options.find_containerd_root) {
    return InvalidArgument(no_payload_message());
  }
  // The content store is needed without a payload, and to save spooling a
  // large piped layer before the MAC check.
  const Descriptor* pdesc = payload ? &payload->descriptor : nullptr;
  const bool want_store =
      pdesc == nullptr ||
      (!in.can_rewind() && options.decrypt.policy == ReleasePolicy::kVerifyFirst &&
       pdesc->size > 0 && static_cast<uint64_t>(pdesc->size) > options.content_store_min_size);
  std::optional<ContentStore> store;
  if (want_store && options.containerd_root) {
    rep.containerd_root = *options.containerd_root;
    rep.containerd_root_origin = options.containerd_root_origin;
  } else if (want_store && options.find_containerd_root) {
    const ContainerdRoot found = options.find_containerd_root();
    rep.containerd_root = found.path;
    rep.containerd_root_origin = "from " + found.origin;
  }
  if (!rep.containerd_root.empty()) store.emplace(rep.containerd_root);
  const std::string root_text =
      rep.containerd_root + (rep.containerd_root_origin.empty()
                                 ? std::string()
                                 : " (" + rep.containerd_root_origin + ")");

  std::vector<LayerCandidate> candidates;
  if (payload) {
    const Descriptor& desc = payload->descriptor;
    rep.media_type = desc.media_type;
    rep.layer_digest = desc.digest;
    if (!is_decryptable_media_type(desc.media_type))
      return Unsupported(layer_name(desc) + ": media type \"" + desc.media_type +
                         "\" is not an encrypted layer type layercrypt-decoder handles (tar, "
                         "tar+gzip, tar+zstd with +encrypted); check the processor's accepts list");
    if (!options.env_media_type.empty() && options.env_media_type != desc.media_type)
      rep.warnings.push_back("STREAM_PROCESSOR_MEDIATYPE is " + options.env_media_type +
                             " but the layer descriptor says " + desc.media_type +
                             "; using the descriptor's");
    if (encryption_schemes(desc.annotations).empty())
      return DataError(layer_name(desc) +
                       " has no wrapped-key annotations "
                       "(org.opencontainers.image.enc.keys.*); the descriptor containerd passed "
                       "is not that of an encrypted layer");
    candidates.push_back({desc, ""});
  } else {
    if (!options.env_media_type.empty() && !is_decryptable_media_type(options.env_media_type))
      return Unsupported("STREAM_PROCESSOR_MEDIATYPE \"" + options.env_media_type +
                         "\" is not an encrypted layer type layercrypt-decoder handles (tar, "
                         "tar+gzip, tar+zstd with +encrypted); check the processor's accepts list");
    if (!store->exists()) {
      rep.descriptor_not_found = true;
      return InvalidArgument(
          "no decryption payload on fd 3 (containerd 2.1+ passes none on transfer-service "
          "pulls, and no containerd passes one to processor ids other than "
          "io.containerd.ocicrypt.decoder.v1.tar and io.containerd.ocicrypt.decoder.v1.tar.gzip)"
          ", and containerd's content store " +
          store->blobs_dir() + " (root " + root_text + ") does not exist");
    }
    ContentScanStats scan;
    auto found = store->find_layer_descriptors(options.env_media_type, "", options.scan, &scan);
    rep.scan = scan;
    if (!found.ok()) return found.status().with_context("no decryption payload on fd 3");
    candidates = std::move(*found);
  }

  // 2. Keys (before reading the blob: a missing key fails fast).
  std::vector<std::string> dir_problems;
  LC_ASSIGN_OR_RETURN(
      PreparedKeys keys,
      load_keys(options, payload ? &payload->parameters : nullptr, rep, &dir_problems));
  rep.keys_tried = keys.private_keys.size();
  // A layer wrapped for key providers gets the key search's own error,
  // which names the provider and the config it was looked for in.
  const bool for_providers = std::any_of(candidates.begin(), candidates.end(), [](const auto& c) {
    for (const auto& s : encryption_schemes(c.descriptor.annotations))
      if (is_provider_scheme(s)) return true;
    return false;
  });
  if (!keys.can_unwrap() && keys.problems.empty() && !for_providers) {
    std::string why = dir_problems.empty()
                          ? (options.keys_dir ? "no usable private key in " + *options.keys_dir
                                              : std::string("no --decryption-keys-path given"))
                          : dir_problems.front();
    why += skipped_summary(rep.warnings);
    const std::string what = payload ? layer_name(payload->descriptor) : std::string("the layer");
    return KeyError("missing private key needed for decryption of " + what + ": " + why +
                    (payload ? ", and the payload carried no keys" : std::string()) +
                    "; put the recipient's private key in the keys directory");
  }

  // 3. The ciphertext: the content store's file when it is that layer,
  //    else stdin (spooled by decrypt_layer for verify-first, or here when
  //    the digest must be learnt first).
  // A regular file on stdin is read twice in place; only a pipe needs
  // the content store's file or a spool.
  const bool seekable = in.can_rewind();
  std::vector<uint8_t> prefix;
  if (!seekable) {
    prefix.resize(kPrefixLen);
    LC_ASSIGN_OR_RETURN(size_t prefix_len, read_full(in, prefix.data(), prefix.size()));
    prefix.resize(prefix_len);
  }

  std::string file_digest;  // the content-store blob to read, if any
  if (!seekable && store && !candidates.empty()) {
    for (const LayerCandidate& c : candidates) {
      if (c.descriptor.digest == file_digest) continue;
      auto size = store->blob_size(c.descriptor.digest);
      if (!size || c.descriptor.size < 0 || *size != static_cast<uint64_t>(c.descriptor.size))
        continue;
      if (*size < prefix.size() || (prefix.size() < kPrefixLen && *size != prefix.size())) continue;
      if (!file_starts_with(*store->blob_path(c.descriptor.digest), prefix)) continue;
      if (!file_digest.empty()) {  // two blobs start alike: learn the digest from stdin
        file_digest.clear();
        break;
      }
      file_digest = c.descriptor.digest;
    }
  }

  std::unique_ptr<ByteSource> owned_source;
  StdinCheckedFileSource* checked = nullptr;
  std::unique_ptr<Spool> spool;
  PrefixedSource prefixed(prefix, in);
  ByteSource* source = seekable ? &in : static_cast<ByteSource*>(&prefixed);
  if (!file_digest.empty()) {
    LC_ASSIGN_OR_RETURN(auto file, store->open_blob_source(file_digest, -1, /*verify=*/false));
    auto src = std::make_unique<StdinCheckedFileSource>(std::move(file), prefix, in, file_digest);
    checked = src.get();
    owned_source = std::move(src);
    source = owned_source.get();
    rep.read_from_content_store = true;
    std::erase_if(candidates,
                  [&](const LayerCandidate& c) { return c.descriptor.digest != file_digest; });
  } else if (!payload) {
    // No payload and no file to read: read stdin whole, hashing it, to
    // learn which layer this is (spooling a pipe; a file is rewound).
    if (!seekable) spool = std::make_unique<Spool>(options.decrypt.spool_memory_limit);
    kernels::Sha256 hash;
    if (!hash.ok()) return Internal("sha256 failed");
    const auto buf = std::make_unique_for_overwrite<uint8_t[]>(kReadBuffer);
    uint64_t total = 0;
    for (;;) {
      LC_ASSIGN_OR_RETURN(size_t n, source->read(buf.get(), kReadBuffer));
      if (n == 0) break;
      if (!hash.update(buf.get(), n)) return Internal("sha256 failed");
      if (spool) LC_RETURN_IF_ERROR(spool->write(buf.get(), n));
      total += n;
    }
    std::array<uint8_t, 32> d{};
    if (!hash.final(d.data(), d.size())) return Internal("sha256 failed");
    const std::string digest = sha256_digest_string(d);
    if (spool) {
      rep.spool_bytes = spool->size();
      rep.spool_spilled = spool->spilled();
    }
    std::erase_if(candidates,
                  [&](const LayerCandidate& c) { return c.descriptor.digest != digest; });
    if (candidates.empty()) {
      rep.descriptor_not_found = true;
      const ContentScanStats& sc = *rep.scan;
      return DataError(
          "no decryption payload on fd 3 (containerd's transfer service passes none), and no "
          "manifest in containerd's content store lists layer " +
          digest + " (" + std::to_string(total) + " bytes from stdin): read the " +
          std::to_string(sc.blobs_read) + " newest of " + std::to_string(sc.small_blobs) +
          " small blobs in " + store->blobs_dir() + " (root " + root_text + ")");
    }
    if (spool) {
      owned_source = spool->source();
      source = owned_source.get();
    } else {
      LC_RETURN_IF_ERROR(in.rewind());
    }
  }
  if (!payload) {
    rep.layer_digest = candidates.front().descriptor.digest;
    rep.media_type = candidates.front().descriptor.media_type;
  }
  rep.candidates = candidates.size();

  // 4. The layer key: the first candidate descriptor that unwraps.
  std::optional<OpenedLayerKey> opened;
  const Descriptor* desc = nullptr;
  Status first_error;
  for (const LayerCandidate& c : candidates) {
    const std::string layer = layer_name(c.descriptor);
    if (encryption_schemes(c.descriptor.annotations).empty()) {
      if (first_error.ok())
        first_error = DataError(
            layer +
            " has no wrapped-key annotations "
            "(org.opencontainers.image.enc.keys.*); the descriptor " +
            (payload ? std::string("containerd passed") : "in manifest " + c.manifest_digest) +
            " is not that of an encrypted layer");
      continue;
    }
    auto k = open_layer_key(c.descriptor.annotations, keys);
    if (k.ok()) {
      opened = std::move(*k);
      desc = &c.descriptor;
      if (!payload) rep.descriptor_from = "content store manifest " + c.manifest_digest;
      break;
    }
    if (first_error.ok())
      first_error =
          Status(k.status().code(),
                 layer + ": " + k.status().message() + skipped_summary(rep.warnings) +
                     (candidates.size() > 1 ? " (tried " + std::to_string(candidates.size()) +
                                                  " descriptors of this layer in the content store)"
                                            : std::string()));
  }
  if (!opened) return first_error;
  const std::string layer = layer_name(*desc);

  LayerDecryptOptions decrypt = options.decrypt;
  if (options.decompress)
    LC_RETURN_IF_ERROR(set_decompress_options(*desc, &decrypt, &rep.warnings).with_context(layer));
  auto result = decrypt_layer(*source, out, opened->key, opened->hmac, decrypt);
  if (!result.ok()) return result.status().with_context(layer);
  if (checked != nullptr) LC_RETURN_IF_ERROR(checked->finish().with_context(layer));
  rep.result = std::move(*result);
  if (rep.result.spooled) {
    rep.spool_bytes = rep.result.verify_stats.bytes;
    rep.spool_spilled = rep.result.spool_spilled;
  }
  return Status::Ok();
}

Status set_decompress_options(const Descriptor& desc, LayerDecryptOptions* decrypt,
                              std::vector<std::string>* warnings) {
  LC_ASSIGN_OR_RETURN(Compression compression, compression_of(desc.media_type));
  decrypt->decompress = compression;
  const auto ix = desc.annotations.find(kGzipIndexAnnotation);
  if (compression == Compression::kGzip && ix != desc.annotations.end()) {
    auto index = parse_gzip_index(ix->second, desc.size < 0 ? 0 : static_cast<uint64_t>(desc.size));
    if (index.ok())
      decrypt->gzip_index = std::move(*index);
    else if (warnings != nullptr)
      warnings->push_back(index.status().message() + "; inflating on one core");
  }
  return Status::Ok();
}

bool prepare_openssl_for_one_job() {
  return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
                             nullptr) == 1;
}

}  // namespace layercrypt
