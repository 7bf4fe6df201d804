// engine/keywrap/jwe/jwe_wrapper.h: the `jwe` scheme as a KeyWrapper
// (jwe.h does the work: go-jose's JSON, RSA-OAEP and ECDH-ES+A*KW).
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_JWE_JWE_WRAPPER_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_JWE_JWE_WRAPPER_H_

#include "engine/keywrap/key_wrapper.h"

namespace layercrypt {

// jwe_key_wrapper returns the shared, stateless `jwe` wrapper.
const KeyWrapper& jwe_key_wrapper();

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_JWE_JWE_WRAPPER_H_
