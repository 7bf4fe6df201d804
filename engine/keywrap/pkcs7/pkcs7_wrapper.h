// engine/keywrap/pkcs7/pkcs7_wrapper.h: the `pkcs7` scheme as a KeyWrapper
// (pkcs7.h does the work: smallstep's EnvelopedData, RSA PKCS#1 v1.5 key
// transport, AES-128-GCM). Opening a blob needs the private key and the
// recipient certificate, as in Go.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PKCS7_PKCS7_WRAPPER_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PKCS7_PKCS7_WRAPPER_H_

#include "engine/keywrap/key_wrapper.h"

namespace layercrypt {

// pkcs7_key_wrapper returns the shared, stateless `pkcs7` wrapper.
const KeyWrapper& pkcs7_key_wrapper();

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PKCS7_PKCS7_WRAPPER_H_
