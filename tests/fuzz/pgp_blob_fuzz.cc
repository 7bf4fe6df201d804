// tests/fuzz/pgp_blob_fuzz.cc: hostile `keys.pgp` blobs through the OpenPGP
// packet reader (engine/keywrap/pgp/pgp_packets.h) and the pgp wrapper's
// keyless operations (describe, recipients, remove).
//
// Property: for any bytes, parse_pgp_message never crashes, trips a
// sanitizer or leaks, and either fails with a non-empty one-line message or
// returns packets that tile the input exactly (each starts where the last
// ended, the last ends at the end), whose last packet is the one encrypted
// data packet, with every PKESK pointing at a PKESK packet. Then
// recipients() lists as many entries as there are PKESKs and, when there
// is one, remove() of nothing gives the input back byte for byte, and remove() of the first
// PKESK gives a message with one PKESK fewer, or none when it was the only
// one.
//
// Input: the bytes as the blob. The corpus holds blobs as Go (skopeo 1.9.3)
// and librnp write them, and hand-made headers of every length form.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "engine/keywrap/key_wrapper.h"
#include "engine/keywrap/pgp/pgp_packets.h"

namespace {

void check_message(const std::string& m) {
  if (m.empty() || m.find('\n') != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layercrypt;
  const std::span<const uint8_t> in(data, size);
  (void)parse_pgp_packets(in);
  auto m = parse_pgp_message(in);
  if (!m.ok()) {
    check_message(m.status().message());
    return 0;
  }
  size_t at = 0;
  for (const PgpPacket& p : m->packets) {
    if (p.offset != at || p.size == 0) std::abort();
    at += p.size;
  }
  if (at != size || m->packets.empty() || m->packets.back().tag != m->data_tag) std::abort();
  for (const PgpPkesk& k : m->pkesks)
    if (k.packet >= m->packets.size() || m->packets[k.packet].tag != 1) std::abort();

  const KeyWrapper* w = find_key_wrapper("pgp");
  if (w == nullptr) std::abort();
  auto rs = w->recipients(in);
  if (!rs.ok() || rs->size() != m->pkesks.size()) std::abort();
  auto d = w->describe(in);
  if (!d.ok()) std::abort();
  if (m->pkesks.empty()) return 0;  // nothing to keep or take off
  auto same = w->remove(in, {});
  if (!same.ok() || !*same || **same != std::vector<uint8_t>(in.begin(), in.end())) std::abort();
  auto fewer = w->remove(in, {0});
  if (!fewer.ok()) std::abort();
  if (m->pkesks.size() == 1) {
    if (fewer->has_value()) std::abort();
    return 0;
  }
  if (!fewer->has_value()) std::abort();
  auto again = parse_pgp_message(**fewer);
  if (!again.ok() || again->pkesks.size() != m->pkesks.size() - 1) std::abort();
  return 0;
}
