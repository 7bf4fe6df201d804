/* bridge.c: see bridge.h. */
#include "bridge.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h"

/* ---- stream trampolines --------------------------------------------------- */

static int64_t read_cb(void *ctx, uint8_t *buf, size_t cap) {
  return lcgoRead((uintptr_t)ctx, buf, cap);
}

static int write_cb(void *ctx, const uint8_t *buf, size_t len) {
  return lcgoWrite((uintptr_t)ctx, (uint8_t *)buf, len);
}

static lc_reader go_reader(uintptr_t h) {
  lc_reader r = {(void *)h, read_cb};
  return r;
}

static lc_writer go_writer(uintptr_t h) {
  lc_writer w = {(void *)h, write_cb};
  return w;
}

/* ---- errors ------------------------------------------------------------- */

static lc_status done(lc_status st, char **err) {
  if (st != LC_OK && err != NULL) *err = strdup(lc_last_error());
  return st;
}

/* ---- optional functions --------------------------------------------------- */

/* lc_layer_plain_digest is a proposed addition (README.md); until the
 * library has it, DecryptLayer returns "" for the digest, as ocicrypt 1.0.3
 * does. Looked up once, so the binding runs with and without it. */
typedef lc_status (*plain_digest_fn)(const lc_decrypt_config *, const char *, char **);

static plain_digest_fn plain_digest_ptr;
static pthread_once_t lookup_once = PTHREAD_ONCE_INIT;

static void lookup(void) {
  plain_digest_ptr = (plain_digest_fn)dlsym(RTLD_DEFAULT, "lc_layer_plain_digest");
}

static plain_digest_fn plain_digest(void) {
  pthread_once(&lookup_once, lookup);
  return plain_digest_ptr;
}

int lcgo_has_plain_digest(void) { return plain_digest() != NULL; }

/* ---- calls -------------------------------------------------------------- */

lc_status lcgo_encrypt_config_add_recipient(lc_encrypt_config *config, const char *recipient,
                                            char **err) {
  return done(lc_encrypt_config_add_recipient(config, recipient), err);
}

lc_status lcgo_encrypt_config_add_recipient_key(lc_encrypt_config *config, const char *scheme,
                                                const uint8_t *key, size_t key_len, char **err) {
  return done(lc_encrypt_config_add_recipient_key(config, scheme, key, key_len), err);
}

lc_status lcgo_encrypt_config_set_gpg_pubring_data(lc_encrypt_config *config, const uint8_t *pubring,
                                                   size_t pubring_len, char **err) {
  return done(lc_encrypt_config_set_gpg_pubring_data(config, pubring, pubring_len), err);
}

lc_status lcgo_encrypt_config_set_compression(lc_encrypt_config *config, const char *compression,
                                              char **err) {
  return done(lc_encrypt_config_set_compression(config, compression), err);
}

lc_status lcgo_encrypt_config_set_pkcs11_policy(lc_encrypt_config *config, const uint8_t *yaml,
                                                size_t yaml_len, char **err) {
  return done(lc_encrypt_config_set_pkcs11_policy(config, yaml, yaml_len), err);
}

lc_status lcgo_decrypt_config_set_pkcs11_policy(lc_decrypt_config *config, const uint8_t *yaml,
                                                size_t yaml_len, char **err) {
  return done(lc_decrypt_config_set_pkcs11_policy(config, yaml, yaml_len), err);
}

lc_status lcgo_decrypt_config_set_keyprovider_config(lc_decrypt_config *config, const char *path,
                                                     uint32_t timeout_ms, char **err) {
  return done(lc_decrypt_config_set_keyprovider_config(config, path, timeout_ms), err);
}

lc_status lcgo_decrypt_config_add_provider(lc_decrypt_config *config, const char *key, char **err) {
  return done(lc_decrypt_config_add_provider(config, key), err);
}

lc_status lcgo_decrypt_config_add_key(lc_decrypt_config *config, const uint8_t *key,
                                      size_t key_len, const uint8_t *password,
                                      size_t password_len, char **err) {
  return done(lc_decrypt_config_add_key(config, key, key_len, password, password_len), err);
}

lc_status lcgo_check_layer_keys(const lc_decrypt_config *config, const char *descriptor_json,
                                char **err) {
  return done(lc_check_layer_keys(config, descriptor_json), err);
}

lc_status lcgo_layer_plain_digest(const lc_decrypt_config *config, const char *descriptor_json,
                                  char **digest_out, char **err) {
  plain_digest_fn fn = plain_digest();
  if (fn == NULL) {
    *err = strdup("liblayercrypt lacks lc_layer_plain_digest");
    return LC_ERR_UNSUPPORTED;
  }
  return done(fn(config, descriptor_json, digest_out), err);
}

lc_status lcgo_add_recipients(const lc_decrypt_config *keys, const lc_encrypt_config *recipients,
                              const char *descriptor_json, char **descriptor_out, char **err) {
  return done(lc_add_recipients(keys, recipients, descriptor_json, descriptor_out), err);
}

lc_status lcgo_encrypt_layer(const lc_encrypt_config *config, const char *media_type,
                             uintptr_t in, uintptr_t out, lc_layer **layer, char **err) {
  return done(lc_encrypt_layer(config, media_type, go_reader(in), go_writer(out), layer), err);
}

lc_status lcgo_decrypt_layer(const lc_decrypt_config *config, const char *descriptor_json,
                             uintptr_t in, uintptr_t out, unsigned flags, lc_layer **layer,
                             char **err) {
  return done(lc_decrypt_layer(config, descriptor_json, go_reader(in), go_writer(out), flags, layer),
              err);
}
