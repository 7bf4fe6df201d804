// engine/keywrap/pkcs11/pkcs11_wrapper.h: the `pkcs11` scheme as a
// KeyWrapper (spec §B.2): RSA-OAEP of the private options, one blob entry
// per recipient (pkcs11_blob.h), for RSA keys held in PKCS#11 tokens.
//
// Wrapping is done in software with OpenSSL, for both kinds of recipient:
// a plain RSA public key (`pkcs11:pub.pem`), and a token key
// (`pkcs11:key.yaml`), whose public key add_recipient reads from the token
// once (CKA_MODULUS, CKA_PUBLIC_EXPONENT of the CKO_PUBLIC_KEY the URI
// names). Go encrypts in the token for the latter; the ciphertext is the
// same kind either way, and reading the public key once keeps token I/O
// out of the per-layer path. The hash is OCICRYPT_OAEP_HASHALG's (SHA-256
// by default, sha1 for tokens such as SoftHSM 2.6 that only do SHA-1 OAEP).
//
// Unwrapping happens inside the token: for each key YAML its module is
// resolved under the module policy (pkcs11_key.h; a module outside it is
// refused before it is loaded), module.env is set around the module's use
// (under a process-wide lock, as Go does), a session is opened on the
// token (slot-id, or the token label), the user logs in with the PIN, the
// CKO_PRIVATE_KEY the URI names is found and C_Decrypt with
// CKM_RSA_PKCS_OAEP is tried on every recipient of the blob (an empty hash
// meaning SHA-1); the private key never leaves the token.
//
// Errors are one line, name the cause (module not allowed, no such token,
// wrong PIN, key not found) and never hold a PIN.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_WRAPPER_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_WRAPPER_H_

#include "engine/keywrap/key_wrapper.h"
#include "engine/keywrap/pkcs11/pkcs11_key.h"

namespace layercrypt {

// pkcs11_key_wrapper returns the shared, stateless `pkcs11` wrapper.
const KeyWrapper& pkcs11_key_wrapper();

// pkcs11_token_public_key returns the RSA public key of the key pair
// `key` names, read from its token (module resolved under `policy`,
// module.env set meanwhile; the user is logged in first when the URI has a
// PIN). Errors: those of resolve_pkcs11_module; kKeyError naming the
// cause for a module that does not load, a missing token, a wrong PIN, no
// (or more than one) public key object, a key that is not RSA.
StatusOr<PublicKey> pkcs11_token_public_key(const Pkcs11KeyFile& key,
                                            const Pkcs11ModulePolicy& policy);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PKCS11_PKCS11_WRAPPER_H_
