// tests/engine/keywrap/pgp_packets_test.cc: the OpenPGP packet stream of a
// pgp blob (engine/keywrap/pgp/pgp_packets.h): both header formats, partial
// lengths only where allowed, message structure, removing PKESKs byte for
// byte.
#include "engine/keywrap/pgp/pgp_packets.h"

#include <gtest/gtest.h>

#include <vector>

namespace layercrypt {
namespace {

using Bytes = std::vector<uint8_t>;

// pkesk_body is a PKESK v3 body for key id 01..08 with RSA and a short MPI.
Bytes pkesk_body(uint8_t last_id_byte) {
  return {3, 1, 2, 3, 4, 5, 6, 7, last_id_byte, 1, 0, 8, 0xab};
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes new_packet(uint8_t tag, const Bytes& body) {
  Bytes out = {static_cast<uint8_t>(0xc0 | tag), static_cast<uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes old_packet(uint8_t tag, const Bytes& body) {  // one-octet length
  Bytes out = {static_cast<uint8_t>(0x80 | (tag << 2)), static_cast<uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

const Bytes kSeipd = new_packet(18, {1, 0xde, 0xad, 0xbe, 0xef});

TEST(PgpPacketsTest, ReadsPkesksOfBothHeaderFormats) {
  const Bytes blob = cat({old_packet(1, pkesk_body(8)), new_packet(1, pkesk_body(9)), kSeipd});
  auto m = parse_pgp_message(blob);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->pkesks.size(), 2u);
  EXPECT_EQ(m->data_tag, 18);
  EXPECT_EQ(m->pkesks[0].version, 3);
  EXPECT_EQ(m->pkesks[0].algorithm, 1);
  EXPECT_EQ(pgp_key_id_hex(m->pkesks[0].key_id), "0x0102030405060708");
  EXPECT_EQ(pgp_key_id_hex(m->pkesks[1].key_id), "0x0102030405060709");
  EXPECT_EQ(m->packets.size(), 3u);
  EXPECT_EQ(m->packets[2].offset, 30u);
  EXPECT_EQ(m->packets[2].size, kSeipd.size());
}

TEST(PgpPacketsTest, LongLengths) {
  Bytes body(300, 0x55);
  body[0] = 1;
  // two-octet new length: 300 = ((192 - 192) << 8) + 108 + 192
  Bytes two = {0xd2, 192, 108};
  two.insert(two.end(), body.begin(), body.end());
  // five-octet new length
  Bytes five = {0xd2, 255, 0, 0, 1, 44};
  five.insert(five.end(), body.begin(), body.end());
  // old format, two-octet length
  Bytes old2 = {0x80 | (9 << 2) | 1, 1, 44};  // old headers have 4-bit tags: SED
  old2.insert(old2.end(), body.begin(), body.end());
  for (const Bytes& data : {two, five, old2}) {
    const Bytes blob = cat({new_packet(1, pkesk_body(1)), data});
    auto m = parse_pgp_message(blob);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->packets[1].size, data.size());
  }
}

TEST(PgpPacketsTest, PartialLengthsOnlyOnDataPackets) {
  // SEIPD in chunks: 2^1 = 2 bytes partial, then a final 3-byte chunk (Go
  // streams its packets this way).
  const Bytes partial = {0xd2, 0xe1, 1, 0xaa, 3, 0xbb, 0xcc, 0xdd};
  auto m = parse_pgp_message(cat({new_packet(1, pkesk_body(1)), partial}));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->packets[1].size, partial.size());
  // A partial length on a PKESK is refused.
  Bytes bad_pkesk = {0xc1, 0xe1, 3, 1};
  bad_pkesk.push_back(11);
  for (int i = 0; i < 11; ++i) bad_pkesk.push_back(static_cast<uint8_t>(i));
  auto b = parse_pgp_message(cat({bad_pkesk, kSeipd}));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("partial length on a non-data packet"), std::string::npos);
  // A partial chain that never ends is truncated.
  EXPECT_FALSE(parse_pgp_message(cat({new_packet(1, pkesk_body(1)), {0xd2, 0xe1, 1, 2}})).ok());
}

TEST(PgpPacketsTest, IndeterminateLengthOnlyLast) {
  const Bytes blob = cat({old_packet(1, pkesk_body(1)), {0x80 | (9 << 2) | 3, 1, 2, 3, 4}});
  auto m = parse_pgp_message(blob);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->packets[1].size, 5u);
  EXPECT_FALSE(parse_pgp_packets(Bytes{0x80 | (1 << 2) | 3, 3, 1}).ok());
}

TEST(PgpPacketsTest, RejectsWhatIsNotOneEncryptedMessage) {
  const Bytes pk = new_packet(1, pkesk_body(1));
  EXPECT_FALSE(parse_pgp_message({}).ok());
  EXPECT_FALSE(parse_pgp_message(pk).ok());                                       // no data packet
  EXPECT_FALSE(parse_pgp_message(cat({pk, kSeipd, pk})).ok());                    // data after it
  EXPECT_FALSE(parse_pgp_message(cat({pk, kSeipd, kSeipd})).ok());                // two of them
  EXPECT_FALSE(parse_pgp_message(cat({new_packet(2, {4, 0}), kSeipd})).ok());     // a signature
  EXPECT_FALSE(parse_pgp_message(Bytes{0x00, 0x01}).ok());                        // not a header
  EXPECT_FALSE(parse_pgp_message(Bytes{'{', '"'}).ok());                          // JSON, say
  EXPECT_FALSE(parse_pgp_message(cat({new_packet(1, {3, 1, 2}), kSeipd})).ok());  // short PKESK
  // Every truncation of a good message fails, none crashes.
  const Bytes good = cat({pk, kSeipd});
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(parse_pgp_message(std::span<const uint8_t>(good.data(), n)).ok()) << n;
  // A length past the end.
  EXPECT_FALSE(parse_pgp_message(Bytes{0xc1, 50, 3}).ok());
  EXPECT_FALSE(parse_pgp_message(Bytes{0xc1, 255, 0xff, 0xff, 0xff, 0xff, 3}).ok());
}

TEST(PgpPacketsTest, RemoveKeepsEveryOtherByte) {
  const Bytes a = old_packet(1, pkesk_body(1));
  const Bytes b = new_packet(1, pkesk_body(2));
  const Bytes c = new_packet(1, pkesk_body(3));
  const Bytes blob = cat({a, b, c, kSeipd});
  auto out = remove_pgp_recipients(blob, {1});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ(**out, cat({a, c, kSeipd}));
  out = remove_pgp_recipients(blob, {0, 2});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(**out, cat({b, kSeipd}));
  out = remove_pgp_recipients(blob, {0, 1, 2});
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->has_value());
  out = remove_pgp_recipients(blob, {7});  // nothing at 7: unchanged
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(**out, blob);
  EXPECT_FALSE(remove_pgp_recipients(Bytes{1, 2, 3}, {0}).ok());
}

TEST(PgpPacketsTest, Names) {
  EXPECT_EQ(pgp_algorithm_name(1), "RSA");
  EXPECT_EQ(pgp_algorithm_name(18), "ECDH");
  EXPECT_EQ(pgp_algorithm_name(99), "algorithm 99");
  EXPECT_EQ(pgp_key_id_hex({0xab, 0, 0, 0, 0, 0, 0, 0xff}), "0xab000000000000ff");
}

}  // namespace
}  // namespace layercrypt
