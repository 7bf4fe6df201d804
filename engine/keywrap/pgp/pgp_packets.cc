// engine/keywrap/pgp/pgp_packets.cc: see pgp_packets.h.
#include "engine/keywrap/pgp/pgp_packets.h"

#include <algorithm>

namespace layercrypt {
namespace {

constexpr uint8_t kTagPkesk = 1;
constexpr uint8_t kTagSkesk = 3;
constexpr uint8_t kTagSed = 9;
constexpr uint8_t kTagMarker = 10;
constexpr uint8_t kTagSeipd = 18;
constexpr uint8_t kTagAead = 20;

// may_be_partial says whether packets with `tag` may use partial body
// lengths (RFC 4880 §4.2.2.4: data packets only).
bool may_be_partial(uint8_t tag) {
  return tag == 8 || tag == 9 || tag == 11 || tag == 18 || tag == 20;
}

Status bad(size_t offset, const std::string& why) {
  return DataError("OpenPGP packet at byte " + std::to_string(offset) + ": " + why);
}

uint32_t be(std::span<const uint8_t> d, size_t at, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | d[at + i];
  return v;
}

// read_packet reads the packet at `pos`; on success sets *out (tag, offset,
// size) and the body's first byte and length for the single-chunk case
// (*body, *body_len; a partial body's first chunk only).
Status read_packet(std::span<const uint8_t> d, size_t pos, PgpPacket* out, size_t* body,
                   size_t* body_len) {
  const size_t left = d.size() - pos;
  const uint8_t h = d[pos];
  if ((h & 0x80) == 0) return bad(pos, "not a packet header");
  out->offset = pos;
  if ((h & 0x40) == 0) {  // old format: tag in bits 5..2, length type in 1..0
    out->tag = (h >> 2) & 0x0f;
    const uint8_t lt = h & 3;
    if (lt == 3) {  // indeterminate: to the end of the input
      if (!may_be_partial(out->tag)) return bad(pos, "indeterminate length on a non-data packet");
      *body = pos + 1;
      *body_len = left - 1;
      out->size = left;
      return Status::Ok();
    }
    const size_t n = lt == 0 ? 1 : lt == 1 ? 2 : 4;
    if (left < 1 + n) return bad(pos, "truncated header");
    const uint64_t len = be(d, pos + 1, n);
    if (len > left - 1 - n) return bad(pos, "length runs past the end");
    *body = pos + 1 + n;
    *body_len = static_cast<size_t>(len);
    out->size = 1 + n + *body_len;
    return Status::Ok();
  }
  out->tag = h & 0x3f;
  size_t at = pos + 1;
  bool first = true;
  for (;;) {  // one chunk per round; only partial lengths go round again
    if (at >= d.size()) return bad(pos, "truncated header");
    const uint8_t l0 = d[at];
    uint64_t len = 0;
    size_t hdr = 1;
    bool partial = false;
    if (l0 < 192) {
      len = l0;
    } else if (l0 < 224) {
      if (d.size() - at < 2) return bad(pos, "truncated header");
      len = ((static_cast<uint64_t>(l0) - 192) << 8) + d[at + 1] + 192;
      hdr = 2;
    } else if (l0 == 255) {
      if (d.size() - at < 5) return bad(pos, "truncated header");
      len = be(d, at + 1, 4);
      hdr = 5;
    } else {
      if (!may_be_partial(out->tag)) return bad(pos, "partial length on a non-data packet");
      len = uint64_t{1} << (l0 & 0x1f);
      partial = true;
    }
    if (len > d.size() - at - hdr) return bad(pos, "length runs past the end");
    if (first) {
      *body = at + hdr;
      *body_len = static_cast<size_t>(len);
      first = false;
    }
    at += hdr + static_cast<size_t>(len);
    if (!partial) break;
  }
  out->size = at - pos;
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<PgpPacket>> parse_pgp_packets(std::span<const uint8_t> data) {
  if (data.empty()) return DataError("empty OpenPGP data");
  std::vector<PgpPacket> out;
  for (size_t pos = 0; pos < data.size();) {
    PgpPacket p;
    size_t body = 0, body_len = 0;
    LC_RETURN_IF_ERROR(read_packet(data, pos, &p, &body, &body_len));
    pos += p.size;
    out.push_back(p);
  }
  return out;
}

StatusOr<PgpMessage> parse_pgp_message(std::span<const uint8_t> blob) {
  if (blob.empty()) return DataError("empty OpenPGP message");
  PgpMessage m;
  for (size_t pos = 0; pos < blob.size();) {
    PgpPacket p;
    size_t body = 0, body_len = 0;
    LC_RETURN_IF_ERROR(read_packet(blob, pos, &p, &body, &body_len));
    if (m.data_tag != 0) return bad(pos, "data after the encrypted data packet");
    if (p.tag == kTagPkesk) {
      if (body_len < 1) return bad(pos, "empty public-key encrypted session key packet");
      PgpPkesk k;
      k.packet = m.packets.size();
      k.version = blob[body];
      if (k.version == 3) {
        if (body_len < 10) return bad(pos, "truncated public-key encrypted session key packet");
        std::copy_n(blob.begin() + static_cast<std::ptrdiff_t>(body + 1), 8, k.key_id.begin());
        k.algorithm = blob[body + 9];
      }
      m.pkesks.push_back(k);
    } else if (p.tag == kTagSed || p.tag == kTagSeipd || p.tag == kTagAead) {
      m.data_tag = p.tag;
    } else if (p.tag != kTagSkesk && p.tag != kTagMarker) {
      return bad(pos,
                 "unexpected packet (tag " + std::to_string(p.tag) + ") in an encrypted message");
    }
    m.packets.push_back(p);
    pos += p.size;
  }
  if (m.data_tag == 0) return DataError("OpenPGP message has no encrypted data packet");
  return m;
}

std::string pgp_key_id_hex(const std::array<uint8_t, 8>& key_id) {
  static const char kHex[] = "0123456789abcdef";
  std::string s = "0x";
  for (uint8_t b : key_id) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

std::string pgp_algorithm_name(uint8_t algorithm) {
  switch (algorithm) {
    case 1:
    case 2:
      return "RSA";
    case 16:
      return "ElGamal";
    case 18:
      return "ECDH";
    case 25:
      return "X25519";
    case 26:
      return "X448";
    default:
      return "algorithm " + std::to_string(algorithm);
  }
}

StatusOr<std::optional<std::vector<uint8_t>>> remove_pgp_recipients(
    std::span<const uint8_t> blob, const std::vector<size_t>& drop) {
  LC_ASSIGN_OR_RETURN(PgpMessage m, parse_pgp_message(blob));
  std::vector<bool> dropped(m.packets.size(), false);
  size_t kept = 0;
  for (size_t i = 0; i < m.pkesks.size(); ++i) {
    if (std::find(drop.begin(), drop.end(), i) != drop.end())
      dropped[m.pkesks[i].packet] = true;
    else
      ++kept;
  }
  if (kept == 0) return std::optional<std::vector<uint8_t>>();
  std::vector<uint8_t> out;
  out.reserve(blob.size());
  for (size_t i = 0; i < m.packets.size(); ++i) {
    if (dropped[i]) continue;
    const auto first = blob.begin() + static_cast<std::ptrdiff_t>(m.packets[i].offset);
    out.insert(out.end(), first, first + static_cast<std::ptrdiff_t>(m.packets[i].size));
  }
  return std::optional<std::vector<uint8_t>>(std::move(out));
}

}  // namespace layercrypt
