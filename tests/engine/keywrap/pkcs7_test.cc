// Tests for engine/keywrap/pkcs7/pkcs7.h against the skopeo-made enc-pkcs7 image
// (smallstep/pkcs7 EnvelopedData, AES-128-GCM, RSA PKCS#1 v1.5), and of
// what pkcs7_encrypt writes: the same DER tree as Go's writers, node by
// node, and readable by go.mozilla.org/pkcs7's strict `encryptedContent`
// field (emulated below), which imgcrypt 1.1.x release binaries use.
#include "engine/keywrap/pkcs7/pkcs7.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/base64.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using json = nlohmann::json;
using testing::image_layers;
using testing::ocicrypt_expected;
using testing::ocicrypt_vectors_dir;
using testing::read_file;

std::vector<uint8_t> Pkcs7Blob(size_t layer) {
  auto d = base64_decode(
      image_layers("enc-pkcs7").at(layer).annotation("org.opencontainers.image.enc.keys.pkcs7"));
  EXPECT_TRUE(d.ok());
  return *d;
}

std::string ExpectedDigest(size_t layer) {
  return ocicrypt_expected()["images"]["enc-pkcs7"]["layers"][layer]["expected_output_digest"];
}

PrivateKey Priv(const std::string& f) {
  return *parse_private_key(read_file(ocicrypt_vectors_dir() + "keys/" + f));
}
Certificate Cert() {
  return *parse_certificate(read_file(ocicrypt_vectors_dir() + "keys/pkcs7.cert.pem"));
}

std::string Str(const kernels::SecretBytes& v) { return {v.begin(), v.end()}; }

// ---- an independent DER reader and writer (no engine code, no OpenSSL) -----

// DerNode is one DER element. CMS EnvelopedData uses only low tag numbers
// (< 31) and definite lengths; anything else fails ParseDer.
struct DerNode {
  int cls = 0;  // 0 universal, 1 application, 2 context-specific, 3 private
  bool constructed = false;
  int tag = 0;
  std::vector<uint8_t> content;   // the contents octets
  std::vector<DerNode> children;  // the elements inside (see ParseDerList)
};

// ParseDerList parses the consecutive elements of `in` into `out`. A
// constructed element's contents become its children; so do those of a
// primitive universal SEQUENCE, which is how smallstep writes the GCM
// parameters (contents = a whole DER SEQUENCE), so that their structure is
// compared too. Returns false on anything that is not DER.
bool ParseDerList(std::span<const uint8_t> in, std::vector<DerNode>& out, int depth = 0) {
  if (depth > 32) return false;
  size_t pos = 0;
  while (pos < in.size()) {
    const uint8_t id = in[pos++];
    if ((id & 0x1f) == 0x1f || pos >= in.size()) return false;
    size_t len = in[pos++];
    if (len & 0x80) {
      const size_t n = len & 0x7f;  // n == 0 is BER's indefinite length
      if (n == 0 || n > 4 || in.size() - pos < n) return false;
      len = 0;
      for (size_t i = 0; i < n; ++i) len = (len << 8) | in[pos++];
    }
    if (in.size() - pos < len) return false;
    DerNode node;
    node.cls = id >> 6;
    node.constructed = (id & 0x20) != 0;
    node.tag = id & 0x1f;
    node.content.assign(in.begin() + static_cast<long>(pos),
                        in.begin() + static_cast<long>(pos + len));
    pos += len;
    if ((node.constructed || (node.cls == 0 && node.tag == 16)) &&
        !ParseDerList(node.content, node.children, depth + 1)) {
      return false;
    }
    out.push_back(std::move(node));
  }
  return true;
}

std::optional<DerNode> ParseDer(std::span<const uint8_t> der) {
  std::vector<DerNode> nodes;
  if (!ParseDerList(der, nodes) || nodes.size() != 1) return std::nullopt;
  return nodes[0];
}

// EncodeDer writes `n` as DER: a constructed node from its children (lengths
// recomputed, so an edited tree encodes consistently), a primitive one from
// its contents.
std::vector<uint8_t> EncodeDer(const DerNode& n) {
  std::vector<uint8_t> body;
  if (n.constructed) {
    for (const DerNode& c : n.children) {
      const auto e = EncodeDer(c);
      body.insert(body.end(), e.begin(), e.end());
    }
  } else {
    body = n.content;
  }
  std::vector<uint8_t> out{static_cast<uint8_t>(n.cls << 6 | (n.constructed ? 0x20 : 0) | n.tag)};
  if (body.size() < 0x80) {
    out.push_back(static_cast<uint8_t>(body.size()));
  } else {
    std::vector<uint8_t> len;
    for (size_t v = body.size(); v != 0; v >>= 8) len.insert(len.begin(), static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// Paths (child indices from the ContentInfo) of the nodes these tests use.
// ContentInfo { contentType, [0] EnvelopedData { version, recipientInfos
// SET { KeyTransRecipientInfo { version, IssuerAndSerialNumber,
// keyEncryptionAlgorithm, encryptedKey } }, EncryptedContentInfo {
// contentType, contentEncryptionAlgorithm { OID, params { SEQUENCE { [4]
// nonce, icvLen } } }, [0] encryptedContent } } }.
const std::vector<size_t> kEncryptedKey{1, 0, 1, 0, 3};
const std::vector<size_t> kEncryptedContentInfo{1, 0, 2};
const std::vector<size_t> kGcmNonce{1, 0, 2, 1, 1, 0, 0};
const std::vector<size_t> kEncryptedContent{1, 0, 2, 2};

// At returns the node at `path` under `root`, or nullptr.
DerNode* At(DerNode& root, const std::vector<size_t>& path) {
  DerNode* n = &root;
  for (size_t i : path) {
    if (i >= n->children.size()) return nullptr;
    n = &n->children[i];
  }
  return n;
}

std::string PathName(const std::vector<size_t>& path) {
  std::string s = "root";
  for (size_t i : path) s.append(".").append(std::to_string(i));
  return s;
}

// CompareTrees appends to `diffs` every node where `ours` and `theirs`
// differ in class, tag, constructed bit or number of children, and every
// leaf whose contents differ unless its path is in `free_leaves`. Lengths
// are not compared.
void CompareTrees(const DerNode& ours, const DerNode& theirs, std::vector<size_t>& path,
                  const std::vector<std::vector<size_t>>& free_leaves,
                  std::vector<std::string>& diffs) {
  const std::string where = PathName(path);
  if (ours.cls != theirs.cls || ours.tag != theirs.tag || ours.constructed != theirs.constructed) {
    diffs.push_back(where + ": ours is class " + std::to_string(ours.cls) + " tag " +
                    std::to_string(ours.tag) + (ours.constructed ? " constructed" : " primitive") +
                    ", Go's is class " + std::to_string(theirs.cls) + " tag " +
                    std::to_string(theirs.tag) +
                    (theirs.constructed ? " constructed" : " primitive"));
    return;
  }
  if (ours.children.size() != theirs.children.size()) {
    diffs.push_back(where + ": " + std::to_string(ours.children.size()) + " elements, Go's has " +
                    std::to_string(theirs.children.size()));
    return;
  }
  if (ours.children.empty()) {
    const bool free = std::find(free_leaves.begin(), free_leaves.end(), path) != free_leaves.end();
    if (!free && ours.content != theirs.content) diffs.push_back(where + ": contents differ");
    return;
  }
  for (size_t i = 0; i < ours.children.size(); ++i) {
    path.push_back(i);
    CompareTrees(ours.children[i], theirs.children[i], path, free_leaves, diffs);
    path.pop_back();
  }
}

// MozillaEncryptedContent returns the ciphertext go.mozilla.org/pkcs7 (in
// imgcrypt 1.1.x release binaries) reads from an EncryptedContentInfo. Its
// struct declares
//   EncryptedContent asn1.RawValue `asn1:"tag:0,optional,explicit"`
// so encoding/asn1 takes the third element only if it is context tag 0 and
// constructed (or empty); anything else leaves the optional field empty.
// decrypt() then joins the OCTET STRINGs inside a constructed value with
// asn1.Unmarshal until one does not parse, or uses a primitive value as is.
std::vector<uint8_t> MozillaEncryptedContent(const DerNode& eci) {
  if (eci.children.size() < 3) return {};
  const DerNode& f = eci.children[2];
  if (f.cls != 2 || f.tag != 0 || !(f.constructed || f.content.empty())) return {};
  if (!f.constructed) return f.content;
  std::vector<uint8_t> out;
  for (const DerNode& part : f.children) {
    if (part.cls != 0 || part.tag != 4 || part.constructed) break;
    out.insert(out.end(), part.content.begin(), part.content.end());
  }
  return out;
}

// StrictGoDecrypt decrypts a one-recipient AES-128-GCM EnvelopedData the way
// go.mozilla.org/pkcs7 does, with OpenSSL instead of the engine: RSA
// PKCS#1 v1.5 for the content key, the GCM nonce from the parameters, the
// ciphertext from MozillaEncryptedContent. Returns nullopt where Go fails.
std::optional<std::string> StrictGoDecrypt(std::span<const uint8_t> der, const PrivateKey& key) {
  auto root = ParseDer(der);
  if (!root) return std::nullopt;
  const DerNode* ek = At(*root, kEncryptedKey);
  const DerNode* nonce = At(*root, kGcmNonce);
  const DerNode* eci = At(*root, kEncryptedContentInfo);
  if (ek == nullptr || nonce == nullptr || eci == nullptr) return std::nullopt;
  const std::vector<uint8_t> ct = MozillaEncryptedContent(*eci);
  if (ct.size() < 16 || nonce->content.size() != 12) return std::nullopt;

  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> rsa(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.evp(), nullptr), &EVP_PKEY_CTX_free);
  std::vector<uint8_t> cek(static_cast<size_t>(EVP_PKEY_get_size(key.evp())));
  size_t cek_len = cek.size();
  if (!rsa || EVP_PKEY_decrypt_init(rsa.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(rsa.get(), RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_decrypt(rsa.get(), cek.data(), &cek_len, ek->content.data(), ek->content.size()) !=
          1 ||
      cek_len != 16) {
    return std::nullopt;
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> gcm(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  std::string plain(ct.size() - 16, '\0');
  int len = 0, fin = 0;
  std::vector<uint8_t> tag(ct.end() - 16, ct.end());
  if (!gcm ||
      EVP_DecryptInit_ex(gcm.get(), EVP_aes_128_gcm(), nullptr, cek.data(),
                         nonce->content.data()) != 1 ||
      EVP_DecryptUpdate(gcm.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, ct.data(),
                        static_cast<int>(ct.size() - 16)) != 1 ||
      EVP_CIPHER_CTX_ctrl(gcm.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(gcm.get(), nullptr, &fin) != 1) {
    return std::nullopt;
  }
  return plain;
}

// WithEncryptedContent returns `der` with its encryptedContent field replaced
// by `field`, re-encoded.
std::vector<uint8_t> WithEncryptedContent(std::span<const uint8_t> der, const DerNode& field) {
  auto root = ParseDer(der);
  EXPECT_TRUE(root.has_value());
  if (!root || At(*root, kEncryptedContent) == nullptr) return {};
  *At(*root, kEncryptedContent) = field;
  return EncodeDer(*root);
}

// SkopeoPlaintext returns the private-options JSON in skopeo's blob of `layer`.
std::string SkopeoPlaintext(size_t layer) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto plain = pkcs7_decrypt(Pkcs7Blob(layer), keys, certs);
  EXPECT_TRUE(plain.ok()) << plain.status().message();
  return plain.ok() ? Str(*plain) : std::string();
}

TEST(Pkcs7, DescribesSmallstepEnvelope) {
  auto s = pkcs7_describe(Pkcs7Blob(0));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->to_string(), "PKCS7 EnvelopedData, id-aes128-GCM, 1 recipient");
}

TEST(Pkcs7, DecryptsEveryLayerWithKeyAndCert) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  for (size_t i = 0; i < 4; ++i) {
    auto r = pkcs7_decrypt(Pkcs7Blob(i), keys, certs);
    ASSERT_TRUE(r.ok()) << r.status().message();
    json j = json::parse(r->begin(), r->end());
    EXPECT_EQ(base64_decode(j["symkey"].get<std::string>())->size(), 32u);
    EXPECT_EQ(j["digest"], ExpectedDigest(i));
  }
}

TEST(Pkcs7, AllPairsTried) {
  std::vector<PrivateKey> keys{Priv("ecp256.pem"), Priv("rsa2048.pem"), Priv("pkcs7.key.pem")};
  // Keys that are not the recipient come first; the certificate is given twice (DER, PEM).
  auto other = parse_certificate(
      read_file(std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/engine/keys/pkcs7.cert.der"));
  ASSERT_TRUE(other.ok());
  std::vector<Certificate> certs{*other, Cert()};
  auto r = pkcs7_decrypt(Pkcs7Blob(1), keys, certs);
  ASSERT_TRUE(r.ok()) << r.status().message();
  json j = json::parse(r->begin(), r->end());
  EXPECT_EQ(j["digest"], ExpectedDigest(1));
}

TEST(Pkcs7, KeyWithoutCertFails) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  auto r = pkcs7_decrypt(Pkcs7Blob(0), keys, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos);
}

TEST(Pkcs7, WrongKeyFailsUniformly) {
  std::vector<PrivateKey> keys{Priv("rsa2048.pem"), Priv("rsa4096.pem")};
  std::vector<Certificate> certs{Cert()};
  auto r = pkcs7_decrypt(Pkcs7Blob(0), keys, certs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_EQ(r.status().message(),
            "no key/certificate pair could unwrap the PKCS7 EnvelopedData, id-aes128-GCM, 1 "
            "recipient; tried 2 "
            "private key(s) x 1 certificate(s)");
}

TEST(Pkcs7, TamperedContentOrKeyFails) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto blob = Pkcs7Blob(0);
  // Last byte is in the GCM tag; byte 200 is inside the RSA-encrypted key.
  for (size_t pos : {blob.size() - 1, blob.size() - 40, size_t{200}}) {
    auto t = blob;
    t[pos] ^= 0x01;
    auto r = pkcs7_decrypt(t, keys, certs);
    ASSERT_FALSE(r.ok()) << pos;
    EXPECT_EQ(r.status().code(), StatusCode::kKeyError) << pos << ": " << r.status().message();
  }
}

TEST(Pkcs7, MalformedDer) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto blob = Pkcs7Blob(0);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{10}, blob.size() / 2, blob.size() - 1}) {
    std::vector<uint8_t> t(blob.begin(), blob.begin() + static_cast<long>(cut));
    auto r = pkcs7_decrypt(t, keys, certs);
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.status().code(), StatusCode::kDataError) << cut;
  }
  auto extra = blob;
  extra.push_back(0);
  EXPECT_EQ(pkcs7_decrypt(extra, keys, certs).status().code(), StatusCode::kDataError);
  EXPECT_EQ(pkcs7_decrypt(span_of("garbage"), keys, certs).status().code(), StatusCode::kDataError);
}

TEST(Pkcs7, UnsupportedContentAlgorithm) {
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto blob = Pkcs7Blob(0);
  // Rewrite the aes-128-gcm OID's last arc (…1.6) to 1.7 (id-aes128-CCM).
  const uint8_t oid[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x06};
  auto it = std::search(blob.begin(), blob.end(), std::begin(oid), std::end(oid));
  ASSERT_NE(it, blob.end());
  *(it + 10) = 0x07;
  auto r = pkcs7_decrypt(blob, keys, certs);
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << r.status().message();
}

TEST(Pkcs7, EncryptRoundTripsAndHasSmallstepsShape) {
  const std::string priv = R"({"symkey":"AAAA","digest":"sha256:00","cipheroptions":{}})";
  const std::span<const uint8_t> content(reinterpret_cast<const uint8_t*>(priv.data()),
                                         priv.size());
  const auto other = parse_certificate(
      read_file(std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/engine/keys/pkcs7.cert.der"));
  ASSERT_TRUE(other.ok());
  std::vector<Certificate> recipients{*other, Cert()};
  auto der = pkcs7_encrypt(content, recipients);
  ASSERT_TRUE(der.ok()) << der.status().message();
  auto summary = pkcs7_describe(*der);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->to_string(), "PKCS7 EnvelopedData, id-aes128-GCM, 2 recipients");
  // The second RecipientInfo is the vector key's.
  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  auto back = pkcs7_decrypt(*der, keys, certs);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(std::string(back->begin(), back->end()), priv);
  // Two encryptions differ (fresh key and nonce) and a flipped byte fails.
  auto again = pkcs7_encrypt(content, recipients);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *der);
  std::vector<uint8_t> bad = *der;
  bad[bad.size() - 3] ^= 1;
  EXPECT_EQ(pkcs7_decrypt(bad, keys, certs).status().code(), StatusCode::kKeyError);
  // No recipients: refused.
  EXPECT_EQ(pkcs7_encrypt(content, {}).status().code(), StatusCode::kInvalidArgument);
}

// What we write has the DER tree Go's writers (smallstep/pkcs7 in ocicrypt,
// fullsailor/pkcs7 in skopeo 1.9.3) wrote in the vectors, node by node: same
// class, tag, constructed bit and elements everywhere, same contents except
// the encrypted key, the nonce and the ciphertext. Encrypting skopeo's
// plaintext to the same certificate makes even the sizes equal.
TEST(Pkcs7Shape, EncryptWritesTheTreeGoWrites) {
  std::vector<Certificate> recipients{Cert()};
  const std::vector<std::vector<size_t>> free_leaves{kEncryptedKey, kGcmNonce, {1, 0, 2, 2, 0}};
  for (size_t layer = 0; layer < 4; ++layer) {
    SCOPED_TRACE("layer " + std::to_string(layer));
    const std::vector<uint8_t> go_der = Pkcs7Blob(layer);
    const std::string plain = SkopeoPlaintext(layer);
    auto ours_der = pkcs7_encrypt(span_of(plain), recipients);
    ASSERT_TRUE(ours_der.ok()) << ours_der.status().message();
    auto ours = ParseDer(*ours_der);
    auto theirs = ParseDer(go_der);
    ASSERT_TRUE(ours.has_value());
    ASSERT_TRUE(theirs.has_value());
    std::vector<size_t> path;
    std::vector<std::string> diffs;
    CompareTrees(*ours, *theirs, path, free_leaves, diffs);
    std::string all;
    for (const auto& d : diffs) all += d + "\n";
    EXPECT_TRUE(diffs.empty()) << all;
    EXPECT_EQ(ours_der->size(), go_der.size());
    // The leaves that may differ are there, with Go's sizes.
    for (const auto& p : free_leaves) {
      ASSERT_NE(At(*ours, p), nullptr) << PathName(p);
      EXPECT_EQ(At(*ours, p)->content.size(), At(*theirs, p)->content.size()) << PathName(p);
    }
  }
}

// go.mozilla.org/pkcs7's strict reading of encryptedContent: it opens Go's
// blobs and ours, and sees no ciphertext in the primitive [0] IMPLICIT form
// older layercrypt wrote (which is why imgcrypt 1.1.x failed with "PKCS7: No
// suitable private key found for decryption").
TEST(Pkcs7Shape, StrictGoReaderDecryptsWhatWeWrite) {
  const PrivateKey key = Priv("pkcs7.key.pem");
  const std::string plain = SkopeoPlaintext(0);
  EXPECT_EQ(StrictGoDecrypt(Pkcs7Blob(0), key), plain);

  std::vector<Certificate> recipients{Cert()};
  auto der = pkcs7_encrypt(span_of(plain), recipients);
  ASSERT_TRUE(der.ok()) << der.status().message();
  auto root = ParseDer(*der);
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(MozillaEncryptedContent(*At(*root, kEncryptedContentInfo)).size(), plain.size() + 16);
  EXPECT_EQ(StrictGoDecrypt(*der, key), plain);

  DerNode primitive = *At(*root, kEncryptedContent);
  primitive.constructed = false;
  primitive.content = primitive.children.at(0).content;
  primitive.children.clear();
  const auto old_form = WithEncryptedContent(*der, primitive);
  auto old_root = ParseDer(old_form);
  ASSERT_TRUE(old_root.has_value());
  EXPECT_TRUE(MozillaEncryptedContent(*At(*old_root, kEncryptedContentInfo)).empty());
  EXPECT_EQ(StrictGoDecrypt(old_form, key), std::nullopt);
}

// We read every encryptedContent form: constructed [0] { OCTET STRING } (Go's
// writers and ours), primitive [0] IMPLICIT (older layercrypt), and a
// constructed [0] holding the ciphertext in several OCTET STRINGs.
TEST(Pkcs7, ReadsBothEncryptedContentForms) {
  const std::string plain =
      R"({"symkey":"c2VjcmV0LWtleS1ieXRlcw==","digest":"sha256:ab","cipheroptions":{}})";
  std::vector<Certificate> recipients{Cert()};
  auto der = pkcs7_encrypt(span_of(plain), recipients);
  ASSERT_TRUE(der.ok()) << der.status().message();
  auto root = ParseDer(*der);
  ASSERT_TRUE(root.has_value());
  const DerNode constructed = *At(*root, kEncryptedContent);
  ASSERT_EQ(constructed.children.size(), 1u);
  const std::vector<uint8_t>& ct = constructed.children[0].content;

  DerNode primitive = constructed;
  primitive.constructed = false;
  primitive.content = ct;
  primitive.children.clear();

  DerNode chunked = constructed;
  chunked.children.assign(2, constructed.children[0]);
  chunked.children[0].content.assign(ct.begin(), ct.begin() + 7);
  chunked.children[1].content.assign(ct.begin() + 7, ct.end());

  std::vector<PrivateKey> keys{Priv("pkcs7.key.pem")};
  std::vector<Certificate> certs{Cert()};
  const std::pair<const char*, std::vector<uint8_t>> forms[] = {
      {"constructed", *der},
      {"primitive", WithEncryptedContent(*der, primitive)},
      {"chunked", WithEncryptedContent(*der, chunked)},
  };
  for (const auto& [name, blob] : forms) {
    auto r = pkcs7_decrypt(blob, keys, certs);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().message();
    EXPECT_EQ(Str(*r), plain) << name;
  }
  EXPECT_NE(forms[1].second, *der);  // the rewrite did change the encoding
  EXPECT_EQ((*der)[der->size() - ct.size() - 4],
            0xA0);  // [0] constructed, 2-byte OCTET STRING header
}

}  // namespace
}  // namespace layercrypt
