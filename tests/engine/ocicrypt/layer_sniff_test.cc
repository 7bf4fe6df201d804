// tests/engine/layer_sniff_test.cc: telling a tar, a gzip and a zstd stream
// apart from their first bytes (engine/ocicrypt/layer_sniff.h), on archives made by
// tar(1) in every format it writes, gzip(1) and libzstd, and on what must be
// refused: nothing, random bytes, a zip, a damaged tar header. And
// PeekSource (engine/core/io.h): the bytes looked at are not lost, even from a
// pipe.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "engine/core/io.h"
#include "engine/ocicrypt/layer_sniff.h"
#include "engine/ocicrypt/media_types.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using layercrypt::testing::Bytes;
using layercrypt::testing::random_bytes;

// run_capture runs a shell command and returns its standard output.
Bytes run_capture(const std::string& cmd) {
  Bytes out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  uint8_t buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.insert(out.end(), buf, buf + n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}

LayerBlobKind sniff(const Bytes& b) {
  return sniff_layer_blob(b.data(), std::min(b.size(), kLayerSniffLen));
}

std::string media_type_or_message(const Bytes& b, std::string_view name = "INPUT") {
  auto t = sniffed_layer_media_type(b.data(), std::min(b.size(), kLayerSniffLen), name);
  if (t.ok()) return *t;
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  return t.status().message();
}

// A directory with a few files for tar(1) to archive.
class TarTree : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(layercrypt::testing::have_tool("tar"));
    layercrypt::testing::write_file(dir_.file("a.txt"), Bytes(100, 'a'));
    layercrypt::testing::write_file(dir_.file("b.bin"), random_bytes(3000, 1));
  }
  Bytes tar(const std::string& format) {
    return run_capture("tar --format=" + format + " -cf - -C '" + dir_.path() + "' a.txt b.bin");
  }
  layercrypt::testing::TempDir dir_;
};

TEST_F(TarTree, EveryTarFormatIsTar) {
  for (const char* format : {"ustar", "gnu", "oldgnu", "posix", "v7"}) {
    SCOPED_TRACE(format);
    const Bytes t = tar(format);
    ASSERT_GE(t.size(), 1024u);
    EXPECT_EQ(sniff(t), LayerBlobKind::kTar);
    EXPECT_EQ(media_type_or_message(t), kOciLayerTar);
    // Only the first 512 bytes are needed for a header.
    EXPECT_EQ(sniff_layer_blob(t.data(), 512), LayerBlobKind::kTar);
    EXPECT_EQ(sniff_layer_blob(t.data(), 511), LayerBlobKind::kUnknown);
  }
}

TEST_F(TarTree, GzipAndZstdOfATarAreThoseTypes) {
  ASSERT_TRUE(layercrypt::testing::have_tool("gzip"));
  const Bytes gz = run_capture("tar -cf - -C '" + dir_.path() + "' a.txt b.bin | gzip -c");
  EXPECT_EQ(sniff(gz), LayerBlobKind::kGzip);
  EXPECT_EQ(media_type_or_message(gz), kOciLayerTarGzip);
  const Bytes t = tar("ustar");
  Bytes z(ZSTD_compressBound(t.size()));
  z.resize(ZSTD_compress(z.data(), z.size(), t.data(), t.size(), 3));
  EXPECT_EQ(sniff(z), LayerBlobKind::kZstd);
  EXPECT_EQ(media_type_or_message(z), kOciLayerTarZstd);
}

TEST(LayerSniff, AnEmptyArchiveIsTarOnlyAsTwoZeroBlocks) {
  const Bytes empty_tar = run_capture("tar -cf - -T /dev/null");
  ASSERT_GE(empty_tar.size(), 1024u);
  EXPECT_EQ(sniff(empty_tar), LayerBlobKind::kTar);
  EXPECT_EQ(sniff(Bytes(1024, 0)), LayerBlobKind::kTar);
  EXPECT_EQ(sniff(Bytes(1023, 0)), LayerBlobKind::kUnknown);
  EXPECT_EQ(sniff(Bytes(512, 0)), LayerBlobKind::kUnknown);
  Bytes zero_then_data(2048, 0);
  zero_then_data[600] = 1;
  EXPECT_EQ(sniff(zero_then_data), LayerBlobKind::kUnknown);
}

// header returns a v7 header (no ustar magic) for `name` with its checksum
// summed over signed or unsigned bytes.
Bytes header(const std::string& name, bool signed_sum) {
  Bytes h(512, 0);
  std::memcpy(h.data(), name.data(), name.size());
  std::memcpy(h.data() + 100, "0000644", 7);
  std::memcpy(h.data() + 124, "00000000000", 11);
  std::memset(h.data() + 148, ' ', 8);
  h[156] = '0';
  long sum = 0;
  for (uint8_t b : h) sum += signed_sum ? static_cast<int8_t>(b) : b;
  std::snprintf(reinterpret_cast<char*>(h.data()) + 148, 8, "%06lo", sum);
  h[155] = ' ';
  return h;
}

TEST(LayerSniff, HandmadeHeadersAreCheckedLikeTarChecksThem) {
  EXPECT_EQ(sniff(header("file", false)), LayerBlobKind::kTar);
  // Old tars summed signed bytes; the two sums differ only for bytes >= 0x80.
  const std::string high = "caf\xc3\xa9";
  EXPECT_EQ(sniff(header(high, true)), LayerBlobKind::kTar);
  EXPECT_EQ(sniff(header(high, false)), LayerBlobKind::kTar);
  // One byte changed anywhere outside the checksum: no longer a header.
  for (size_t at : {size_t{0}, size_t{100}, size_t{147}, size_t{156}, size_t{257}, size_t{511}}) {
    Bytes h = header("file", false);
    h[at] ^= 0x01;
    EXPECT_EQ(sniff(h), LayerBlobKind::kUnknown) << at;
  }
  // A checksum field with no digits, or a non-octal character.
  Bytes h = header("file", false);
  std::memset(h.data() + 148, ' ', 8);
  EXPECT_EQ(sniff(h), LayerBlobKind::kUnknown);
  h = header("file", false);
  h[149] = '9';
  EXPECT_EQ(sniff(h), LayerBlobKind::kUnknown);
}

TEST(LayerSniff, RefusesEmptyRandomAndZipWithTheFirstBytes) {
  EXPECT_EQ(sniff({}), LayerBlobKind::kEmpty);
  EXPECT_EQ(sniffed_layer_media_type(nullptr, 0, "stdin").status().message(), "stdin is empty");
  const Bytes zip = {0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00};
  EXPECT_EQ(sniff(zip), LayerBlobKind::kUnknown);
  EXPECT_EQ(media_type_or_message(zip, "layer.zip"),
            "layer.zip is not a tar, gzip or zstd stream (first bytes: 50 4b 03 04)");
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Bytes r = random_bytes(4096, seed);
    if (r[0] == 0x1f || r[0] == 0x28) r[0] = 0;  // not by chance a gzip or zstd magic
    EXPECT_EQ(sniff(r), LayerBlobKind::kUnknown) << seed;
  }
  // A blob cut inside a magic number is judged by what it holds.
  EXPECT_EQ(sniff(Bytes{0x1f}), LayerBlobKind::kUnknown);
  EXPECT_EQ(media_type_or_message(Bytes{0x1f}),
            "INPUT is not a tar, gzip or zstd stream (first bytes: 1f)");
  EXPECT_EQ(sniff(Bytes{0x28, 0xb5, 0x2f}), LayerBlobKind::kUnknown);
  EXPECT_STREQ(layer_blob_kind_name(LayerBlobKind::kZstd), "zstd");
}

// OneByteSource hands out one byte per read and cannot be rewound, like a
// slow pipe.
class OneByteSource final : public ByteSource {
 public:
  explicit OneByteSource(Bytes b) : b_(std::move(b)) {}
  StatusOr<size_t> read(uint8_t* out, size_t cap) override {
    if (pos_ == b_.size() || cap == 0) return size_t{0};
    out[0] = b_[pos_++];
    return size_t{1};
  }

 private:
  Bytes b_;
  size_t pos_ = 0;
};

Bytes read_all(ByteSource& s, size_t step) {
  Bytes out, buf(step);
  for (;;) {
    auto n = s.read(buf.data(), buf.size());
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) return out;
    out.insert(out.end(), buf.begin(), buf.begin() + *n);
  }
}

TEST(PeekSource, ReplaysThePeekedBytesThenTheRest) {
  const Bytes data = random_bytes(5000, 9);
  for (size_t len :
       {size_t{0}, size_t{1}, size_t{1024}, size_t{4999}, size_t{5000}, size_t{9000}}) {
    for (size_t step : {size_t{1}, size_t{100}, size_t{4096}}) {
      SCOPED_TRACE(std::to_string(len) + " peeked, reads of " + std::to_string(step));
      OneByteSource inner(data);
      auto p = PeekSource::make(inner, len);
      ASSERT_TRUE(p.ok());
      ASSERT_EQ((*p)->head_len(), std::min(len, data.size()));
      if ((*p)->head_len() > 0) {
        EXPECT_EQ(std::memcmp((*p)->head(), data.data(), (*p)->head_len()), 0);
      }
      EXPECT_FALSE((*p)->can_rewind());
      EXPECT_TRUE(read_all(**p, step) == data);
    }
  }
}

TEST(PeekSource, SniffsAPipeWithoutLosingIt) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Bytes data = Bytes(2048, 0);  // an empty tar: two zero blocks
  ASSERT_EQ(write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fds[1]);
  FdSource in(fds[0], "stdin");
  auto p = PeekSource::make(in, kLayerSniffLen);
  ASSERT_TRUE(p.ok());
  auto t = sniffed_layer_media_type((*p)->head(), (*p)->head_len(), "stdin");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(*t, kOciLayerTar);
  EXPECT_TRUE(read_all(**p, 700) == data);
  close(fds[0]);
  // And an empty pipe is reported as empty.
  ASSERT_EQ(pipe(fds), 0);
  close(fds[1]);
  FdSource none(fds[0], "stdin");
  auto q = PeekSource::make(none, kLayerSniffLen);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(sniffed_layer_media_type((*q)->head(), (*q)->head_len(), "stdin").status().message(),
            "stdin is empty");
  close(fds[0]);
}

TEST(PeekSource, RewindsWhenTheInnerSourceCan) {
  const Bytes data = random_bytes(3000, 10);
  MemorySource inner(data.data(), data.size());
  auto p = PeekSource::make(inner, 1024);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->can_rewind());
  EXPECT_EQ((*p)->size_hint(), std::optional<uint64_t>(3000));
  uint8_t buf[10];
  ASSERT_TRUE((*p)->read(buf, sizeof buf).ok());
  ASSERT_TRUE((*p)->rewind().ok());
  EXPECT_TRUE(read_all(**p, 512) == data);
  ASSERT_TRUE((*p)->rewind().ok());
  EXPECT_TRUE(read_all(**p, 4096) == data);
}

}  // namespace
}  // namespace layercrypt
