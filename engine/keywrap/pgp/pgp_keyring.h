// engine/keywrap/pgp/pgp_keyring.h: OpenPGP keyrings and the `pgp` blob,
// through librnp (in-process; docs/pgp.md says why not GPGME).
//
// Recipient matching is Go ocicrypt's (spec §B.1): every user id of every
// key in the public keyring is read as Go's mail.ParseAddress reads it
// ("Name <addr>", "addr", a quoted name, comments dropped), and a recipient
// matches a key when it equals the name or the address exactly. A user id
// that is not an address is skipped (Go aborts the whole wrap on it).
//
// The blob is what Go writes: one PKESK v3 per recipient key, to the
// newest encryption-capable subkey valid now (the primary key if it has
// none and may encrypt itself), then SEIPD v1 with MDC, AES-256, no
// compression, literal data holding the private options.
//
// Keyrings may be binary or ASCII-armored (Go reads binary only). librnp
// copies key material into its own memory, which it does not wipe;
// passphrases and the decrypted private options stay in wiping buffers on
// our side.
//
// Thread-safety: reentrant; each call has its own librnp context.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_KEYRING_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_KEYRING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/pgp/pgp_packets.h"
#include "engine/keywrap/recipients.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// PgpAddress is a user id as Go's mail.ParseAddress splits it.
struct PgpAddress {
  std::string name;     // "" when there is none
  std::string address;  // local@domain
};

// parse_pgp_user_id splits `uid` ("Alice Example (work) <alice@example.com>",
// "alice@example.com", "\"Example, Alice\" <alice@example.com>"), or
// returns std::nullopt when it holds no address.
std::optional<PgpAddress> parse_pgp_user_id(std::string_view uid);

// PgpKeyringKind is what a file holds, from its first packet (binary) or
// its armor header.
enum class PgpKeyringKind { kNone, kPublic, kSecret };

// pgp_keyring_kind says whether `data` looks like an OpenPGP keyring, and
// which kind; it does not check the keys (load_* below do).
PgpKeyringKind pgp_keyring_kind(std::span<const uint8_t> data);

// find_pgp_recipients returns one PgpRecipient per key in `pubring` that
// `name` matches (see the file comment), each with the key id its session
// key will be encrypted to. Errors: kDataError "keyring does not parse";
// kKeyError "no key matches recipient NAME" (with how many keys were
// searched); kKeyError when a matching key has no encryption key valid now.
StatusOr<std::vector<PgpRecipient>> find_pgp_recipients(
    std::shared_ptr<const std::vector<uint8_t>> pubring, std::string_view name);

// pgp_encrypt returns the blob for `recipients` (file comment). kKeyError
// if a recipient's key is no longer in its keyring; kInternal if librnp
// fails.
StatusOr<std::vector<uint8_t>> pgp_encrypt(std::span<const uint8_t> plain,
                                           const std::vector<PgpRecipient>& recipients);

// check_pgp_secret_keyring returns OK when `keyring` looks like a secret
// keyring: an armored private key block, or binary packets that frame
// correctly and begin with a secret key. It reads packet headers only and
// never loads librnp, so keys directories and payloads can be read for
// every layer at no cost; the keys themselves are parsed by pgp_decrypt,
// when a pgp blob needs them. kDataError "keyring does not parse";
// kKeyError "keyring has no secret key".
Status check_pgp_secret_keyring(std::span<const uint8_t> keyring);

// pgp_decrypt opens `blob` (already parsed as `message`) with the secret
// keys of `keyring`, unlocking them with `password` if they are protected.
// Errors (kKeyError, one line, never the passphrase): the message is for
// keys none of which the keyring holds (naming them); a key needs a
// passphrase and none was given; wrong passphrase for key 0x...; the
// decryption failed (e.g. a modified message). kDataError when the
// keyring does not parse.
StatusOr<kernels::SecretBytes> pgp_decrypt(std::span<const uint8_t> blob, const PgpMessage& message,
                                           std::span<const uint8_t> keyring,
                                           const std::optional<kernels::SecretBytes>& password);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_KEYRING_H_
