// engine/core/layer_key.h: the layer key of the ocicrypt cipher and its
// sizes, the one place they are defined.
//
// AES_256_CTR_HMAC_SHA256 (ocicrypt spec §1): a 32-byte key used both for
// AES-256-CTR and for HMAC-SHA256 over the ciphertext, a 16-byte initial
// counter block (the "nonce" of the private options), a 32-byte MAC in the
// public options. The stream folder encrypts with it, the ocicrypt folder
// reads and writes it in the options JSON, the keywrap folder unwraps it:
// a plain value type here, so that none of them depends on another for it.
#ifndef LAYERCRYPT_ENGINE_CORE_LAYER_KEY_H_
#define LAYERCRYPT_ENGINE_CORE_LAYER_KEY_H_

#include <cstddef>

#include "kernels/secure_memory.h"

namespace layercrypt {

// kLayerCipherName is the pubopts "cipher" value of the only ocicrypt cipher.
inline constexpr const char* kLayerCipherName = "AES_256_CTR_HMAC_SHA256";
inline constexpr size_t kLayerKeyLen = 32;
inline constexpr size_t kLayerNonceLen = 16;
inline constexpr size_t kLayerHmacLen = 32;

// LayerKey is the secret half of a layer's options: key and nonce, in
// wiping memory.
struct LayerKey {
  kernels::SecretBytes symkey;  // kLayerKeyLen bytes
  kernels::SecretBytes nonce;   // kLayerNonceLen bytes
};

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_LAYER_KEY_H_
