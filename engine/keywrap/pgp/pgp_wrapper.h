// engine/keywrap/pgp/pgp_wrapper.h: the `pgp` scheme as a KeyWrapper
// (spec §B.1): the private options encrypted as one OpenPGP message to
// every recipient key (pgp_keyring.h), annotation
// org.opencontainers.image.enc.keys.pgp.
//
// Recipients are keys of a public keyring matched by name or email address
// (Recipients::pgp); unwrapping tries each OpenPGP secret keyring
// (PreparedKeys::pgp_keyrings) in order, with its passphrase. A blob's
// recipients are its PKESK packets, named "pgp:0x<key id>" as ctr-enc shows
// them; taking one off drops its packet and keeps every other byte
// (pgp_packets.h), so no key is needed.
//
// Errors are one line and name the cause: no key matches recipient X; the
// message is for keys 0x... none of which is held; wrong passphrase for key
// 0x...; the keyring has no secret key or does not parse. A passphrase is
// never in a message.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_WRAPPER_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_WRAPPER_H_

#include "engine/keywrap/key_wrapper.h"

namespace layercrypt {

// pgp_key_wrapper returns the shared, stateless `pgp` wrapper.
const KeyWrapper& pgp_key_wrapper();

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_WRAPPER_H_
