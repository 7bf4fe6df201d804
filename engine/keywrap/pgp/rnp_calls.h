// engine/keywrap/pgp/rnp_calls.h: maps the librnp functions the pgp scheme
// calls to the table of rnp_library.h, loaded on first use. Include it last,
// after every other header, and only in the pgp scheme's sources.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PGP_RNP_CALLS_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PGP_RNP_CALLS_H_

#include "engine/keywrap/pgp/rnp_library.h"

// clang-format off
#define rnp_buffer_destroy (::layercrypt::pgp_internal::rnp().rnp_buffer_destroy)
#define rnp_decrypt (::layercrypt::pgp_internal::rnp().rnp_decrypt)
#define rnp_ffi_create (::layercrypt::pgp_internal::rnp().rnp_ffi_create)
#define rnp_ffi_destroy (::layercrypt::pgp_internal::rnp().rnp_ffi_destroy)
#define rnp_ffi_set_pass_provider (::layercrypt::pgp_internal::rnp().rnp_ffi_set_pass_provider)
#define rnp_get_public_key_count (::layercrypt::pgp_internal::rnp().rnp_get_public_key_count)
#define rnp_get_secret_key_count (::layercrypt::pgp_internal::rnp().rnp_get_secret_key_count)
#define rnp_identifier_iterator_create (::layercrypt::pgp_internal::rnp().rnp_identifier_iterator_create)
#define rnp_identifier_iterator_destroy (::layercrypt::pgp_internal::rnp().rnp_identifier_iterator_destroy)
#define rnp_identifier_iterator_next (::layercrypt::pgp_internal::rnp().rnp_identifier_iterator_next)
#define rnp_input_destroy (::layercrypt::pgp_internal::rnp().rnp_input_destroy)
#define rnp_input_from_memory (::layercrypt::pgp_internal::rnp().rnp_input_from_memory)
#define rnp_key_allows_usage (::layercrypt::pgp_internal::rnp().rnp_key_allows_usage)
#define rnp_key_get_creation (::layercrypt::pgp_internal::rnp().rnp_key_get_creation)
#define rnp_key_get_keyid (::layercrypt::pgp_internal::rnp().rnp_key_get_keyid)
#define rnp_key_get_subkey_at (::layercrypt::pgp_internal::rnp().rnp_key_get_subkey_at)
#define rnp_key_get_subkey_count (::layercrypt::pgp_internal::rnp().rnp_key_get_subkey_count)
#define rnp_key_get_uid_at (::layercrypt::pgp_internal::rnp().rnp_key_get_uid_at)
#define rnp_key_get_uid_count (::layercrypt::pgp_internal::rnp().rnp_key_get_uid_count)
#define rnp_key_handle_destroy (::layercrypt::pgp_internal::rnp().rnp_key_handle_destroy)
#define rnp_key_have_secret (::layercrypt::pgp_internal::rnp().rnp_key_have_secret)
#define rnp_key_is_primary (::layercrypt::pgp_internal::rnp().rnp_key_is_primary)
#define rnp_key_is_protected (::layercrypt::pgp_internal::rnp().rnp_key_is_protected)
#define rnp_key_is_valid (::layercrypt::pgp_internal::rnp().rnp_key_is_valid)
#define rnp_key_lock (::layercrypt::pgp_internal::rnp().rnp_key_lock)
#define rnp_key_unlock (::layercrypt::pgp_internal::rnp().rnp_key_unlock)
#define rnp_load_keys (::layercrypt::pgp_internal::rnp().rnp_load_keys)
#define rnp_locate_key (::layercrypt::pgp_internal::rnp().rnp_locate_key)
#define rnp_op_encrypt_add_recipient (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_add_recipient)
#define rnp_op_encrypt_create (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_create)
#define rnp_op_encrypt_destroy (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_destroy)
#define rnp_op_encrypt_execute (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_execute)
#define rnp_op_encrypt_set_aead (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_set_aead)
#define rnp_op_encrypt_set_armor (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_set_armor)
#define rnp_op_encrypt_set_cipher (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_set_cipher)
#define rnp_op_encrypt_set_compression (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_set_compression)
#define rnp_op_encrypt_set_file_mtime (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_set_file_mtime)
#define rnp_op_encrypt_set_file_name (::layercrypt::pgp_internal::rnp().rnp_op_encrypt_set_file_name)
#define rnp_output_destroy (::layercrypt::pgp_internal::rnp().rnp_output_destroy)
#define rnp_output_memory_get_buf (::layercrypt::pgp_internal::rnp().rnp_output_memory_get_buf)
#define rnp_output_to_callback (::layercrypt::pgp_internal::rnp().rnp_output_to_callback)
#define rnp_output_to_memory (::layercrypt::pgp_internal::rnp().rnp_output_to_memory)
#define rnp_result_to_string (::layercrypt::pgp_internal::rnp().rnp_result_to_string)
// clang-format on

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PGP_RNP_CALLS_H_
