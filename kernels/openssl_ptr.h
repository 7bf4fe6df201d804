// kernels/openssl_ptr.h: owning pointers to OpenSSL objects.
//
// What: one deleter per OpenSSL type, OpensslDeleter<T>, and
// UniquePtr<T> = std::unique_ptr<T, OpensslDeleter<T>> (the pattern of
// BoringSSL's bssl::UniquePtr). Kernels and engine code own OpenSSL objects
// through UniquePtr<T> instead of declaring their own deleters, so each type
// is freed the same way everywhere.
//
// Semantics: a UniquePtr<T> holds one reference (or one allocation) and
// releases it with T's free function when it is reset or destroyed; null is
// never passed to the free function. Only the types listed below have a
// deleter; UniquePtr<T> of any other type does not compile, so a new type
// needs its specialisation here (declaration) and in openssl_ptr.cc.
//
// Secrets:
//   * BIGNUM is freed with BN_clear_free, which wipes the digits before
//     freeing. It costs a memset on public numbers and is right for secret
//     ones, so it is the one deleter for every BIGNUM.
//   * OSSL_PARAM arrays are freed with OSSL_PARAM_free, which does not wipe
//     the values. An array that holds key material (e.g. from
//     EVP_PKEY_todata) is owned by ClearingParamPtr instead, whose deleter
//     cleanses every value first. unique_ptr allows one deleter per
//     UniquePtr<T>, hence the separate type.
//   * char and unsigned char are OpenSSL allocations (PEM_read_bio names and
//     bodies, i2d output) freed with OPENSSL_free, which does not wipe; free
//     secret bytes with OPENSSL_clear_free by hand.
//
// The deleters are defined out of line so this header needs only
// <openssl/types.h>. Thread-safety: as std::unique_ptr; the free functions
// are thread-safe for distinct objects.
#ifndef LAYERCRYPT_KERNELS_OPENSSL_PTR_H_
#define LAYERCRYPT_KERNELS_OPENSSL_PTR_H_

#include <openssl/types.h>

#include <memory>

// <openssl/x509.h> declares X509_SIG; <openssl/types.h> does not.
typedef struct X509_sig_st X509_SIG;

namespace layercrypt::kernels {

// OpensslDeleter<T> frees one T; specialised below for each type the tree
// owns.
template <typename T>
struct OpensslDeleter;

// LAYERCRYPT_OPENSSL_DELETER(T) declares OpensslDeleter<T>; openssl_ptr.cc
// defines it with the free function named beside each line.
#define LAYERCRYPT_OPENSSL_DELETER(T)     \
  template <>                             \
  struct OpensslDeleter<T> {              \
    void operator()(T* p) const noexcept; \
  }
LAYERCRYPT_OPENSSL_DELETER(BIO);                  // BIO_free
LAYERCRYPT_OPENSSL_DELETER(EVP_PKEY);             // EVP_PKEY_free
LAYERCRYPT_OPENSSL_DELETER(EVP_PKEY_CTX);         // EVP_PKEY_CTX_free
LAYERCRYPT_OPENSSL_DELETER(EVP_CIPHER_CTX);       // EVP_CIPHER_CTX_free
LAYERCRYPT_OPENSSL_DELETER(EVP_KDF);              // EVP_KDF_free
LAYERCRYPT_OPENSSL_DELETER(EVP_KDF_CTX);          // EVP_KDF_CTX_free
LAYERCRYPT_OPENSSL_DELETER(X509);                 // X509_free
LAYERCRYPT_OPENSSL_DELETER(X509_SIG);             // X509_SIG_free
LAYERCRYPT_OPENSSL_DELETER(PKCS8_PRIV_KEY_INFO);  // PKCS8_PRIV_KEY_INFO_free
LAYERCRYPT_OPENSSL_DELETER(BIGNUM);               // BN_clear_free, for every BIGNUM (see above)
LAYERCRYPT_OPENSSL_DELETER(BN_CTX);               // BN_CTX_free
LAYERCRYPT_OPENSSL_DELETER(OSSL_PARAM_BLD);       // OSSL_PARAM_BLD_free
LAYERCRYPT_OPENSSL_DELETER(OSSL_PARAM);           // OSSL_PARAM_free, no wiping (ClearingParamPtr)
LAYERCRYPT_OPENSSL_DELETER(char);                 // OPENSSL_free
LAYERCRYPT_OPENSSL_DELETER(unsigned char);        // OPENSSL_free
#undef LAYERCRYPT_OPENSSL_DELETER

// UniquePtr<T> owns one OpenSSL T.
template <typename T>
using UniquePtr = std::unique_ptr<T, OpensslDeleter<T>>;

// ClearingParamDeleter cleanses the data of every element of an OSSL_PARAM
// array (up to the terminating element) and then frees the array with
// OSSL_PARAM_free. For arrays that hold private keys.
struct ClearingParamDeleter {
  void operator()(OSSL_PARAM* params) const noexcept;
};
using ClearingParamPtr = std::unique_ptr<OSSL_PARAM, ClearingParamDeleter>;

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_OPENSSL_PTR_H_
