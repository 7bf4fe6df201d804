// engine/layer_cipher.cc: AES_256_CTR_HMAC_SHA256 over run_pipeline.
#include "engine/layer_cipher.h"

#include <openssl/rand.h>

#include <memory>

#include "kernels/aes_ctr.h"
#include "kernels/hmac_sha256.h"
#include "kernels/sha256.h"

namespace layercrypt {
namespace {

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

Status check_key(const LayerKey& key) {
  if (key.symkey.size() != kLayerKeyLen)
    return InvalidArgument("invalid key length of " + std::to_string(key.symkey.size()) +
                           " bytes; need 32 bytes");
  if (key.nonce.size() != kLayerNonceLen)
    return InvalidArgument("invalid nonce length of " + std::to_string(key.nonce.size()) +
                           " bytes; need 16 bytes");
  return Status::Ok();
}

// Stage factories. Each captures state the caller keeps alive for the run.

Stage hmac_stage(kernels::HmacSha256& mac) {
  return {"hmac", StageKind::kSerialInOrder, [&mac](Chunk& c) {
            if (!mac.update(c.data, c.len)) return Internal("HMAC-SHA256 update failed");
            return Status::Ok();
          }};
}

Stage sha256_stage(const char* name, kernels::Sha256& sha) {
  return {name, StageKind::kSerialInOrder, [&sha](Chunk& c) {
            if (!sha.update(c.data, c.len)) return Internal("SHA-256 update failed");
            return Status::Ok();
          }};
}

Stage ctr_stage(const kernels::AesCtr256& ctr) {
  return {"aes-ctr", StageKind::kParallel, [&ctr](Chunk& c) {
            if (!ctr.xor_at(c.offset, c.data, c.data, c.len))
              return Internal("AES-256-CTR failed");
            return Status::Ok();
          }};
}

Stage write_stage(ByteSink& sink) {
  return {"write", StageKind::kSerialInOrder,
          [&sink](Chunk& c) { return sink.write(c.data, c.len); }};
}

Status finish_mac(kernels::HmacSha256& mac, const std::array<uint8_t, kLayerHmacLen>& expected,
                  bool released) {
  uint8_t computed[kLayerHmacLen];
  kernels::ScopedWipe wipe(computed, sizeof computed);
  if (!mac.final(computed, sizeof computed)) return Internal("HMAC-SHA256 final failed");
  if (kernels::constant_time_equal(computed, expected.data(), kLayerHmacLen)) return Status::Ok();
  return IntegrityError(
      std::string("layer integrity check failed: HMAC-SHA256 of the encrypted blob is ") +
      hex(computed, sizeof computed) + ", the layer's pubopts expect " +
      hex(expected.data(), expected.size()) +
      "; the blob is corrupt, truncated or tampered with, or the options belong to another "
      "blob" +
      (released ? "; the plaintext already written is unverified and must be discarded"
                : "; no plaintext was released"));
}

}  // namespace

StatusOr<LayerDecryptResult> decrypt_layer(ByteSource& source, ByteSink& sink,
                                           const LayerKey& key,
                                           const std::array<uint8_t, kLayerHmacLen>& expected_hmac,
                                           const LayerDecryptOptions& options) {
  LC_RETURN_IF_ERROR(check_key(key));
  kernels::AesCtr256 ctr(key.symkey.data(), key.symkey.size(), key.nonce.data(), key.nonce.size());
  if (!ctr.ok()) return Internal("AES-256-CTR key setup failed");
  kernels::HmacSha256 mac;
  if (!mac.init(key.symkey.data(), key.symkey.size())) return Internal("HMAC-SHA256 key setup failed");

  LayerDecryptResult result;
  if (options.policy == ReleasePolicy::kStream) {
    const std::vector<Stage> stages = {hmac_stage(mac), ctr_stage(ctr), write_stage(sink)};
    LC_RETURN_IF_ERROR(run_pipeline(source, stages, options.pipeline, &result.decrypt_stats));
    result.bytes = result.decrypt_stats.bytes;
    LC_RETURN_IF_ERROR(finish_mac(mac, expected_hmac, result.bytes != 0));
    return result;
  }

  // Verify first. Pass 1 MACs the ciphertext (and spools it if the source
  // cannot be read twice); pass 2 decrypts the same bytes and writes them.
  ByteSource* second = &source;
  std::unique_ptr<Spool> spool;
  std::unique_ptr<ByteSource> spool_source;
  std::vector<Stage> verify = {hmac_stage(mac)};
  if (!source.can_rewind()) {
    spool = std::make_unique<Spool>(options.spool_memory_limit);
    verify.push_back({"spool", StageKind::kSerialInOrder,
                      [&spool](Chunk& c) { return spool->write(c.data, c.len); }});
  }
  LC_RETURN_IF_ERROR(run_pipeline(source, verify, options.pipeline, &result.verify_stats));
  LC_RETURN_IF_ERROR(finish_mac(mac, expected_hmac, false));

  if (spool) {
    result.spooled = true;
    result.spool_spilled = spool->spilled();
    spool_source = spool->source();
    second = spool_source.get();
  } else {
    LC_RETURN_IF_ERROR(source.rewind());
  }
  const std::vector<Stage> decrypt = {ctr_stage(ctr), write_stage(sink)};
  LC_RETURN_IF_ERROR(run_pipeline(*second, decrypt, options.pipeline, &result.decrypt_stats));
  // The second pass must see exactly the bytes the first pass verified (a
  // regular file could have been changed in between).
  if (result.decrypt_stats.bytes != result.verify_stats.bytes)
    return IntegrityError("the layer changed between the MAC check and decryption (" +
                          std::to_string(result.verify_stats.bytes) + " bytes verified, " +
                          std::to_string(result.decrypt_stats.bytes) +
                          " read back); do not modify the blob while it is being decrypted");
  result.bytes = result.decrypt_stats.bytes;
  return result;
}

StatusOr<LayerEncryptResult> encrypt_layer(ByteSource& source, ByteSink& sink, const LayerKey& key,
                                           const PipelineOptions& options) {
  LC_RETURN_IF_ERROR(check_key(key));
  kernels::AesCtr256 ctr(key.symkey.data(), key.symkey.size(), key.nonce.data(), key.nonce.size());
  if (!ctr.ok()) return Internal("AES-256-CTR key setup failed");
  kernels::HmacSha256 mac;
  if (!mac.init(key.symkey.data(), key.symkey.size())) return Internal("HMAC-SHA256 key setup failed");
  kernels::Sha256 plain_sha, cipher_sha;
  if (!plain_sha.ok() || !cipher_sha.ok()) return Internal("SHA-256 setup failed");

  LayerEncryptResult result;
  const std::vector<Stage> stages = {sha256_stage("sha256-in", plain_sha), ctr_stage(ctr),
                                     hmac_stage(mac), sha256_stage("sha256-out", cipher_sha),
                                     write_stage(sink)};
  LC_RETURN_IF_ERROR(run_pipeline(source, stages, options, &result.stats));
  result.bytes = result.stats.bytes;
  if (!mac.final(result.hmac.data(), result.hmac.size()) ||
      !plain_sha.final(result.plain_sha256.data(), result.plain_sha256.size()) ||
      !cipher_sha.final(result.cipher_sha256.data(), result.cipher_sha256.size()))
    return Internal("finishing the layer digests failed");
  return result;
}

StatusOr<LayerKey> new_layer_key() {
  LayerKey key;
  key.symkey.resize(kLayerKeyLen);
  key.nonce.resize(kLayerNonceLen);
  if (RAND_priv_bytes(key.symkey.data(), static_cast<int>(key.symkey.size())) != 1 ||
      RAND_bytes(key.nonce.data(), static_cast<int>(key.nonce.size())) != 1)
    return Internal("the OS random number generator failed");
  return key;
}

}  // namespace layercrypt
