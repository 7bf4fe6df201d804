// engine/keywrap/pgp/pgp_packets.h: the OpenPGP packet stream of a `pgp`
// blob (RFC 4880 §4), read without an OpenPGP library so that describing a
// blob, listing its recipients and taking some of them off need no keys.
//
// A blob as Go ocicrypt writes it (spec §B.1) is one binary OpenPGP message:
//
//   PKESK v3 (tag 1) x recipients      version 3 | key id (8) | algorithm | MPIs
//   SEIPD v1 (tag 18)                  encrypted: literal data + MDC
//
// parse_pgp_message accepts old and new packet headers; partial body lengths
// only for the packets that may have them (literal, compressed and
// encrypted data: tags 8, 9, 11, 18, 20), an old header's indeterminate
// length only for the last packet. The message must be zero or more
// session-key packets (PKESK tag 1, SKESK tag 3, marker tag 10) followed by
// exactly one encrypted data packet (tag 9, 18 or 20) and nothing after it;
// anything else is kDataError naming the offset. The input is untrusted:
// every length is checked against what is left (fuzzed by
// tests/fuzz/pgp_blob_fuzz.cc).
//
// Thread-safety: all functions are reentrant.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_PACKETS_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_PACKETS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/core/status.h"

namespace layercrypt {

// PgpPacket is one packet of a stream: its tag and where it lies, header
// included (for partial lengths, every chunk).
struct PgpPacket {
  uint8_t tag = 0;
  size_t offset = 0;  // of the first header byte
  size_t size = 0;    // header and body bytes, through the last chunk
};

// PgpPkesk is a public-key encrypted session key packet (tag 1).
struct PgpPkesk {
  size_t packet = 0;                // its index in PgpMessage::packets
  uint8_t version = 0;              // 3 (RFC 4880); others are listed but have no key id
  std::array<uint8_t, 8> key_id{};  // all zero: a wildcard ("speculative") recipient
  uint8_t algorithm = 0;            // 1 RSA, 16 ElGamal, 18 ECDH, ...
};

// PgpMessage is the structure of one encrypted OpenPGP message.
struct PgpMessage {
  std::vector<PgpPacket> packets;
  std::vector<PgpPkesk> pkesks;  // in stream order
  uint8_t data_tag = 0;          // the encrypted data packet's tag
};

// parse_pgp_packets splits `data` into packets (see the file comment for
// which lengths are allowed). kDataError for an empty input, a header that
// does not parse or a length that runs past the end.
StatusOr<std::vector<PgpPacket>> parse_pgp_packets(std::span<const uint8_t> data);

// parse_pgp_message parses `blob` as one encrypted message (file comment).
// kDataError if it is not one.
StatusOr<PgpMessage> parse_pgp_message(std::span<const uint8_t> blob);

// pgp_key_id_hex returns a key id as ctr-enc shows it, "0x" and 16
// lower-case hex digits.
std::string pgp_key_id_hex(const std::array<uint8_t, 8>& key_id);

// pgp_algorithm_name names a public-key algorithm id ("RSA", "ECDH",
// "ElGamal", or "algorithm N").
std::string pgp_algorithm_name(uint8_t algorithm);

// remove_pgp_recipients returns `blob` without the PKESK packets at the
// positions in `drop` (counting PKESKs from 0), every other byte kept as it
// was; std::nullopt when no PKESK would remain; kDataError if it does not
// parse as a message.
StatusOr<std::optional<std::vector<uint8_t>>> remove_pgp_recipients(
    std::span<const uint8_t> blob, const std::vector<size_t>& drop);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PGP_PGP_PACKETS_H_
