// tests/engine/layer_cipher_test.cc: AES_256_CTR_HMAC_SHA256 through the
// pipeline: ocicrypt known answers, every chunk boundary, thread counts,
// both release policies, tampering.
#include "engine/stream/layer_cipher.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <random>

#include "tests/support/rewritten_source.h"
#include "tests/support/test_util.h"
#include "tests/support/vector_file.h"

namespace layercrypt {
namespace {

using layercrypt::testing::random_bytes;
using testing::from_hex;
using testing::to_hex;

constexpr size_t kChunk = 64 << 10;  // the pipeline's minimum chunk size

LayerKey make_key(const std::vector<uint8_t>& k, const std::vector<uint8_t>& n) {
  LayerKey key;
  key.symkey.assign(k.begin(), k.end());
  key.nonce.assign(n.begin(), n.end());
  return key;
}

// Reference: OpenSSL EVP AES-256-CTR (full 128-bit counter) and HMAC().
std::vector<uint8_t> ref_ctr(const LayerKey& key, const std::vector<uint8_t>& in) {
  std::vector<uint8_t> out(in.size());
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EXPECT_EQ(
      1, EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr, key.symkey.data(), key.nonce.data()));
  if (!in.empty()) {
    EXPECT_EQ(1, EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())));
  }
  EVP_CIPHER_CTX_free(ctx);
  return out;
}
std::array<uint8_t, 32> ref_hmac(const LayerKey& key, const std::vector<uint8_t>& ct) {
  std::array<uint8_t, 32> tag{};
  unsigned len = 32;
  HMAC(EVP_sha256(), key.symkey.data(), 32, ct.data(), ct.size(), tag.data(), &len);
  return tag;
}

// A source that refuses rewind, like a pipe.
class PipeLikeSource final : public ByteSource {
 public:
  explicit PipeLikeSource(const std::vector<uint8_t>& d) : mem_(d.data(), d.size()) {}
  StatusOr<size_t> read(uint8_t* out, size_t cap) override {
    // Short reads, as pipes give.
    return mem_.read(out, std::min<size_t>(cap, 50000));
  }

 private:
  MemorySource mem_;
};

TEST(LayerCipher, OcicryptVectors) {
  for (const auto& c : testing::load_vectors("ocicrypt_ctr_hmac.txt")) {
    SCOPED_TRACE(c.where());
    c.str("COUNT");
    c.str("HMAC_B64");  // checked by the options tests
    c.str("PUBOPTS");
    c.str("PRIVOPTS");
    const LayerKey key = make_key(c.bytes("KEY"), c.bytes("NONCE"));
    const auto pt = c.bytes("PT");
    const auto ct = c.bytes("CT");
    const auto hmac = c.bytes("HMAC");

    MemorySource src(pt.data(), pt.size());
    VectorSink sink;
    auto enc = encrypt_layer(src, sink, key, {});
    ASSERT_TRUE(enc.ok()) << enc.status().message();
    EXPECT_EQ(to_hex(sink.out), to_hex(ct));
    EXPECT_EQ(to_hex(enc->hmac.data(), 32), to_hex(hmac));

    std::array<uint8_t, 32> expected;
    std::copy(hmac.begin(), hmac.end(), expected.begin());
    for (ReleasePolicy policy : {ReleasePolicy::kVerifyFirst, ReleasePolicy::kStream}) {
      MemorySource csrc(ct.data(), ct.size());
      VectorSink out;
      LayerDecryptOptions opt;
      opt.policy = policy;
      auto dec = decrypt_layer(csrc, out, key, expected, opt);
      ASSERT_TRUE(dec.ok()) << dec.status().message();
      EXPECT_EQ(to_hex(out.out), to_hex(pt));
    }
    c.check_all_consumed();
  }
}

struct SizeCase {
  size_t size;
  size_t threads;
};

class LayerCipherSizes : public ::testing::TestWithParam<SizeCase> {};

TEST_P(LayerCipherSizes, RoundTripMatchesReference) {
  const auto [size, threads] = GetParam();
  // A nonce whose low 64 bits are about to carry: the pipeline's chunks
  // straddle the carry at various offsets.
  LayerKey key = make_key(random_bytes(32, 1), from_hex("0123456789abcdeffffffffffffffff0"));
  const auto pt = random_bytes(size, static_cast<uint32_t>(size));
  const auto ct = ref_ctr(key, pt);
  const auto tag = ref_hmac(key, ct);

  PipelineOptions po;
  po.chunk_size = kChunk;
  po.threads = threads;
  MemorySource src(pt.data(), pt.size());
  VectorSink enc_out;
  auto enc = encrypt_layer(src, enc_out, key, po);
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  ASSERT_EQ(enc_out.out, ct);
  EXPECT_EQ(enc->hmac, tag);
  EXPECT_EQ(enc->bytes, size);
  uint8_t d[32];
  unsigned dl = 32;
  EVP_Digest(pt.data(), pt.size(), d, &dl, EVP_sha256(), nullptr);
  EXPECT_EQ(to_hex(enc->plain_sha256.data(), 32), to_hex(d, 32));
  EVP_Digest(ct.data(), ct.size(), d, &dl, EVP_sha256(), nullptr);
  EXPECT_EQ(to_hex(enc->cipher_sha256.data(), 32), to_hex(d, 32));

  for (ReleasePolicy policy : {ReleasePolicy::kVerifyFirst, ReleasePolicy::kStream}) {
    for (bool pipe : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "policy " << int(policy) << " pipe " << pipe);
      LayerDecryptOptions opt;
      opt.policy = policy;
      opt.pipeline = po;
      opt.spool_memory_limit = 3 * kChunk;  // larger inputs spill to a file
      MemorySource mem(ct.data(), ct.size());
      PipeLikeSource piped(ct);
      ByteSource& s = pipe ? static_cast<ByteSource&>(piped) : mem;
      VectorSink out;
      auto dec = decrypt_layer(s, out, key, tag, opt);
      ASSERT_TRUE(dec.ok()) << dec.status().message();
      EXPECT_EQ(out.out, pt);
      EXPECT_EQ(dec->bytes, size);
      if (policy == ReleasePolicy::kVerifyFirst && pipe) {
        EXPECT_TRUE(dec->spooled);
        EXPECT_EQ(dec->spool_spilled, size > 3 * kChunk);
      }
    }
  }

  // kStream with the blob's digest checked in the MAC's pass: the same
  // plaintext, and its digest.
  for (bool pipe : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "expected_blob_digest, pipe " << pipe);
    LayerDecryptOptions opt;
    opt.policy = ReleasePolicy::kStream;
    opt.pipeline = po;
    opt.expected_blob_digest = "sha256:" + to_hex(d, 32);  // the ciphertext's, from above
    MemorySource mem(ct.data(), ct.size());
    PipeLikeSource piped(ct);
    VectorSink out;
    auto dec = decrypt_layer(pipe ? static_cast<ByteSource&>(piped) : mem, out, key, tag, opt);
    ASSERT_TRUE(dec.ok()) << dec.status().message();
    EXPECT_EQ(out.out, pt);
    EXPECT_EQ(dec->bytes, size);
    EXPECT_EQ(dec->plain_sha256, enc->plain_sha256);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Boundaries, LayerCipherSizes,
    ::testing::Values(SizeCase{0, 2}, SizeCase{1, 2}, SizeCase{15, 2}, SizeCase{16, 2},
                      SizeCase{17, 2}, SizeCase{kChunk - 1, 2}, SizeCase{kChunk, 2},
                      SizeCase{kChunk + 1, 2}, SizeCase{2 * kChunk + 17, 1},
                      SizeCase{2 * kChunk + 17, 2}, SizeCase{2 * kChunk + 17, 8},
                      SizeCase{9 * kChunk + 4095, 2}, SizeCase{9 * kChunk + 4095, 8},
                      SizeCase{40 * kChunk, 3}));

class LayerCipherTamper : public ::testing::TestWithParam<bool> {};

TEST_P(LayerCipherTamper, VerifyFirstReleasesNothing) {
  const bool pipe = GetParam();
  LayerKey key = make_key(random_bytes(32, 7), random_bytes(16, 8));
  const auto pt = random_bytes(5 * kChunk + 333, 9);
  const auto ct = ref_ctr(key, pt);
  const auto tag = ref_hmac(key, ct);

  std::vector<std::pair<std::string, std::vector<uint8_t>>> bad;
  for (size_t pos : {size_t{0}, ct.size() / 2, ct.size() - 1}) {
    auto v = ct;
    v[pos] ^= 0x01;
    bad.emplace_back("flip@" + std::to_string(pos), v);
  }
  bad.emplace_back("truncated", std::vector<uint8_t>(ct.begin(), ct.end() - 1));
  bad.emplace_back("truncated-to-chunk", std::vector<uint8_t>(ct.begin(), ct.begin() + kChunk));
  auto ext = ct;
  ext.push_back(0);
  bad.emplace_back("extended", ext);
  bad.emplace_back("empty", std::vector<uint8_t>());

  for (const auto& [name, blob] : bad) {
    SCOPED_TRACE(name);
    PipelineOptions po;
    po.chunk_size = kChunk;
    LayerDecryptOptions opt;
    opt.pipeline = po;
    opt.spool_memory_limit = kChunk;
    MemorySource mem(blob.data(), blob.size());
    PipeLikeSource piped(blob);
    ByteSource& s = pipe ? static_cast<ByteSource&>(piped) : mem;
    VectorSink out;
    auto dec = decrypt_layer(s, out, key, tag, opt);
    ASSERT_FALSE(dec.ok());
    EXPECT_EQ(dec.status().code(), StatusCode::kIntegrityError);
    EXPECT_NE(dec.status().message().find(to_hex(tag.data(), 32)), std::string::npos)
        << dec.status().message();
    // Both MACs in full: what the blob hashes to, and what was expected.
    const auto got = ref_hmac(key, blob);
    EXPECT_NE(dec.status().message().find("blob is " + to_hex(got.data(), 32) + ","),
              std::string::npos)
        << dec.status().message();
    EXPECT_NE(dec.status().message().find("no plaintext was released"), std::string::npos);
    EXPECT_TRUE(out.out.empty()) << "unverified plaintext released";
  }
}

INSTANTIATE_TEST_SUITE_P(Sources, LayerCipherTamper, ::testing::Bool());

TEST(LayerCipher, VerifyFirstReleasesOnlyWhatTheMacPassRead) {
  // The MAC pass verifies the blob; then, before the decrypting pass reads
  // it again, a byte in chunk 3 changes (same length). Nothing of the
  // changed chunk or after it may reach the sink: flipping a ciphertext bit
  // flips the same plaintext bit under CTR.
  LayerKey key = make_key(random_bytes(32, 21), random_bytes(16, 22));
  const auto pt = random_bytes(6 * kChunk + 77, 23);
  const auto ct = ref_ctr(key, pt);
  const auto tag = ref_hmac(key, ct);
  for (const size_t threads : {size_t{1}, size_t{2}}) {
    for (const size_t pos : {3 * kChunk + 5, ct.size() - 1, size_t{0}}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", byte " + std::to_string(pos));
      auto changed = ct;
      changed[pos] ^= 0x80;
      testing::RewrittenSource src(ct, changed);
      LayerDecryptOptions opt;
      opt.pipeline.chunk_size = kChunk;
      opt.pipeline.threads = threads;
      VectorSink out;
      auto dec = decrypt_layer(src, out, key, tag, opt);
      ASSERT_FALSE(dec.ok());
      EXPECT_EQ(dec.status().code(), StatusCode::kIntegrityError);
      EXPECT_NE(dec.status().message().find("changed between the MAC check and decryption"),
                std::string::npos)
          << dec.status().message();
      // What was released is verified plaintext, and ends before the chunk
      // that changed.
      EXPECT_LE(out.out.size(), pos / kChunk * kChunk);
      EXPECT_TRUE(std::equal(out.out.begin(), out.out.end(), pt.begin()));
    }
  }
}

TEST(LayerCipher, StreamModeReportsUnverifiedOutput) {
  LayerKey key = make_key(random_bytes(32, 11), random_bytes(16, 12));
  const auto pt = random_bytes(3 * kChunk, 13);
  auto ct = ref_ctr(key, pt);
  const auto tag = ref_hmac(key, ct);
  ct[ct.size() - 5] ^= 0x80;
  LayerDecryptOptions opt;
  opt.policy = ReleasePolicy::kStream;
  opt.pipeline.chunk_size = kChunk;
  MemorySource src(ct.data(), ct.size());
  VectorSink out;
  auto dec = decrypt_layer(src, out, key, tag, opt);
  ASSERT_FALSE(dec.ok());
  EXPECT_EQ(dec.status().code(), StatusCode::kIntegrityError);
  EXPECT_NE(dec.status().message().find("unverified and must be discarded"), std::string::npos);
  EXPECT_EQ(out.out.size(), ct.size());
}

TEST(LayerCipher, ExpectedBlobDigestIsCheckedBeforeTheMac) {
  LayerKey key = make_key(random_bytes(32, 20), random_bytes(16, 21));
  const auto pt = random_bytes(3 * kChunk + 5, 22);
  const auto ct = ref_ctr(key, pt);
  const auto tag = ref_hmac(key, ct);
  uint8_t d[32];
  unsigned dl = 32;
  auto digest_of = [&](const std::vector<uint8_t>& v) {
    EVP_Digest(v.data(), v.size(), d, &dl, EVP_sha256(), nullptr);
    return "sha256:" + to_hex(d, 32);
  };
  auto run = [&](const std::vector<uint8_t>& blob, const std::string& digest,
                 ReleasePolicy policy = ReleasePolicy::kStream,
                 std::optional<Compression> decompress = std::nullopt) {
    LayerDecryptOptions opt;
    opt.policy = policy;
    opt.decompress = decompress;
    opt.expected_blob_digest = digest;
    MemorySource src(blob.data(), blob.size());
    VectorSink out;
    return decrypt_layer(src, out, key, tag, opt);
  };
  ASSERT_TRUE(run(ct, digest_of(ct)).ok());

  // A blob that is not the one named: the digest error, not the MAC's.
  auto bad = ct;
  bad[kChunk + 1] ^= 0x80;
  auto r = run(bad, digest_of(ct));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIntegrityError);
  EXPECT_NE(r.status().message().find("does not match its digest " + digest_of(ct)),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("unverified"), std::string::npos);
  // The named blob whose MAC is wrong: the MAC error.
  r = run(bad, digest_of(bad));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIntegrityError);
  EXPECT_NE(r.status().message().find("HMAC-SHA256"), std::string::npos) << r.status().message();

  // Only kStream without decompression hashes in the pass.
  r = run(ct, digest_of(ct), ReleasePolicy::kVerifyFirst);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = run(ct, digest_of(ct), ReleasePolicy::kStream, Compression::kGzip);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(LayerCipher, WrongKeyFailsIntegrity) {
  LayerKey key = make_key(random_bytes(32, 21), random_bytes(16, 22));
  const auto pt = random_bytes(1000, 23);
  const auto ct = ref_ctr(key, pt);
  const auto tag = ref_hmac(key, ct);
  LayerKey other = make_key(random_bytes(32, 24), random_bytes(16, 22));
  MemorySource src(ct.data(), ct.size());
  VectorSink out;
  auto dec = decrypt_layer(src, out, other, tag, {});
  ASSERT_FALSE(dec.ok());
  EXPECT_EQ(dec.status().code(), StatusCode::kIntegrityError);
  EXPECT_TRUE(out.out.empty());
}

TEST(LayerCipher, RejectsBadKeyLengths) {
  std::array<uint8_t, 32> tag{};
  MemorySource src(nullptr, 0);
  VectorSink out;
  auto dec = decrypt_layer(src, out, make_key(random_bytes(31, 1), random_bytes(16, 2)), tag, {});
  ASSERT_FALSE(dec.ok());
  EXPECT_EQ(dec.status().message(), "invalid key length of 31 bytes; need 32 bytes");
  auto dec2 = decrypt_layer(src, out, make_key(random_bytes(32, 1), random_bytes(12, 2)), tag, {});
  ASSERT_FALSE(dec2.ok());
  EXPECT_EQ(dec2.status().code(), StatusCode::kInvalidArgument);
}

TEST(LayerCipher, FreshKeysDiffer) {
  auto a = new_layer_key();
  auto b = new_layer_key();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->symkey.size(), 32u);
  EXPECT_EQ(a->nonce.size(), 16u);
  EXPECT_NE(a->symkey, b->symkey);
  EXPECT_NE(a->nonce, b->nonce);
}

}  // namespace
}  // namespace layercrypt
