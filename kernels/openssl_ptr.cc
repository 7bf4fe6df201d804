// kernels/openssl_ptr.cc: see openssl_ptr.h.
#include "kernels/openssl_ptr.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/x509.h>

namespace layercrypt::kernels {

#define LAYERCRYPT_OPENSSL_DELETER(T, free_fn) \
  void OpensslDeleter<T>::operator()(T* p) const noexcept { free_fn(p); }
LAYERCRYPT_OPENSSL_DELETER(BIO, BIO_free)
LAYERCRYPT_OPENSSL_DELETER(EVP_PKEY, EVP_PKEY_free)
LAYERCRYPT_OPENSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
LAYERCRYPT_OPENSSL_DELETER(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
LAYERCRYPT_OPENSSL_DELETER(EVP_KDF, EVP_KDF_free)
LAYERCRYPT_OPENSSL_DELETER(EVP_KDF_CTX, EVP_KDF_CTX_free)
LAYERCRYPT_OPENSSL_DELETER(X509, X509_free)
LAYERCRYPT_OPENSSL_DELETER(X509_SIG, X509_SIG_free)
LAYERCRYPT_OPENSSL_DELETER(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free)
LAYERCRYPT_OPENSSL_DELETER(BIGNUM, BN_clear_free)
LAYERCRYPT_OPENSSL_DELETER(BN_CTX, BN_CTX_free)
LAYERCRYPT_OPENSSL_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free)
LAYERCRYPT_OPENSSL_DELETER(OSSL_PARAM, OSSL_PARAM_free)
LAYERCRYPT_OPENSSL_DELETER(char, OPENSSL_free)
LAYERCRYPT_OPENSSL_DELETER(unsigned char, OPENSSL_free)
#undef LAYERCRYPT_OPENSSL_DELETER

void ClearingParamDeleter::operator()(OSSL_PARAM* params) const noexcept {
  for (OSSL_PARAM* p = params; p->key != nullptr; ++p)
    if (p->data != nullptr) OPENSSL_cleanse(p->data, p->data_size);
  OSSL_PARAM_free(params);
}

}  // namespace layercrypt::kernels
