/*
 * layercrypt.h: the C API of liblayercrypt, for builders that embed the
 * engine (Go through cgo, Python through pybind11, or any C caller).
 *
 * layercrypt encrypts and decrypts OCI image layers in the ocicrypt format
 * (byte-compatible with Go's containers/ocicrypt, skopeo, buildah, ctr-enc
 * and containerd's decoders). This header is the whole public interface of
 * the shared library; everything else in it is hidden.
 *
 * Conventions (docs/api-conventions.md):
 *  - Every function that can fail returns an lc_status. LC_OK is 0. On
 *    failure, lc_last_error() returns one line (no newline) naming the
 *    cause; it is kept per thread until the next call into this library on
 *    that thread. Messages never contain key material.
 *  - Objects are opaque handles made by X_new and released by X_free;
 *    X_free(NULL) does nothing. Out-parameters are written only on LC_OK.
 *  - Strings in and out are NUL-terminated UTF-8. Strings the library
 *    returns through `char **` are the caller's, released with lc_free.
 *  - No C++ exception crosses this interface; an allocation failure is
 *    LC_ERR_INTERNAL.
 *  - Thread safety: a handle may be used by one thread at a time, except
 *    that a config handle (lc_encrypt_config, lc_decrypt_config) that is no
 *    longer being changed may be used by any number of operations on any
 *    threads at once. Functions without a handle are thread-safe.
 *  - Secrets: keys and passwords handed to the library are copied into
 *    memory that is wiped when the config is freed; the caller wipes its
 *    own copies.
 *  - Decryption releases no unverified plaintext by default: nothing is
 *    written to the output before the layer's HMAC over the whole blob has
 *    verified (see LC_DECRYPT_STREAM for the alternative).
 *
 * Recipients are spelled as the CLI and skopeo spell them: "jwe:FILE" (a
 * public key, PEM/DER/JWK), "pkcs7:FILE" (an X.509 certificate),
 * "pkcs11:FILE" (a PKCS#11 key YAML or an RSA public key),
 * "pgp:NAME_OR_EMAIL" (a key of the OpenPGP public keyring set first), or
 * "FILE" (the scheme its content selects). Keys for decryption are private
 * key files (PEM, DER, JWK; encrypted ones with a password), for pkcs7 the
 * certificate, OpenPGP secret keyrings (with their passphrase) and PKCS#11
 * key YAMLs (the key stays in its token).
 */
#ifndef LAYERCRYPT_H_
#define LAYERCRYPT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LC_EXPORT __attribute__((visibility("default")))
#else
#define LC_EXPORT
#endif

/* The C API's version: changes to this header bump it (added functions:
 * minor; changed or removed ones: major, with a new SONAME). */
#define LC_API_VERSION_MAJOR 0
#define LC_API_VERSION_MINOR 7

typedef enum lc_status {
  LC_OK = 0,
  LC_ERR_INVALID_ARGUMENT = 1, /* a NULL or malformed argument, a bad spelling */
  LC_ERR_DATA = 2,             /* malformed input: JSON, base64, a key file, a blob */
  LC_ERR_INTEGRITY = 3,        /* a MAC or digest did not match: tampered or corrupt */
  LC_ERR_KEY = 4,              /* no key opens the layer; a wrong password */
  LC_ERR_UNSUPPORTED = 5,      /* a scheme, cipher or media type layercrypt lacks */
  LC_ERR_IO = 6,               /* reading or writing a file failed */
  LC_ERR_CALLBACK = 7,         /* a reader or writer callback reported an error */
  LC_ERR_INTERNAL = 8          /* out of memory, or a bug */
} lc_status;

/* lc_last_error returns the message of the last failed call on this
 * thread ("" if none). Valid until the next call into the library on this
 * thread. */
LC_EXPORT const char* lc_last_error(void);

/* lc_status_name returns a constant name such as "LC_ERR_KEY". */
LC_EXPORT const char* lc_status_name(lc_status status);

/* lc_free releases a string or buffer the library returned. NULL is a
 * no-op. */
LC_EXPORT void lc_free(void* p);

/* lc_api_version returns the LC_API_VERSION_MAJOR and _MINOR the library
 * was built with, to check at run time that the header a caller was
 * compiled with is not newer than the library it loaded. */
LC_EXPORT void lc_api_version(int* major, int* minor);

/* lc_version returns the library's version ("0.1.0"). */
LC_EXPORT const char* lc_version(void);

/* lc_cpu_paths returns, one per line, the CPU code paths in use (AES-CTR,
 * HMAC-SHA256, SHA-256, deflate, CRC); constant for the process. */
LC_EXPORT const char* lc_cpu_paths(void);

/* ---- streams -------------------------------------------------------------- */

/* lc_reader supplies bytes: read() copies up to `cap` bytes into `buf` and
 * returns how many, 0 at the end of the stream, or -1 on an error (the
 * operation then fails with LC_ERR_CALLBACK). It may return fewer than
 * `cap` before the end.
 *
 * Threads: the operation's pipeline calls read() and write() from its own
 * worker threads, not necessarily the caller's, and possibly read() and
 * write() at the same time on two threads; but never read() (or write())
 * twice at once, and every call returns before the operation does. */
typedef struct lc_reader {
  void* ctx;
  int64_t (*read)(void* ctx, uint8_t* buf, size_t cap);
} lc_reader;

/* lc_writer takes bytes: write() consumes all `len` bytes and returns 0,
 * or returns non-zero on an error (the operation stops and fails with
 * LC_ERR_CALLBACK; what was written before is the caller's to discard).
 * Threads: as for lc_reader. */
typedef struct lc_writer {
  void* ctx;
  int (*write)(void* ctx, const uint8_t* buf, size_t len);
} lc_writer;

/* lc_fd_reader / lc_fd_writer make a reader or writer over a file
 * descriptor the caller keeps open (and closes). Such a reader cannot be
 * read twice: to decrypt from a regular file without spooling it, use
 * lc_decrypt_layer_fd. */
LC_EXPORT lc_reader lc_fd_reader(int* fd);
LC_EXPORT lc_writer lc_fd_writer(int* fd);

/* ---- configs -------------------------------------------------------------- */

typedef struct lc_encrypt_config lc_encrypt_config;

LC_EXPORT lc_encrypt_config* lc_encrypt_config_new(void);
LC_EXPORT void lc_encrypt_config_free(lc_encrypt_config* config);

/* lc_encrypt_config_add_recipient adds a recipient spelled as the CLI
 * spells it ("jwe:FILE", "pkcs7:FILE", "FILE", "pgp:NAME_OR_EMAIL"),
 * reading FILE now. A pgp recipient is looked up in the keyring of
 * lc_encrypt_config_set_gpg_pubring, which must be set first
 * (LC_ERR_KEY when there is none or no key matches). */
LC_EXPORT lc_status lc_encrypt_config_add_recipient(lc_encrypt_config* config,
                                                    const char* recipient);

/* lc_encrypt_config_set_gpg_pubring reads the OpenPGP public keyring
 * (binary, e.g. `gpg --export`, or armored) that later pgp:NAME recipients
 * are looked up in. LC_ERR_IO if it cannot be read; LC_ERR_UNSUPPORTED in
 * builds without the pgp scheme. (Since API 0.6.) */
LC_EXPORT lc_status lc_encrypt_config_set_gpg_pubring(lc_encrypt_config* config, const char* path);

/* lc_encrypt_config_set_gpg_pubring_data is lc_encrypt_config_set_gpg_pubring
 * with the keyring given as bytes (copied), as Go ocicrypt's
 * gpg-pubkeyringfile parameter holds it; `pubring` may be NULL only when
 * `pubring_len` is 0 (an empty keyring, in which no pgp recipient is found).
 * Recipients already added keep the keyring they were found in.
 * LC_ERR_UNSUPPORTED in builds without the pgp scheme. (Since API 0.7.) */
LC_EXPORT lc_status lc_encrypt_config_set_gpg_pubring_data(lc_encrypt_config* config,
                                                           const uint8_t* pubring,
                                                           size_t pubring_len);

/* lc_encrypt_config_add_recipient_key adds a recipient given as bytes: a
 * public key (PEM, DER SubjectPublicKeyInfo or JWK) for scheme "jwe", an
 * X.509 certificate (PEM or DER) for "pkcs7", or either with scheme NULL
 * or "" (the content selects the scheme). */
LC_EXPORT lc_status lc_encrypt_config_add_recipient_key(lc_encrypt_config* config,
                                                        const char* scheme, const uint8_t* key,
                                                        size_t key_len);

/* lc_encrypt_config_set_compression makes encrypting an uncompressed tar
 * compress it in the same pass: "none" (default), "gzip", "gzip:LEVEL"
 * (0-3), "zstd", "zstd:LEVEL" (1-19). Compressed layers are encrypted as
 * they are. */
LC_EXPORT lc_status lc_encrypt_config_set_compression(lc_encrypt_config* config,
                                                      const char* compression);

typedef struct lc_decrypt_config lc_decrypt_config;

LC_EXPORT lc_decrypt_config* lc_decrypt_config_new(void);
LC_EXPORT void lc_decrypt_config_free(lc_decrypt_config* config);

/* lc_decrypt_config_add_key adds a private key (or, for pkcs7, a
 * certificate) given as bytes: PEM, DER or JWK, or an OpenPGP secret
 * keyring (binary or armored); `password` (may be NULL) opens an encrypted
 * key or the keyring's protected keys. The bytes are copied into wiping
 * memory. A PKCS#11 key YAML is taken too (since API 0.6; no password: its
 * PIN is in its URI), under the config's module policy (see "PKCS#11
 * tokens" below); a key YAML with a bad URI is LC_ERR_INVALID_ARGUMENT. */
LC_EXPORT lc_status lc_decrypt_config_add_key(lc_decrypt_config* config, const uint8_t* key,
                                              size_t key_len, const uint8_t* password,
                                              size_t password_len);

/* lc_decrypt_config_add_key_file reads a key or certificate file;
 * `password` may be NULL. */
LC_EXPORT lc_status lc_decrypt_config_add_key_file(lc_decrypt_config* config, const char* path,
                                                   const char* password);

/* lc_decrypt_config_add_keys_dir adds every usable key and certificate
 * under `dir` (recursively, as containerd's --decryption-keys-path), PKCS#11
 * key YAMLs included (since API 0.6); unusable files are skipped. Fails if
 * `dir` cannot be read or holds no usable key. */
LC_EXPORT lc_status lc_decrypt_config_add_keys_dir(lc_decrypt_config* config, const char* dir);

/* ---- key providers (docs/keyproviders.md) --------------------------------- */

/* A "provider:NAME[:PARAMS]" recipient (lc_encrypt_config_add_recipient) or
 * key (lc_decrypt_config_add_provider) goes to the key provider NAME of
 * ocicrypt's config file. Which file: the one set here (`path`; NULL = the
 * file OCICRYPT_KEYPROVIDER_CONFIG names), else, when the first provider
 * recipient or key is added, the one OCICRYPT_KEYPROVIDER_CONFIG names (Go
 * ocicrypt reads it once at start). `timeout_ms` bounds every provider call
 * (0: 30 s). A malformed file, or a `path` that does not exist, is
 * LC_ERR_DATA / LC_ERR_IO naming the file and member. A decrypt config
 * whose providers are set calls each of them for its provider.NAME blobs
 * even without a provider key (as Go does); one without calls none.
 * (Since API 0.5.) */
LC_EXPORT lc_status lc_encrypt_config_set_keyprovider_config(lc_encrypt_config* config,
                                                             const char* path, uint32_t timeout_ms);
LC_EXPORT lc_status lc_decrypt_config_set_keyprovider_config(lc_decrypt_config* config,
                                                             const char* path, uint32_t timeout_ms);

/* lc_decrypt_config_add_provider adds "provider:NAME[:PARAMS]": PARAMS
 * (or "Enabled") is sent to provider NAME, and only to it, when it unwraps
 * (ctr-enc's --key provider:NAME:PARAMS). (Since API 0.5.) */
LC_EXPORT lc_status lc_decrypt_config_add_provider(lc_decrypt_config* config, const char* key);

/* ---- PKCS#11 tokens (docs/pkcs11.md) -------------------------------------- */

/* A "pkcs11:FILE" recipient, a PKCS#11 key YAML given to
 * lc_decrypt_config_add_key(_file) or found by lc_decrypt_config_add_keys_dir
 * loads its token's module only if the module policy allows it. Which
 * policy: the one set here, else, when the first pkcs11 recipient or key
 * YAML is added, OCICRYPT_CONFIG's (found as Go ocicrypt finds it; none is
 * LC_ERR_KEY "no ocicrypt config file was found ..."). Set it before adding
 * recipients: a recipient's public key is read from its token when added.
 *
 * lc_encrypt_config_set_pkcs11_config / lc_decrypt_config_set_pkcs11_config
 * take `config_path` as OCICRYPT_CONFIG takes it: "internal" (the built-in
 * policy), an ocicrypt config file (its pkcs11 section: module-directories,
 * allowed-module-paths), or NULL for OCICRYPT_CONFIG's. A missing or
 * unreadable file is LC_ERR_IO, a malformed one LC_ERR_DATA, naming it.
 * lc_encrypt_config_set_pkcs11_policy / lc_decrypt_config_set_pkcs11_policy
 * take the policy itself as YAML bytes, the bare map (module-directories,
 * allowed-module-paths) Go ocicrypt marshals into its pkcs11-config
 * parameter. LC_ERR_UNSUPPORTED in a build without the pkcs11 scheme.
 * (Since API 0.6.) */
LC_EXPORT lc_status lc_encrypt_config_set_pkcs11_config(lc_encrypt_config* config,
                                                        const char* config_path);
LC_EXPORT lc_status lc_decrypt_config_set_pkcs11_config(lc_decrypt_config* config,
                                                        const char* config_path);
LC_EXPORT lc_status lc_encrypt_config_set_pkcs11_policy(lc_encrypt_config* config,
                                                        const uint8_t* yaml, size_t yaml_len);
LC_EXPORT lc_status lc_decrypt_config_set_pkcs11_policy(lc_decrypt_config* config,
                                                        const uint8_t* yaml, size_t yaml_len);

/* ---- one layer ------------------------------------------------------------ */

/* lc_layer is the outcome of encrypting or decrypting one layer. */
typedef struct lc_layer lc_layer;

LC_EXPORT void lc_layer_free(lc_layer* layer);

/* After encryption: the new descriptor as JSON, {"mediaType","digest",
 * "size","annotations"} (the +encrypted media type, the encrypted blob's
 * digest and size, the ocicrypt annotations). After decryption: the
 * plaintext blob's media type, digest and size (no annotations). Owned by
 * the lc_layer. */
LC_EXPORT const char* lc_layer_descriptor_json(const lc_layer* layer);
/* The layer's diff_id (sha256 of the tar), or "" when it was not computed
 * (a compressed layer passed through as it is). */
LC_EXPORT const char* lc_layer_diff_id(const lc_layer* layer);
/* The media type, digest and size from the descriptor, for convenience. */
LC_EXPORT const char* lc_layer_media_type(const lc_layer* layer);
LC_EXPORT const char* lc_layer_digest(const lc_layer* layer);
LC_EXPORT uint64_t lc_layer_size(const lc_layer* layer);

/* lc_encrypt_layer encrypts one layer blob of type `media_type` (an OCI or
 * Docker layer type: tar, tar+gzip, tar+zstd; NULL or "" to sniff it from
 * the first bytes) read from `in`, writing the encrypted blob to `out`,
 * for the config's recipients under a fresh key. `*layer` receives the
 * descriptor to put into the manifest. Errors: LC_ERR_INVALID_ARGUMENT (no
 * recipients, an encrypted or unknown media type, input that is no layer),
 * LC_ERR_CALLBACK, LC_ERR_IO. On error `out` may have received a partial
 * blob: discard it. */
LC_EXPORT lc_status lc_encrypt_layer(const lc_encrypt_config* config, const char* media_type,
                                     lc_reader in, lc_writer out, lc_layer** layer);

/* Flags for lc_decrypt_layer. */
#define LC_DECRYPT_STREAM                                                                    \
  1u                             /* write plaintext as it is decrypted (ctd-decoder's way):  \
                                    the HMAC is checked at the end and a failure is reported \
                                    after unverified bytes were written */
#define LC_DECRYPT_DECOMPRESS 2u /* write the layer's tar, not its (gzip/zstd) blob */

/* lc_decrypt_layer decrypts the encrypted layer blob read from `in`,
 * described by `descriptor_json` (the layer's descriptor from the
 * manifest: mediaType, digest, size, annotations), to `out`. `*layer`
 * (may be NULL) receives the plaintext's descriptor. Errors: LC_ERR_DATA (a
 * descriptor that does not parse or lacks the ocicrypt annotations),
 * LC_ERR_UNSUPPORTED (a media type that is not an encrypted layer),
 * LC_ERR_KEY (no key opens it: the message lists the layer's recipients),
 * LC_ERR_INTEGRITY (the HMAC failed: nothing was written unless
 * LC_DECRYPT_STREAM), LC_ERR_CALLBACK, LC_ERR_IO. */
LC_EXPORT lc_status lc_decrypt_layer(const lc_decrypt_config* config, const char* descriptor_json,
                                     lc_reader in, lc_writer out, unsigned flags, lc_layer** layer);

/* lc_decrypt_layer_fd is lc_decrypt_layer reading file descriptor `in_fd`
 * and writing `out_fd` (both the caller's to close). When `in_fd` is a
 * regular file it is read twice from its current offset (MAC pass, then
 * decryption) instead of being spooled; a pipe is spooled as
 * lc_decrypt_layer spools. */
LC_EXPORT lc_status lc_decrypt_layer_fd(const lc_decrypt_config* config,
                                        const char* descriptor_json, int in_fd, int out_fd,
                                        unsigned flags, lc_layer** layer);

/* ---- descriptors only (no bulk data) --------------------------------------- */

/* lc_check_layer_keys succeeds if the config's keys unwrap the layer key of
 * `descriptor_json` (ocicrypt's DecryptLayer with unwrapOnly). */
LC_EXPORT lc_status lc_check_layer_keys(const lc_decrypt_config* config,
                                        const char* descriptor_json);

/* lc_layer_plain_digest unwraps the layer key of `descriptor_json` with
 * `config`'s keys and returns through `*digest_out` (release with lc_free)
 * the plaintext blob's digest recorded in the layer's private options (""
 * if the producer recorded none): what Go ocicrypt's DecryptLayer returns,
 * before any data is read. Nothing is checked against the blob. Errors as
 * lc_check_layer_keys. */
LC_EXPORT lc_status lc_layer_plain_digest(const lc_decrypt_config* config,
                                          const char* descriptor_json, char** digest_out);

/* lc_add_recipients unwraps the layer key of `descriptor_json` with
 * `keys` and wraps it again for `recipients` too; `*descriptor_out`
 * receives the descriptor JSON with the new annotations (release with
 * lc_free). The blob, its digest and size do not change. */
LC_EXPORT lc_status lc_add_recipients(const lc_decrypt_config* keys,
                                      const lc_encrypt_config* recipients,
                                      const char* descriptor_json, char** descriptor_out);

/* ---- whole images ---------------------------------------------------------- */

/* Images are named as the CLI names them: "oci:DIR[:TAG]",
 * "oci-archive:FILE[:TAG]", or "PATH[:TAG]". The destination is written
 * whole and published atomically; on any error it is unchanged. Each
 * returns a JSON report through `report_json` (may be NULL; release with
 * lc_free), as `layercrypt encrypt --json` prints it: {"operation",
 * "source","destination","bytes","seconds","manifests":[...],"layers":
 * [{"platform","index","action","from","to","fromMediaType","toMediaType",
 * "bytes","seconds"}...],"warnings":[...]}. */
LC_EXPORT lc_status lc_encrypt_image(const lc_encrypt_config* config, const char* src,
                                     const char* dst, char** report_json);
LC_EXPORT lc_status lc_decrypt_image(const lc_decrypt_config* config, const char* src,
                                     const char* dst, char** report_json);

/* lc_layer_info returns `image`'s layers as JSON, as `layercrypt
 * layerinfo --json` prints them. */
LC_EXPORT lc_status lc_layer_info(const char* image, char** json);

#ifdef __cplusplus
}
#endif

#endif /* LAYERCRYPT_H_ */
