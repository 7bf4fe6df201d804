// tests/engine/layer_gzip_test.cc: the fused paths. tar -> gzip -> encrypt
// and tar -> zstd -> encrypt in one pass (encrypt_layer_gzip,
// encrypt_layer_zstd) and decrypt -> inflate / unzstd
// (decrypt_layer with decompress), with and without the chunk index,
// against zlib and libzstd as independent peers; reproducibility across
// thread counts; hostile indexes; corrupt streams inside valid MACs.
#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>
#include <openssl/sha.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/stream/gzip_index.h"
#include "engine/stream/layer_cipher.h"
#include "engine/stream/layer_compress.h"
#include "engine/stream/layer_decompress.h"
#include "tests/support/corpus.h"
#include "tests/support/rewritten_source.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using layercrypt::testing::Bytes;
using layercrypt::testing::CorpusRng;
using layercrypt::testing::make_tar_like_corpus;
using layercrypt::testing::random_bytes;

constexpr size_t kChunk = 64 << 10;  // the pipeline's minimum: many chunks from small inputs

LayerKey fixed_key(uint64_t seed) {
  LayerKey key;
  const Bytes k = random_bytes(32, seed), n = random_bytes(16, seed + 1);
  key.symkey.assign(k.begin(), k.end());
  key.nonce.assign(n.begin(), n.end());
  return key;
}

std::array<uint8_t, 32> sha256(const Bytes& b) {
  std::array<uint8_t, 32> d{};
  SHA256(b.data(), b.size(), d.data());
  return d;
}

// zlib_gunzip inflates every gzip member in `gz` with zlib (the reference
// reader: gzip(1), Go and containerd read what it reads).
bool zlib_gunzip(const Bytes& gz, Bytes* out) {
  out->clear();
  z_stream z{};
  if (inflateInit2(&z, 16 + 15) != Z_OK) return false;
  z.next_in = const_cast<uint8_t*>(gz.data());
  z.avail_in = static_cast<uInt>(gz.size());
  Bytes buf(1 << 16);
  int r = Z_OK;
  for (;;) {
    z.next_out = buf.data();
    z.avail_out = static_cast<uInt>(buf.size());
    r = inflate(&z, Z_NO_FLUSH);
    out->insert(out->end(), buf.begin(), buf.end() - z.avail_out);
    if (r == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // next member
      continue;
    }
    if (r != Z_OK) break;
  }
  inflateEnd(&z);
  return r == Z_STREAM_END;
}

Bytes zlib_gzip(const Bytes& in, int level) {
  z_stream z{};
  deflateInit2(&z, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&z, in.size()));
  z.next_in = const_cast<uint8_t*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct Encrypted {
  Bytes blob;  // ciphertext
  LayerEncryptResult result;
};

// encrypt_compressed runs a fused tar -> compress -> encrypt function
// (encrypt_layer_gzip or encrypt_layer_zstd) over `tar`.
using CompressEncryptFn = StatusOr<LayerEncryptResult> (*)(ByteSource&, ByteSink&, const LayerKey&,
                                                           int, const PipelineOptions&);
Encrypted encrypt_compressed(CompressEncryptFn fn, const Bytes& tar, const LayerKey& key, int level,
                             size_t threads) {
  MemorySource src(tar.data(), tar.size());
  VectorSink sink;
  PipelineOptions po;
  po.chunk_size = kChunk;
  po.threads = threads;
  auto r = fn(src, sink, key, level, po);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return {std::move(sink.out), r.ok() ? *r : LayerEncryptResult{}};
}

Encrypted encrypt_gzip(const Bytes& tar, const LayerKey& key, int level, size_t threads = 0) {
  return encrypt_compressed(encrypt_layer_gzip, tar, key, level, threads);
}

Encrypted encrypt_plain(const Bytes& blob, const LayerKey& key) {
  MemorySource src(blob.data(), blob.size());
  VectorSink sink;
  auto r = encrypt_layer(src, sink, key, {});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return {std::move(sink.out), r.ok() ? *r : LayerEncryptResult{}};
}

// decrypt runs decrypt_layer; returns its status and fills *out and *res.
Status decrypt(const Encrypted& e, const LayerKey& key, std::optional<Compression> decompress,
               std::optional<GzipIndex> index, Bytes* out, LayerDecryptResult* res = nullptr,
               ReleasePolicy policy = ReleasePolicy::kVerifyFirst) {
  MemorySource src(e.blob.data(), e.blob.size());
  VectorSink sink;
  LayerDecryptOptions o;
  o.policy = policy;
  o.pipeline.chunk_size = kChunk;
  o.decompress = decompress;
  o.gzip_index = std::move(index);
  auto r = decrypt_layer(src, sink, key, e.result.hmac, o);
  *out = std::move(sink.out);
  if (r.ok() && res != nullptr) *res = *r;
  return r.ok() ? Status::Ok() : r.status();
}

TEST(LayerGzip, OnePassGivesAStandardMemberAndEveryDigest) {
  const LayerKey key = fixed_key(1);
  for (size_t n : {size_t{0}, size_t{1}, kChunk - 1, kChunk, kChunk + 1, 10 * kChunk + 333}) {
    SCOPED_TRACE(n);
    const Bytes tar = make_tar_like_corpus(n, 7 + n);
    const Encrypted e = encrypt_gzip(tar, key, 1);
    EXPECT_EQ(e.result.tar_bytes, n);
    EXPECT_EQ(e.result.bytes, e.blob.size());
    EXPECT_EQ(e.result.tar_sha256, sha256(tar));
    EXPECT_EQ(e.result.cipher_sha256, sha256(e.blob));
    ASSERT_TRUE(e.result.gzip_index.has_value());
    EXPECT_EQ(e.result.gzip_index->blob_size(), e.blob.size());
    EXPECT_EQ(e.result.gzip_index->uncompressed_size, n);
    // The decrypted blob is one gzip member any reader takes.
    Bytes gz;
    ASSERT_TRUE(decrypt(e, key, std::nullopt, std::nullopt, &gz).ok());
    EXPECT_EQ(sha256(gz), e.result.plain_sha256);
    Bytes back;
    ASSERT_TRUE(zlib_gunzip(gz, &back));
    EXPECT_TRUE(back == tar);
    // The index text parses back against the blob's size.
    auto ix = parse_gzip_index(format_gzip_index(*e.result.gzip_index), e.blob.size());
    ASSERT_TRUE(ix.ok()) << ix.status().message();
    // Decrypt + inflate, in parallel with the index and sequentially without.
    for (bool with_index : {true, false}) {
      Bytes t;
      LayerDecryptResult res;
      ASSERT_TRUE(decrypt(e, key, Compression::kGzip,
                          with_index ? std::optional(*ix) : std::nullopt, &t, &res)
                      .ok());
      EXPECT_TRUE(t == tar) << with_index;
      EXPECT_EQ(res.tar_bytes, n);
      EXPECT_EQ(res.bytes, e.blob.size());
      EXPECT_EQ(res.indexed_inflate, with_index);
      EXPECT_EQ(res.inflate_fallback_chunk, -1);
    }
  }
}

TEST(LayerGzip, SameBytesWhateverTheThreadCount) {
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 8);
  const LayerKey key = fixed_key(2);
  const Bytes tar = make_tar_like_corpus(40 * kChunk + 5, 8);
  for (int level : {0, 1, 3}) {
    const Encrypted one = encrypt_gzip(tar, key, level, 1);
    for (size_t threads : {2, 8}) {
      const Encrypted e = encrypt_gzip(tar, key, level, threads);
      EXPECT_TRUE(e.blob == one.blob) << "level " << level << ", " << threads << " threads";
      EXPECT_EQ(e.result.hmac, one.result.hmac);
    }
  }
}

TEST(LayerGzip, TarOutputEqualsZlibForForeignGzipAndZstd) {
  const LayerKey key = fixed_key(3);
  const Bytes a = make_tar_like_corpus(300 * 1024, 9), b = make_tar_like_corpus(90 * 1024, 10);
  Bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  // A two-member gzip as `cat a.gz b.gz` makes it.
  Bytes two = zlib_gzip(a, 9);
  const Bytes gb = zlib_gzip(b, 1);
  two.insert(two.end(), gb.begin(), gb.end());
  Bytes t;
  ASSERT_TRUE(decrypt(encrypt_plain(two, key), key, Compression::kGzip, std::nullopt, &t).ok());
  EXPECT_TRUE(t == ab);
  // zstd, two frames.
  Bytes z(ZSTD_compressBound(a.size()) + ZSTD_compressBound(b.size()));
  size_t n1 = ZSTD_compress(z.data(), z.size(), a.data(), a.size(), 3);
  size_t n2 = ZSTD_compress(z.data() + n1, z.size() - n1, b.data(), b.size(), 1);
  ASSERT_FALSE(ZSTD_isError(n1) || ZSTD_isError(n2));
  z.resize(n1 + n2);
  ASSERT_TRUE(decrypt(encrypt_plain(z, key), key, Compression::kZstd, std::nullopt, &t).ok());
  EXPECT_TRUE(t == ab);
  // Uncompressed tar passes through.
  ASSERT_TRUE(decrypt(encrypt_plain(ab, key), key, Compression::kNone, std::nullopt, &t).ok());
  EXPECT_TRUE(t == ab);
  // Stream mode decompresses too.
  ASSERT_TRUE(decrypt(encrypt_plain(two, key), key, Compression::kGzip, std::nullopt, &t, nullptr,
                      ReleasePolicy::kStream)
                  .ok());
  EXPECT_TRUE(t == ab);
}

// A corrupt compressed stream inside a layer whose MAC is right (the builder
// compressed badly) is a clean data error that says so.
TEST(LayerGzip, CorruptStreamInsideAValidMacIsADataError) {
  const LayerKey key = fixed_key(4);
  const Bytes tar = make_tar_like_corpus(200 * 1024, 11);
  Bytes gz = zlib_gzip(tar, 6);
  std::vector<std::pair<std::string, Bytes>> bad;
  Bytes crc = gz;
  crc[crc.size() - 6] ^= 1;  // CRC-32
  bad.push_back({"CRC", crc});
  Bytes cut(gz.begin(), gz.end() - 9);
  bad.push_back({"truncated", cut});
  Bytes extra = gz;
  extra.push_back(0);
  bad.push_back({"trailing", extra});
  Bytes flipped = gz;
  flipped[gz.size() / 2] ^= 0x40;
  bad.push_back({"flipped", flipped});
  bad.push_back({"not gzip", tar});
  for (const auto& [what, blob] : bad) {
    Bytes t;
    const Status st = decrypt(encrypt_plain(blob, key), key, Compression::kGzip, std::nullopt, &t);
    EXPECT_EQ(st.code(), StatusCode::kDataError) << what << ": " << st.message();
    EXPECT_NE(st.message().find("not valid gzip"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("HMAC verified"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find('\n'), std::string::npos);
  }
  Bytes z(ZSTD_compressBound(tar.size()));
  z.resize(ZSTD_compress(z.data(), z.size(), tar.data(), tar.size(), 3));
  z.resize(z.size() - 3);
  Bytes t;
  const Status st = decrypt(encrypt_plain(z, key), key, Compression::kZstd, std::nullopt, &t);
  EXPECT_EQ(st.code(), StatusCode::kDataError) << st.message();
  EXPECT_NE(st.message().find("not valid zstd"), std::string::npos) << st.message();
}

// Hostile or wrong indexes: the output is the tar or a clean error, never
// other bytes with success.
TEST(LayerGzip, AWrongIndexNeverGivesWrongBytes) {
  const LayerKey key = fixed_key(5);
  const Bytes tar = make_tar_like_corpus(12 * kChunk + 999, 12);
  const Encrypted e = encrypt_gzip(tar, key, 1);
  const GzipIndex good = *e.result.gzip_index;
  const size_t n = good.deflate_sizes.size();
  CorpusRng r(13);
  std::vector<std::pair<std::string, GzipIndex>> cases;
  for (int i = 0; i < 60; ++i) {
    GzipIndex ix = good;
    const size_t k = r.below(n - 1);
    const uint64_t shift = 1 + r.below(i < 30 ? 8 : 5000);
    if (ix.deflate_sizes[k] <= shift + 5) continue;
    if (i % 2) {
      ix.deflate_sizes[k] -= shift;
      ix.deflate_sizes[k + 1] += shift;
    } else {
      ix.deflate_sizes[k] += shift;
      ix.deflate_sizes[k + 1] -= std::min(shift, ix.deflate_sizes[k + 1] - 2);
      ix.deflate_sizes[k] -= shift - std::min(shift, good.deflate_sizes[k + 1] - 2);
    }
    cases.push_back({"shift chunk " + std::to_string(k) + " by " + std::to_string(shift), ix});
  }
  GzipIndex swapped = good;
  std::swap(swapped.deflate_sizes[2], swapped.deflate_sizes[7]);
  cases.push_back({"swapped", swapped});
  // Another tar's index for a blob of the same length is not possible to
  // build in general; the same chunk sizes describing a longer chunk size:
  GzipIndex wide = good;
  wide.chunk_size = 2 * kChunk;
  wide.uncompressed_size = 2 * kChunk * (n - 1) + 1;
  cases.push_back({"wider chunks", wide});
  int fell_back = 0, failed = 0;
  for (const auto& [what, ix] : cases) {
    if (ix.blob_size() != e.blob.size()) continue;
    Bytes t;
    LayerDecryptResult res;
    const Status st = decrypt(e, key, Compression::kGzip, ix, &t, &res);
    if (st.ok()) {
      EXPECT_TRUE(t == tar) << what;
      if (res.inflate_fallback_chunk >= 0) ++fell_back;
    } else {
      ++failed;
      EXPECT_EQ(st.code(), StatusCode::kDataError) << what << ": " << st.message();
    }
  }
  EXPECT_GT(fell_back, 20);  // the fallback, not failure, is the normal answer
  // An index of the right size for another blob of the same length.
  const Bytes other = make_tar_like_corpus(12 * kChunk + 999, 14);
  const Encrypted e2 = encrypt_gzip(other, key, 1);
  if (e2.result.gzip_index->blob_size() == e.blob.size()) {
    Bytes t;
    const Status st = decrypt(e, key, Compression::kGzip, *e2.result.gzip_index, &t);
    if (st.ok()) {
      EXPECT_TRUE(t == tar);
    }
  }
  // A foreign (zlib) gzip blob with our index laid over it: its header is
  // the same length only by chance; either way, never wrong bytes.
  const Bytes zgz = zlib_gzip(tar, 1);
  const Encrypted ez = encrypt_plain(zgz, key);
  GzipIndex over;
  over.chunk_size = kChunk;
  over.uncompressed_size = 65536;
  over.deflate_sizes = {zgz.size() - 18};
  Bytes t;
  LayerDecryptResult res;
  const Status st = decrypt(ez, key, Compression::kGzip, over, &t, &res);
  if (st.ok()) {
    EXPECT_TRUE(t == tar);
    EXPECT_EQ(res.inflate_fallback_chunk, 0);
  }
}

TEST(LayerGzip, AnIndexForAnotherLengthIsNotUsed) {
  const LayerKey key = fixed_key(6);
  const Bytes tar = make_tar_like_corpus(5 * kChunk, 15);
  const Encrypted e = encrypt_gzip(tar, key, 1);
  GzipIndex ix = *e.result.gzip_index;
  ix.deflate_sizes.back() += 1;
  Bytes t;
  LayerDecryptResult res;
  ASSERT_TRUE(decrypt(e, key, Compression::kGzip, ix, &t, &res).ok());
  EXPECT_TRUE(t == tar);
  EXPECT_FALSE(res.indexed_inflate);
  // Streaming cannot know the length in advance: the run fails cleanly.
  const Status st = decrypt(e, key, Compression::kGzip, ix, &t, &res, ReleasePolicy::kStream);
  EXPECT_FALSE(st.ok());
}

TEST(LayerGzip, AFileRewrittenBetweenThePassesStopsIndexedInflate) {
  // Both passes read the blob as the index's segments, and the second
  // checks each against what the first verified: a segment changed after
  // the MAC pass stops the run before it is inflated, and the tar written
  // up to there is the real one, from the chunks before it at most (all of
  // them when only the trailer changed).
  const LayerKey key = fixed_key(8);
  const Bytes tar = make_tar_like_corpus(6 * kChunk, 17);
  const Encrypted e = encrypt_gzip(tar, key, 1);
  const std::vector<size_t> segments = IndexedGunzip::segments_of(*e.result.gzip_index);
  for (const size_t pos : {size_t{3}, e.blob.size() / 2, e.blob.size() - 3}) {
    SCOPED_TRACE("byte " + std::to_string(pos));
    size_t segment = 0, end = segments[0];
    while (end <= pos) end += segments[++segment];
    // Segment 0 is the header, 1..n the chunks, n + 1 the trailer.
    const size_t most =
        std::min(tar.size(), (segment == 0 ? 0 : segment - 1) * e.result.gzip_index->chunk_size);
    Bytes changed = e.blob;
    changed[pos] ^= 0x10;
    testing::RewrittenSource src(e.blob, changed);
    VectorSink sink;
    LayerDecryptOptions o;
    o.pipeline.chunk_size = kChunk;
    o.decompress = Compression::kGzip;
    o.gzip_index = e.result.gzip_index;
    auto r = decrypt_layer(src, sink, key, e.result.hmac, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kIntegrityError) << r.status().message();
    EXPECT_NE(r.status().message().find("changed between the MAC check and decryption"),
              std::string::npos)
        << r.status().message();
    EXPECT_LE(sink.out.size(), most);
    EXPECT_TRUE(std::equal(sink.out.begin(), sink.out.end(), tar.begin()));
  }
}

TEST(LayerGzip, TamperedCiphertextIsCaughtBeforeInflating) {
  const LayerKey key = fixed_key(7);
  const Bytes tar = make_tar_like_corpus(6 * kChunk, 16);
  Encrypted e = encrypt_gzip(tar, key, 1);
  e.blob[e.blob.size() / 3] ^= 4;
  Bytes t;
  const Status st = decrypt(e, key, Compression::kGzip, e.result.gzip_index, &t);
  EXPECT_EQ(st.code(), StatusCode::kIntegrityError) << st.message();
  EXPECT_TRUE(t.empty());
}

TEST(LayerGzip, BadLevel) {
  const Bytes tar(10);
  MemorySource src(tar.data(), tar.size());
  VectorSink sink;
  auto r = encrypt_layer_gzip(src, sink, fixed_key(8), 4, {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(sink.out.empty());
}

// tar -> zstd -> encrypt (encrypt_layer_zstd): the frame is read back by
// independent peers, libzstd's one-shot ZSTD_decompress and zstd(1), and by
// our own decrypt path with and without decompression.

Encrypted encrypt_zstd(const Bytes& tar, const LayerKey& key, int level, size_t threads = 0) {
  return encrypt_compressed(encrypt_layer_zstd, tar, key, level, threads);
}

// libzstd_decompress: libzstd's plain one-shot API. The frame has no
// content size, so the capacity is the expected size (plus one byte, so
// that a longer output would show).
bool libzstd_decompress(const Bytes& frame, size_t expected, Bytes* out) {
  out->assign(expected + 1, 0);
  const size_t got = ZSTD_decompress(out->data(), out->size(), frame.data(), frame.size());
  if (ZSTD_isError(got)) return false;
  out->resize(got);
  return true;
}

// zstd_cli_decompress runs `zstd -d` on the frame.
bool zstd_cli_decompress(const Bytes& frame, Bytes* out) {
  layercrypt::testing::TempDir dir;
  layercrypt::testing::write_file(dir.file("layer.tar.zst"), frame);
  const std::string cmd =
      "zstd -q -d -c '" + dir.file("layer.tar.zst") + "' > '" + dir.file("layer.tar") + "'";
  if (std::system(cmd.c_str()) != 0) return false;
  *out = layercrypt::testing::read_file(dir.file("layer.tar"));
  return true;
}

TEST(LayerZstd, OnePassGivesAStandardFrameAndEveryDigest) {
  ASSERT_TRUE(layercrypt::testing::have_tool("zstd"))
      << "zstd(1) missing (tools/run.sh installs it)";
  const LayerKey key = fixed_key(1);
  for (int level : {1, 19}) {
    for (size_t n :
         {size_t{0}, size_t{1}, kChunk - 1, kChunk, kChunk + 1, (size_t{3} << 20) + 333}) {
      SCOPED_TRACE("level " + std::to_string(level) + ", " + std::to_string(n) + " bytes");
      const Bytes tar = make_tar_like_corpus(n, 11 + n);
      const Encrypted e = encrypt_zstd(tar, key, level);
      EXPECT_EQ(e.result.tar_bytes, n);
      EXPECT_EQ(e.result.tar_sha256, sha256(tar));
      EXPECT_EQ(e.result.bytes, e.blob.size());
      EXPECT_EQ(e.result.cipher_sha256, sha256(e.blob));
      EXPECT_FALSE(e.result.gzip_index.has_value());
      // Decrypted as a plain blob: one zstd frame, whose digest is plain_sha256.
      Bytes frame;
      ASSERT_TRUE(decrypt(e, key, std::nullopt, std::nullopt, &frame).ok());
      EXPECT_EQ(sha256(frame), e.result.plain_sha256);
      ASSERT_GE(frame.size(), 4u);
      // The length is not known in advance, except that of an empty tar.
      EXPECT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()),
                n == 0 ? 0 : ZSTD_CONTENTSIZE_UNKNOWN);
      EXPECT_EQ(ZSTD_findFrameCompressedSize(frame.data(), frame.size()), frame.size())
          << "one frame, nothing after it";
      Bytes back;
      ASSERT_TRUE(libzstd_decompress(frame, n, &back));
      EXPECT_TRUE(back == tar);
      ASSERT_TRUE(zstd_cli_decompress(frame, &back));
      EXPECT_TRUE(back == tar);
      // The decrypt path with decompression, verify-first and streaming.
      for (ReleasePolicy policy : {ReleasePolicy::kVerifyFirst, ReleasePolicy::kStream}) {
        ASSERT_TRUE(decrypt(e, key, Compression::kZstd, std::nullopt, &back, nullptr, policy).ok());
        EXPECT_TRUE(back == tar);
      }
    }
  }
}

TEST(LayerZstd, CompressesAndAcceptsRandomBytes) {
  // Incompressible input: the frame stores it (raw blocks) and stays a
  // valid frame a little longer than the input.
  const LayerKey key = fixed_key(2);
  const Bytes tar = random_bytes(5 * kChunk + 7, 3);
  const Encrypted e = encrypt_zstd(tar, key, kDefaultZstdLevel);
  EXPECT_GT(e.result.bytes, tar.size());
  EXPECT_LT(e.result.bytes, tar.size() + 1024);
  Bytes back;
  ASSERT_TRUE(decrypt(e, key, Compression::kZstd, std::nullopt, &back).ok());
  EXPECT_TRUE(back == tar);
  // A tar-like input does compress.
  const Bytes text = make_tar_like_corpus(1 << 20, 4);
  EXPECT_LT(encrypt_zstd(text, key, kDefaultZstdLevel).result.bytes, text.size() / 2);
}

TEST(LayerZstd, SameBytesWhateverTheThreadCount) {
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 8);
  const LayerKey key = fixed_key(3);
  // Several of libzstd's jobs (a few MiB each at level 1), so that more
  // than one worker has work.
  const Bytes tar = make_tar_like_corpus(size_t{12} << 20, 5);
  const Encrypted one = encrypt_zstd(tar, key, 1, 1);
  for (size_t threads : {2, 4}) {
    const Encrypted e = encrypt_zstd(tar, key, 1, threads);
    EXPECT_TRUE(e.blob == one.blob) << threads << " threads";
    EXPECT_EQ(e.result.hmac, one.result.hmac);
  }
  Bytes back;
  ASSERT_TRUE(decrypt(one, key, Compression::kZstd, std::nullopt, &back).ok());
  EXPECT_TRUE(back == tar);
}

TEST(LayerZstd, RefusesLevelsOutsideOneToNineteenAndBadKeys) {
  const Bytes tar = make_tar_like_corpus(1000, 6);
  for (int level : {-1, 0, 20, 22}) {
    MemorySource src(tar.data(), tar.size());
    VectorSink sink;
    auto r = encrypt_layer_zstd(src, sink, fixed_key(4), level, {});
    ASSERT_FALSE(r.ok()) << level;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << level;
    EXPECT_NE(r.status().message().find("1 (fastest) to 19"), std::string::npos)
        << r.status().message();
    EXPECT_TRUE(sink.out.empty());
  }
  LayerKey short_key = fixed_key(4);
  short_key.nonce.erase(short_key.nonce.begin() + 8, short_key.nonce.end());
  MemorySource src(tar.data(), tar.size());
  VectorSink sink;
  auto r = encrypt_layer_zstd(src, sink, short_key, kDefaultZstdLevel, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// FailingSource yields `good` bytes, then an I/O error.
class FailingSource final : public ByteSource {
 public:
  explicit FailingSource(size_t good) : data_(make_tar_like_corpus(good, 7)) {}
  StatusOr<size_t> read(uint8_t* out, size_t cap) override {
    if (pos_ == data_.size()) return IoError("reading the tar failed: test error");
    const size_t n = std::min(cap, data_.size() - pos_);
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  Bytes data_;
  size_t pos_ = 0;
};

TEST(LayerZstd, ReadErrorOfTheTarIsReturned) {
  for (size_t good : {size_t{0}, size_t{100}, size_t{2} << 20}) {
    FailingSource src(good);
    VectorSink sink;
    PipelineOptions po;
    po.chunk_size = kChunk;
    auto r = encrypt_layer_zstd(src, sink, fixed_key(5), 1, po);
    ASSERT_FALSE(r.ok()) << good;
    EXPECT_EQ(r.status().code(), StatusCode::kIoError);
    EXPECT_NE(r.status().message().find("test error"), std::string::npos);
  }
}

}  // namespace
}  // namespace layercrypt
