/*
 * bridge.h: the C half of the Go binding. Each lcgo_* function makes one
 * lc_* call and, on failure, copies lc_last_error() into *err (release with
 * free) in the same cgo call, so the message is read on the thread that
 * failed. Streams are Go objects behind runtime/cgo handles; their read and
 * write callbacks go through the trampolines in bridge.c.
 */
#ifndef LAYERCRYPT_GO_BRIDGE_H_
#define LAYERCRYPT_GO_BRIDGE_H_

#include <stddef.h>
#include <stdint.h>

#include "layercrypt.h"

/* lcgo_has_plain_digest reports whether the loaded library has
 * lc_layer_plain_digest (proposed; see README.md), looked up with dlsym. */
int lcgo_has_plain_digest(void);

lc_status lcgo_encrypt_config_add_recipient(lc_encrypt_config* config, const char* recipient,
                                            char** err);
lc_status lcgo_encrypt_config_add_recipient_key(lc_encrypt_config* config, const char* scheme,
                                                const uint8_t* key, size_t key_len, char** err);
lc_status lcgo_encrypt_config_set_gpg_pubring_data(lc_encrypt_config* config,
                                                   const uint8_t* pubring, size_t pubring_len,
                                                   char** err);
lc_status lcgo_encrypt_config_set_compression(lc_encrypt_config* config, const char* compression,
                                              char** err);
lc_status lcgo_encrypt_config_set_pkcs11_policy(lc_encrypt_config* config, const uint8_t* yaml,
                                                size_t yaml_len, char** err);
lc_status lcgo_decrypt_config_set_pkcs11_policy(lc_decrypt_config* config, const uint8_t* yaml,
                                                size_t yaml_len, char** err);
lc_status lcgo_decrypt_config_set_keyprovider_config(lc_decrypt_config* config, const char* path,
                                                     uint32_t timeout_ms, char** err);
lc_status lcgo_decrypt_config_add_provider(lc_decrypt_config* config, const char* key, char** err);
lc_status lcgo_decrypt_config_add_key(lc_decrypt_config* config, const uint8_t* key, size_t key_len,
                                      const uint8_t* password, size_t password_len, char** err);
lc_status lcgo_check_layer_keys(const lc_decrypt_config* config, const char* descriptor_json,
                                char** err);
lc_status lcgo_layer_plain_digest(const lc_decrypt_config* config, const char* descriptor_json,
                                  char** digest_out, char** err);
lc_status lcgo_add_recipients(const lc_decrypt_config* keys, const lc_encrypt_config* recipients,
                              const char* descriptor_json, char** descriptor_out, char** err);
/* in and out are runtime/cgo handles of the Go stream. */
lc_status lcgo_encrypt_layer(const lc_encrypt_config* config, const char* media_type, uintptr_t in,
                             uintptr_t out, lc_layer** layer, char** err);
lc_status lcgo_decrypt_layer(const lc_decrypt_config* config, const char* descriptor_json,
                             uintptr_t in, uintptr_t out, unsigned flags, lc_layer** layer,
                             char** err);

#endif /* LAYERCRYPT_GO_BRIDGE_H_ */
