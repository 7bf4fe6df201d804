// tests/engine/keywrap/pgp_wrapper_test.cc: the pgp scheme
// (engine/keywrap/pgp/): recipient matching as Go does it, the blob as Go
// writes it, unwrapping with binary and armored secret keyrings and
// passphrases, and every refusal naming its cause. Keyrings are
// tests/vectors/pgp/ (made by make.sh there with GnuPG).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/key_wrapper.h"
#include "engine/keywrap/pgp/pgp_keyring.h"
#include "engine/keywrap/pgp/pgp_packets.h"
#include "engine/keywrap/recipients.h"

namespace layercrypt {
namespace {

// The encryption subkeys of the test keys (gpg --list-packets pubring.gpg).
constexpr const char* kAliceSub = "0xb0f98cacd6ec252e";
constexpr const char* kBobSub = "0x8ed46b7d6f9a9101";
constexpr const char* kCarolSub = "0x0a233dae5020792a";
constexpr const char* kBobPass = "bob passphrase";

std::vector<uint8_t> vec(const std::string& name) {
  std::ifstream f(std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/pgp/" + name, std::ios::binary);
  EXPECT_TRUE(f) << name;
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

kernels::SecretBytes secret(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }
kernels::SecretBytes secret(const std::string& s) { return {s.begin(), s.end()}; }

const KeyWrapper& pgp() {
  const KeyWrapper* w = find_key_wrapper("pgp");
  EXPECT_NE(w, nullptr);
  return *w;
}

Recipients with_pubring(const std::string& file = "pubring.gpg") {
  Recipients r;
  r.pgp_pubring = std::make_shared<const std::vector<uint8_t>>(vec(file));
  return r;
}

PreparedKeys keyring(const std::string& file, std::optional<std::string> pass = std::nullopt) {
  PreparedKeys k;
  std::optional<kernels::SecretBytes> pw;
  if (pass) pw = secret(*pass);
  k.pgp_keyrings.push_back({secret(vec(file)), std::move(pw), file});
  return k;
}

const std::string kPriv = R"({"symkey":"c2VjcmV0","cipheroptions":{"nonce":"bm9uY2U="}})";
std::span<const uint8_t> priv() {
  return {reinterpret_cast<const uint8_t*>(kPriv.data()), kPriv.size()};
}

std::vector<uint8_t> wrap_for(std::initializer_list<const char*> names) {
  Recipients r = with_pubring();
  for (const char* n : names) {
    const Status s = add_recipient(std::string("pgp:") + n, &r);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  auto blob = pgp().wrap(priv(), r);
  EXPECT_TRUE(blob.ok()) << blob.status().message();
  return blob.ok() ? *blob : std::vector<uint8_t>{};
}

std::string as_string(const kernels::SecretBytes& s) { return {s.begin(), s.end()}; }

TEST(PgpWrapperTest, RegisteredAfterPkcs11) {
  auto all = key_wrappers();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back()->scheme(), "pgp");
}

TEST(PgpWrapperTest, BlobIsWhatGoWrites) {
  const auto blob = wrap_for({"alice@example.com"});
  auto m = parse_pgp_message(blob);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->pkesks.size(), 1u);
  EXPECT_EQ(m->pkesks[0].version, 3);  // PKESK v3
  EXPECT_EQ(m->pkesks[0].algorithm, 1);
  EXPECT_EQ(pgp_key_id_hex(m->pkesks[0].key_id), kAliceSub);  // the encryption subkey
  EXPECT_EQ(m->data_tag, 18);                                 // SEIPD
  auto plain = pgp().unwrap(blob, keyring("alice.sec.gpg"));
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(as_string(*plain), kPriv);
}

// go-blob-alice-bob.pgp: the keys.pgp blob skopeo 1.9.3 (Go ocicrypt 1.0.3,
// x/crypto/openpgp: literal format 't', partial lengths) wrote for
// pgp:alice@example.com and pgp:bob@example.org with pubring.gpg.
TEST(PgpWrapperTest, OpensWhatGoWrote) {
  const auto blob = vec("go-blob-alice-bob.pgp");
  auto rs = pgp().recipients(blob);
  ASSERT_TRUE(rs.ok()) << rs.status().message();
  ASSERT_EQ(rs->size(), 2u);
  EXPECT_EQ((*rs)[0].id, std::string("pgp:") + kAliceSub);
  EXPECT_EQ((*rs)[1].id, std::string("pgp:") + kBobSub);
  for (const PreparedKeys& keys : {keyring("alice.sec.gpg"), keyring("bob.sec.gpg", kBobPass)}) {
    auto plain = pgp().unwrap(blob, keys);
    ASSERT_TRUE(plain.ok()) << plain.status().message();
    const std::string json = as_string(*plain);
    EXPECT_EQ(json.rfind("{\"symkey\":", 0), 0u) << json.size();
  }
  // Taking Alice off Go's blob leaves Bob's packet and the data as they were.
  auto kept = pgp().remove(blob, {0});
  ASSERT_TRUE(kept.ok());
  ASSERT_TRUE(kept->has_value());
  EXPECT_TRUE(pgp().unwrap(**kept, keyring("bob.sec.gpg", kBobPass)).ok());
  EXPECT_FALSE(pgp().unwrap(**kept, keyring("alice.sec.gpg")).ok());
}

TEST(PgpWrapperTest, UserIdsParseAsGoReadsThem) {
  auto a = parse_pgp_user_id("Alice Example <alice@example.com>");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "Alice Example");
  EXPECT_EQ(a->address, "alice@example.com");
  a = parse_pgp_user_id("Bob (work) <bob@example.org>");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "Bob");
  a = parse_pgp_user_id("\"Example, Alice\" <a@b.c>");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "Example, Alice");
  a = parse_pgp_user_id("plain@example.com");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "");
  EXPECT_EQ(a->address, "plain@example.com");
  EXPECT_FALSE(parse_pgp_user_id("Just A Name"));
  EXPECT_FALSE(parse_pgp_user_id("Name <no-at-sign>"));
}

TEST(PgpWrapperTest, RecipientMatching) {
  struct Case {
    const char* recipient;
    std::vector<std::string> key_ids;  // empty: no match
  };
  const Case cases[] = {
      {"alice@example.com", {kAliceSub}},
      {"Bob", {kBobSub}},                         // the name, comment dropped
      {"bob@example.org", {kBobSub}},             // the address
      {"Alice Example", {kAliceSub, kCarolSub}},  // a name two keys share: both
      {"Alice Example <alice@example.com>", {}},  // the whole user id is neither
      {"Bob (work)", {}},                         // nor is the comment
      {"ALICE@example.com", {}},                  // exact, not case-folded
      {"alice", {}},                              // no prefixes
      {"example.com", {}},                        // nor suffixes
  };
  for (const auto& c : cases) {
    for (const char* ring : {"pubring.gpg", "pubring.asc"}) {
      Recipients r = with_pubring(ring);
      const Status s = add_recipient(std::string("pgp:") + c.recipient, &r);
      if (c.key_ids.empty()) {
        ASSERT_FALSE(s.ok()) << c.recipient;
        EXPECT_EQ(s.code(), StatusCode::kKeyError);
        EXPECT_NE(s.message().find("no key matches pgp recipient"), std::string::npos)
            << s.message();
        EXPECT_NE(s.message().find(c.recipient), std::string::npos) << s.message();
        EXPECT_TRUE(r.pgp.empty());
        continue;
      }
      ASSERT_TRUE(s.ok()) << c.recipient << ": " << s.message();
      std::vector<std::string> ids;
      for (const auto& p : r.pgp) ids.push_back(p.key_id);
      EXPECT_EQ(ids, c.key_ids) << c.recipient << " in " << ring;
      EXPECT_EQ(r.size(), c.key_ids.size());
    }
  }
}

TEST(PgpWrapperTest, AKeyMatchedTwiceIsOneRecipient) {
  Recipients r = with_pubring();
  ASSERT_TRUE(add_recipient("pgp:alice@example.com", &r).ok());
  ASSERT_TRUE(add_recipient("pgp:Alice Example", &r).ok());  // Alice again, and Carol
  ASSERT_TRUE(add_recipient("pgp:alice@example.com", &r).ok());
  ASSERT_EQ(r.pgp.size(), 2u);
  EXPECT_EQ(r.pgp[0].key_id, kAliceSub);
  EXPECT_EQ(r.pgp[1].key_id, kCarolSub);
  auto blob = pgp().wrap(priv(), r);
  ASSERT_TRUE(blob.ok()) << blob.status().message();
  auto rs = pgp().recipients(*blob);
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(rs->size(), pgp().recipient_count(r));  // what note_recipients checks
  auto ids = pgp().recipient_ids(r);
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), rs->size());
  for (size_t i = 0; i < rs->size(); ++i) EXPECT_EQ((*ids)[i], (*rs)[i].id);
}

TEST(PgpWrapperTest, ExpiredKeyIsRefused) {
  Recipients r = with_pubring("expired.pub.gpg");
  const Status s = add_recipient("pgp:expired@example.com", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kKeyError);
  EXPECT_NE(s.message().find("has no encryption key valid now"), std::string::npos) << s.message();
  EXPECT_TRUE(r.pgp.empty());
}

TEST(PgpWrapperTest, RecipientNeedsAKeyring) {
  Recipients r;
  const Status s = add_recipient("pgp:alice@example.com", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no OpenPGP public keyring"), std::string::npos) << s.message();
  EXPECT_FALSE(add_recipient("pgp:", &r).ok());
  r.pgp_pubring = std::make_shared<const std::vector<uint8_t>>(std::vector<uint8_t>{1, 2, 3});
  const Status g = add_recipient("pgp:alice@example.com", &r);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.code(), StatusCode::kDataError);
  EXPECT_NE(g.message().find("keyring does not parse"), std::string::npos) << g.message();
}

TEST(PgpWrapperTest, SeveralRecipientsEachOpen) {
  const auto blob = wrap_for({"alice@example.com", "bob@example.org"});
  auto rs = pgp().recipients(blob);
  ASSERT_TRUE(rs.ok());
  ASSERT_EQ(rs->size(), 2u);
  EXPECT_EQ((*rs)[0].id, std::string("pgp:") + kAliceSub);
  EXPECT_EQ((*rs)[1].id, std::string("pgp:") + kBobSub);
  EXPECT_EQ((*rs)[0].alg, "RSA");
  auto d = pgp().describe(blob);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, std::string("pgp message, 2 recipients (") + kAliceSub + ", " + kBobSub + ")");
  auto a = pgp().unwrap(blob, keyring("alice.sec.gpg"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(as_string(*a), kPriv);
  auto b = pgp().unwrap(blob, keyring("bob.sec.gpg", kBobPass));
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(as_string(*b), kPriv);
}

TEST(PgpWrapperTest, ArmoredSecretKeyring) {
  const auto blob = wrap_for({"alice@example.com"});
  auto plain = pgp().unwrap(blob, keyring("alice.sec.asc"));
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(as_string(*plain), kPriv);
}

TEST(PgpWrapperTest, Passphrases) {
  const auto blob = wrap_for({"bob@example.org"});
  auto none = pgp().unwrap(blob, keyring("bob.sec.gpg"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kKeyError);
  EXPECT_NE(none.status().message().find("protected by a passphrase and none was given"),
            std::string::npos)
      << none.status().message();
  const std::string wrong = "not the passphrase 7f3a";
  auto bad = pgp().unwrap(blob, keyring("bob.sec.gpg", wrong));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(std::string("wrong passphrase for key ") + kBobSub),
            std::string::npos)
      << bad.status().message();
  EXPECT_EQ(bad.status().message().find(wrong), std::string::npos);
  EXPECT_EQ(bad.status().message().find('\n'), std::string::npos);
  auto good = pgp().unwrap(blob, keyring("bob.sec.gpg", kBobPass));
  ASSERT_TRUE(good.ok()) << good.status().message();
}

TEST(PgpWrapperTest, MessageForAnotherKey) {
  const auto blob = wrap_for({"alice@example.com"});
  auto r = pgp().unwrap(blob, keyring("carol.sec.gpg"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find(std::string("the message is for key ") + kAliceSub +
                                      ", none of which the keyring holds"),
            std::string::npos)
      << r.status().message();
  // The next keyring still gets its turn.
  PreparedKeys two = keyring("carol.sec.gpg");
  two.pgp_keyrings.push_back(keyring("alice.sec.gpg").pgp_keyrings[0]);
  auto ok = pgp().unwrap(blob, two);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
}

TEST(PgpWrapperTest, KeyringsThatCannotDecrypt) {
  const Status pub = check_pgp_secret_keyring(vec("pubring.gpg"));
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.code(), StatusCode::kKeyError);
  EXPECT_NE(pub.message().find("keyring has no secret key"), std::string::npos) << pub.message();
  const std::vector<uint8_t> garbage = {0x99, 0x01, 0x02, 0x03};
  const Status g = check_pgp_secret_keyring(garbage);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.code(), StatusCode::kDataError);
  EXPECT_TRUE(check_pgp_secret_keyring(vec("alice.sec.gpg")).ok());
  EXPECT_TRUE(check_pgp_secret_keyring(vec("alice.sec.asc")).ok());

  // prepare_decrypt_keys keeps only keyrings with secret keys and says why.
  DecryptKeys raw;
  raw.pgp_keyrings = {secret(vec("pubring.gpg")), secret(vec("alice.sec.gpg"))};
  raw.pgp_keyring_names = {"pub.gpg", "alice.gpg"};
  auto prepared = prepare_decrypt_keys(raw);
  ASSERT_TRUE(prepared.ok());
  ASSERT_EQ(prepared->pgp_keyrings.size(), 1u);
  EXPECT_EQ(prepared->pgp_keyrings[0].name, "alice.gpg");
  ASSERT_EQ(prepared->problems.size(), 1u);
  EXPECT_NE(prepared->problems[0].find("pub.gpg: OpenPGP keyring has no secret key"),
            std::string::npos);
  EXPECT_TRUE(prepared->can_unwrap());
  raw.pgp_passwords = {std::nullopt};  // not one per keyring
  EXPECT_FALSE(prepare_decrypt_keys(raw).ok());
}

TEST(PgpWrapperTest, KeyringKinds) {
  EXPECT_EQ(pgp_keyring_kind(vec("alice.sec.gpg")), PgpKeyringKind::kSecret);
  EXPECT_EQ(pgp_keyring_kind(vec("alice.sec.asc")), PgpKeyringKind::kSecret);
  EXPECT_EQ(pgp_keyring_kind(vec("pubring.gpg")), PgpKeyringKind::kPublic);
  EXPECT_EQ(pgp_keyring_kind(vec("pubring.asc")), PgpKeyringKind::kPublic);
  const std::string pem = "-----BEGIN PRIVATE KEY-----\n";
  EXPECT_EQ(pgp_keyring_kind({reinterpret_cast<const uint8_t*>(pem.data()), pem.size()}),
            PgpKeyringKind::kNone);
}

TEST(PgpWrapperTest, BadBlobs) {
  const auto blob = wrap_for({"alice@example.com"});
  const PreparedKeys alice = keyring("alice.sec.gpg");
  // Truncated anywhere: refused, never opened.
  for (size_t n : {size_t{0}, size_t{1}, size_t{20}, blob.size() / 2, blob.size() - 1}) {
    auto r = pgp().unwrap(std::span<const uint8_t>(blob.data(), n), alice);
    EXPECT_FALSE(r.ok()) << n;
  }
  // A flipped bit in the encrypted data: the MDC (or the padding) fails it.
  auto m = parse_pgp_message(blob);
  ASSERT_TRUE(m.ok());
  std::vector<uint8_t> flipped = blob;
  flipped[flipped.size() - 5] ^= 0x01;
  auto f = pgp().unwrap(flipped, alice);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kKeyError);
  // Garbage.
  const std::vector<uint8_t> junk = {'n', 'o', 't', ' ', 'p', 'g', 'p'};
  auto j = pgp().unwrap(junk, alice);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kDataError);
  EXPECT_FALSE(pgp().describe(junk).ok());
  EXPECT_FALSE(pgp().recipients(junk).ok());
}

TEST(PgpWrapperTest, RemoveARecipient) {
  const auto blob = wrap_for({"alice@example.com", "bob@example.org"});
  auto kept = pgp().remove(blob, {0});
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  ASSERT_TRUE(kept->has_value());
  auto m = parse_pgp_message(blob);
  ASSERT_TRUE(m.ok());
  // Exactly Alice's packet is gone; the rest is the same bytes.
  std::vector<uint8_t> expect(blob.begin() + static_cast<std::ptrdiff_t>(m->packets[1].offset),
                              blob.end());
  EXPECT_EQ(**kept, expect);
  EXPECT_TRUE(pgp().unwrap(**kept, keyring("bob.sec.gpg", kBobPass)).ok());
  auto a = pgp().unwrap(**kept, keyring("alice.sec.gpg"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find(kBobSub), std::string::npos) << a.status().message();
  auto none = pgp().remove(blob, {0, 1});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(PgpWrapperTest, WholeLayerKeySearch) {
  // Through unwrap_layer_key, as decrypting a layer does.
  Annotations ann;
  const auto blob = wrap_for({"carol@example.net"});
  ann[std::string(kPgpKeysAnnotation)] = append_wrapped_key("", blob);
  auto ok = unwrap_layer_key(ann, keyring("carol.sec.gpg"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(as_string(*ok), kPriv);
  auto no = unwrap_layer_key(ann, keyring("alice.sec.gpg"));
  ASSERT_FALSE(no.ok());
  EXPECT_EQ(no.status().code(), StatusCode::kKeyError);
  EXPECT_NE(no.status().message().find(std::string("none of which the keyring holds")),
            std::string::npos)
      << no.status().message();
  EXPECT_NE(no.status().message().find(kCarolSub), std::string::npos);
  auto empty = unwrap_layer_key(ann, PreparedKeys{});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("missing private key"), std::string::npos)
      << empty.status().message();
  EXPECT_NE(empty.status().message().find(std::string("pgp message, 1 recipient (") + kCarolSub),
            std::string::npos)
      << empty.status().message();
}

}  // namespace
}  // namespace layercrypt
