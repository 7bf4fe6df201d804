// engine/containerd/stream_processor.cc
#include "engine/containerd/stream_processor.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>

#include "engine/ocicrypt/annotations.h"
#include "engine/stream/gzip_index.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/keys_dir.h"
#include "engine/ocicrypt/layer_options.h"
#include "engine/ocicrypt/media_types.h"
#include "engine/containerd/payload.h"

namespace layercrypt {
namespace {

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
  return keys;
}

// skipped_summary lists the key files that were skipped, for an error line:
// the reason a user's key was not used is usually among them.
std::string skipped_summary(const std::vector<std::string>& warnings) {
  if (warnings.empty()) return "";
  constexpr size_t kShown = 3;
  std::string out = " (";
  for (size_t i = 0; i < warnings.size() && i < kShown; ++i) out += (i ? "; " : "") + warnings[i];
  if (warnings.size() > kShown) out += "; and " + std::to_string(warnings.size() - kShown) + " more";
  return out + ")";
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
  if (fcntl(fd, F_GETFD) < 0) return InvalidArgument(no_payload_message());
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
                            const StreamProcessorOptions& options,
                            StreamProcessorReport* report) {
  StreamProcessorReport local;
  StreamProcessorReport& rep = report ? *report : local;

  auto payload = parse_payload(payload_bytes);
  if (!payload.ok()) return payload.status().with_context("bad decryption payload on fd 3");
  const Descriptor& desc = payload->descriptor;
  rep.media_type = desc.media_type;
  rep.layer_digest = desc.digest;
  const std::string layer = desc.digest.empty() ? std::string("layer") : "layer " + desc.digest;

  if (!is_decryptable_media_type(desc.media_type))
    return Unsupported(layer + ": media type \"" + desc.media_type +
                       "\" is not an encrypted layer type layercrypt-decoder handles (tar, "
                       "tar+gzip, tar+zstd with +encrypted); check the processor's accepts list");
  if (!options.env_media_type.empty() && options.env_media_type != desc.media_type)
    rep.warnings.push_back("STREAM_PROCESSOR_MEDIATYPE is " + options.env_media_type +
                           " but the layer descriptor says " + desc.media_type +
                           "; using the descriptor's");

  // Keys: the directory's first, then the payload's (ctd-decoder's order).
  // Directory keys arrive parsed; payload keys are parsed here.
  PreparedKeys keys;
  std::vector<std::string> dir_problems;
  if (options.keys_dir) {
    auto dir = load_keys_dir(*options.keys_dir);
    if (!dir.ok()) {
      dir_problems.push_back(dir.status().message());
    } else {
      keys = std::move(dir->keys);
      for (auto& s : dir->skipped) rep.warnings.push_back("skipped " + s);
    }
  }
  auto from_payload = payload_keys(payload->parameters);
  if (!from_payload.ok()) return from_payload.status().with_context("bad decryption payload");
  if (!from_payload->private_keys.empty() || !from_payload->certificates.empty()) {
    auto prepared = prepare_decrypt_keys(*from_payload);
    if (!prepared.ok()) return prepared.status().with_context("bad decryption payload");
    for (auto& k : prepared->private_keys) keys.private_keys.push_back(std::move(k));
    for (auto& c : prepared->certificates) keys.certificates.push_back(std::move(c));
    for (auto& p : prepared->problems) keys.problems.push_back("payload " + p);
  }
  rep.keys_tried = keys.private_keys.size();

  const auto schemes = encryption_schemes(desc.annotations);
  if (schemes.empty())
    return DataError(layer + " has no wrapped-key annotations (org.opencontainers.image.enc.keys.*)"
                     "; the descriptor containerd passed is not that of an encrypted layer");
  if (keys.private_keys.empty() && keys.problems.empty()) {
    std::string why = dir_problems.empty()
                          ? (options.keys_dir ? "no usable private key in " + *options.keys_dir
                                              : std::string("no --decryption-keys-path given"))
                          : dir_problems.front();
    why += skipped_summary(rep.warnings);
    return KeyError("missing private key needed for decryption of " + layer + ": " + why +
                    ", and the payload carried no keys; put the recipient's private key in the "
                    "keys directory");
  }

  auto opened = open_layer_key(desc.annotations, keys);
  if (!opened.ok()) {
    std::string msg = layer + ": " + opened.status().message();
    msg += skipped_summary(rep.warnings);
    return Status(opened.status().code(), msg);
  }

  LayerDecryptOptions decrypt = options.decrypt;
  if (options.decompress) {
    auto compression = compression_of(desc.media_type);
    if (!compression.ok()) return compression.status().with_context(layer);
    decrypt.decompress = *compression;
    const auto ix = desc.annotations.find(kGzipIndexAnnotation);
    if (*compression == Compression::kGzip && ix != desc.annotations.end()) {
      auto index = parse_gzip_index(ix->second, desc.size < 0 ? 0 : static_cast<uint64_t>(desc.size));
      if (index.ok())
        decrypt.gzip_index = std::move(*index);
      else
        rep.warnings.push_back(index.status().message() + "; inflating on one core");
    }
  }
  auto result = decrypt_layer(in, out, opened->key, opened->hmac, decrypt);
  if (!result.ok()) return result.status().with_context(layer);
  rep.result = std::move(*result);
  return Status::Ok();
}

bool prepare_openssl_for_one_job() {
  return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, nullptr) ==
         1;
}

}  // namespace layercrypt
