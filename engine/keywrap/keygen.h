// engine/keywrap/keygen.h: generating a recipient key pair and writing it to disk.
//
// `layercrypt keygen` makes the key pair a user needs to encrypt an image for
// themselves: a private key for `--key` / a keys directory, and a public key
// for `jwe:` recipients. Both are written in the forms every ocicrypt reader
// accepts (spec §3): the private key as unencrypted PKCS#8 PEM
// (`BEGIN PRIVATE KEY`, which Go's ParsePrivateKey and ours both read for RSA
// and EC), the public key as SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`,
// which Go's IsPublicKey accepts for `jwe:`).
//
// Keys come from OpenSSL 3 (EVP_PKEY_Q_keygen: RSA with e = 65537, EC on the
// named NIST curves). The private PEM is handed back in kernels::SecretBytes;
// the OpenSSL memory BIO it was written to is wiped before it is freed.
//
// For `pkcs7:` recipients, make_self_signed_certificate adds an X.509
// certificate for an RSA key (ocicrypt's pkcs7 transports the content key
// with RSA PKCS#1 v1.5 to a recipient named by issuer and serial number, and
// decryption needs the key and this certificate together).
//
// write_key_files publishes each file atomically: it writes a temporary file
// in the target directory, fsyncs it, and renames it into place (without
// replacing an existing file unless asked to), so a reader or a crash never
// sees a half-written key. The private key file is 0600, the public key and
// the certificate 0644, whatever the umask.
//
// Thread-safety: all functions are reentrant.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_KEYGEN_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_KEYGEN_H_

#include <string>
#include <string_view>

#include "engine/core/status.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// KeyType is the algorithm and size of a key to generate.
enum class KeyType { kRsa2048, kRsa3072, kRsa4096, kEcP256, kEcP384, kEcP521 };

// key_type_name returns the spec parse_key_type accepts for `type`:
// "rsa:2048", "rsa:3072", "rsa:4096", "ec:p256", "ec:p384" or "ec:p521".
const char* key_type_name(KeyType type);

// parse_key_type parses a key type spec: "rsa:2048", "rsa:3072", "rsa:4096",
// "ec:p256", "ec:p384", "ec:p521", or the short forms "rsa" (= rsa:4096) and
// "ec" (= ec:p256); ASCII case is ignored. Returns the type, or
// kInvalidArgument whose message lists the accepted values.
StatusOr<KeyType> parse_key_type(std::string_view spec);

// GeneratedKey is a freshly generated key pair in PEM form, and optionally a
// self-signed certificate for it.
struct GeneratedKey {
  kernels::SecretBytes private_pem;  // unencrypted PKCS#8, "BEGIN PRIVATE KEY"
  std::string public_pem;            // SubjectPublicKeyInfo, "BEGIN PUBLIC KEY"
  std::string certificate_pem;       // "" or X.509 "BEGIN CERTIFICATE" (see below)
};

// generate_key generates a key pair of `type`. Returns it, or kInternal if
// OpenSSL fails (the message carries OpenSSL's reason, never key bytes).
StatusOr<GeneratedKey> generate_key(KeyType type);

// CertificateOptions are the choices in a self-signed recipient certificate.
struct CertificateOptions {
  std::string subject_cn = "layercrypt recipient";  // subject and issuer CN, 1..64 bytes of UTF-8
  int days = 3650;                                  // validity from now, 1..36500
};

// make_self_signed_certificate returns a PEM ("BEGIN CERTIFICATE") X.509 v3
// certificate for the RSA key in key.private_pem, signed by that key: subject
// = issuer = CN=options.subject_cn, a random positive 16-byte serial number,
// valid from now for options.days days, SHA-256 with RSA, critical
// basicConstraints CA:FALSE and critical keyUsage keyEncipherment. Put it in
// key.certificate_pem to have write_key_files write it; it is what a
// `pkcs7:` recipient names, and decrypting needs it with the private key.
// Failures: kInvalidArgument if the key is not RSA (the message says pkcs7
// needs RSA and how to generate an RSA key), or for an empty or over-long
// CN or days outside 1..36500; kDataError if key.private_pem does not
// parse; kInternal if OpenSSL fails. Messages never contain key material.
StatusOr<std::string> make_self_signed_certificate(const GeneratedKey& key,
                                                   const CertificateOptions& options = {});

// write_key_files writes key.private_pem to `out_base` + ".pem" (mode 0600),
// key.public_pem to `out_base` + ".pub.pem" (mode 0644) and, if
// key.certificate_pem is not empty, that to `out_base` + ".crt.pem" (mode
// 0644). Each file is written to a hidden temporary file in the same
// directory, fsynced and renamed into place; the directory is fsynced
// afterwards.
//
// Without `overwrite`, nothing is written if any of the files already exists
// (kInvalidArgument naming the file and saying "use --force to overwrite"),
// and the final rename never replaces a file that appeared meanwhile (it
// uses renameat2(RENAME_NOREPLACE), or link(2) on file systems without it);
// if a later file cannot be published, the files this call created are
// removed again, so the call writes all of the files or none.
// With `overwrite`, each existing file is replaced atomically; an error
// after the first rename is reported with a message that names the files
// already replaced and says they no longer match.
//
// Other failures: kInvalidArgument if `out_base` names no file (empty or
// ends in '/') or a target is a directory; kIoError naming the path for any
// failed system call (missing directory, permission, disk full). Temporary
// files are removed on every error path. Reentrant; two concurrent calls
// for the same `out_base` without `overwrite` never replace each other's
// files (one of them fails).
Status write_key_files(const GeneratedKey& key, const std::string& out_base, bool overwrite);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_KEYGEN_H_
