// engine/keywrap/pgp/rnp_library.h: librnp, loaded on first use.
//
// librnp pulls in Botan, json-c, sqlite and more: loading it costs about
// 18 million instructions (callgrind, Debian 12's librnp 0.16.3), several
// milliseconds at every start of a process linked with it. The decoder
// starts once per layer and most layers have no PGP recipient, so the
// engine does not link librnp: the pgp scheme reaches it through the table
// below, filled with dlopen("librnp.so.0") and dlsym the first time a PGP
// blob or key is handled (the gRPC client module of provider/grpc_client.h
// is loaded the same way).
//
// LAYERCRYPT_RNP_LIBRARY, when set, names another file to load (tests use
// it to check the error a node without librnp0 gets).
//
// The pgp sources include rnp_calls.h after every other header; it maps
// each rnp_* name they call to the table, so they read as plain librnp
// code. When the library cannot be loaded, every entry is a stub that
// fails: functions returning rnp_result_t return RNP_ERROR_NOT_IMPLEMENTED
// and rnp_result_to_string() returns why the library could not be loaded,
// so the scheme's usual error path names the cause in one line.
//
// LC_RNP_FUNCTIONS lists every function the scheme calls, and rnp_calls.h
// maps the same names; a call to any other does not link, since nothing
// links librnp.
//
// Thread-safety: rnp() may be called from any thread; the load happens
// once.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PGP_RNP_LIBRARY_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PGP_RNP_LIBRARY_H_

#include <rnp/rnp.h>

#include <string>

// clang-format off
#define LC_RNP_FUNCTIONS(X) \
  X(rnp_buffer_destroy) \
  X(rnp_decrypt) \
  X(rnp_ffi_create) \
  X(rnp_ffi_destroy) \
  X(rnp_ffi_set_pass_provider) \
  X(rnp_get_public_key_count) \
  X(rnp_get_secret_key_count) \
  X(rnp_identifier_iterator_create) \
  X(rnp_identifier_iterator_destroy) \
  X(rnp_identifier_iterator_next) \
  X(rnp_input_destroy) \
  X(rnp_input_from_memory) \
  X(rnp_key_allows_usage) \
  X(rnp_key_get_creation) \
  X(rnp_key_get_keyid) \
  X(rnp_key_get_subkey_at) \
  X(rnp_key_get_subkey_count) \
  X(rnp_key_get_uid_at) \
  X(rnp_key_get_uid_count) \
  X(rnp_key_handle_destroy) \
  X(rnp_key_have_secret) \
  X(rnp_key_is_primary) \
  X(rnp_key_is_protected) \
  X(rnp_key_is_valid) \
  X(rnp_key_lock) \
  X(rnp_key_unlock) \
  X(rnp_load_keys) \
  X(rnp_locate_key) \
  X(rnp_op_encrypt_add_recipient) \
  X(rnp_op_encrypt_create) \
  X(rnp_op_encrypt_destroy) \
  X(rnp_op_encrypt_execute) \
  X(rnp_op_encrypt_set_aead) \
  X(rnp_op_encrypt_set_armor) \
  X(rnp_op_encrypt_set_cipher) \
  X(rnp_op_encrypt_set_compression) \
  X(rnp_op_encrypt_set_file_mtime) \
  X(rnp_op_encrypt_set_file_name) \
  X(rnp_output_destroy) \
  X(rnp_output_memory_get_buf) \
  X(rnp_output_to_callback) \
  X(rnp_output_to_memory) \
  X(rnp_result_to_string)
// clang-format on

namespace layercrypt::pgp_internal {

// RnpFunctions holds one pointer per function of LC_RNP_FUNCTIONS, named
// like the function.
struct RnpFunctions {
#define LC_RNP_POINTER(f) decltype(&::f) f;
  LC_RNP_FUNCTIONS(LC_RNP_POINTER)
#undef LC_RNP_POINTER
};

// rnp returns the table: librnp's functions, or the failing stubs when the
// library could not be loaded. Never fails.
const RnpFunctions& rnp();

// rnp_loaded returns true if librnp was loaded (loading it if needed).
bool rnp_loaded();

// rnp_load_error says why librnp could not be loaded ("" if it was).
const std::string& rnp_load_error();

}  // namespace layercrypt::pgp_internal

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PGP_RNP_LIBRARY_H_
