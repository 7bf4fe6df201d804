// tests/engine/gzip_index_test.cc: the chunk index annotation: round trip,
// and every way a hostile or broken value is refused.
#include "engine/stream/gzip_index.h"

#include <gtest/gtest.h>

#include "engine/core/base64.h"

namespace layercrypt {
namespace {

GzipIndex sample() {
  GzipIndex ix;
  ix.chunk_size = 1 << 20;
  ix.uncompressed_size = 3 * (1 << 20) + 100;
  ix.deflate_sizes = {400000, 127, 1048581, 60};
  return ix;
}

TEST(GzipIndex, RoundTrip) {
  const GzipIndex ix = sample();
  EXPECT_EQ(ix.chunk_count(), 4u);
  EXPECT_EQ(ix.chunk_uncompressed_size(3), 100u);
  EXPECT_EQ(ix.blob_size(), 18u + 400000 + 127 + 1048581 + 60);
  const std::string text = format_gzip_index(ix);
  EXPECT_EQ(text.rfind("gzip-chunks/1 chunk=1048576 size=3145828 deflate=", 0), 0u) << text;
  auto back = parse_gzip_index(text, ix.blob_size());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->chunk_size, ix.chunk_size);
  EXPECT_EQ(back->uncompressed_size, ix.uncompressed_size);
  EXPECT_EQ(back->deflate_sizes, ix.deflate_sizes);
}

TEST(GzipIndex, EmptyAndExactMultiples) {
  GzipIndex empty;
  empty.chunk_size = 65536;
  empty.deflate_sizes = {2};
  EXPECT_EQ(empty.chunk_count(), 1u);
  EXPECT_TRUE(parse_gzip_index(format_gzip_index(empty), 20).ok());
  GzipIndex full;
  full.chunk_size = 65536;
  full.uncompressed_size = 2 * 65536;
  full.deflate_sizes = {1000, 900};
  EXPECT_EQ(full.chunk_count(), 2u);
  EXPECT_EQ(full.chunk_uncompressed_size(1), 65536u);
  EXPECT_TRUE(parse_gzip_index(format_gzip_index(full), full.blob_size()).ok());
}

TEST(GzipIndex, RefusesWhatDoesNotDescribeTheBlob) {
  const GzipIndex ix = sample();
  const std::string good = format_gzip_index(ix);
  const uint64_t size = ix.blob_size();
  auto refused = [](const std::string& text, uint64_t blob) {
    auto r = parse_gzip_index(text, blob);
    if (r.ok()) return false;
    EXPECT_EQ(r.status().code(), StatusCode::kDataError);
    EXPECT_NE(r.status().message().find(kGzipIndexAnnotation), std::string::npos);
    return true;
  };
  EXPECT_TRUE(refused(good, size + 1));
  EXPECT_TRUE(refused(good, size - 1));
  EXPECT_TRUE(refused(good, 0));
  EXPECT_TRUE(refused("", size));
  EXPECT_TRUE(refused(good + " ", size));
  EXPECT_TRUE(refused(" " + good, size));
  EXPECT_TRUE(refused("gzip-chunks/2" + good.substr(13), size));
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  EXPECT_TRUE(refused(with("chunk=1048576", "chunk=01048576"), size));
  EXPECT_TRUE(refused(with("chunk=1048576", "chunk=-1"), size));
  EXPECT_TRUE(refused(with("chunk=1048576", "chunk=1000"), size));       // below 64 KiB
  EXPECT_TRUE(refused(with("chunk=1048576", "chunk=536870912"), size));  // above 256 MiB
  EXPECT_TRUE(refused(with("chunk=1048576", "chunk=2097152"), size));    // wrong count
  EXPECT_TRUE(refused(with("size=3145828", "size=99999999999999999999"), size));
  EXPECT_TRUE(refused(with("deflate=", "deflate=!"), size));
  EXPECT_TRUE(refused(with("deflate=", "inflate="), size));
  // Sizes: too few, too many, one impossible for its chunk, a cut varint,
  // a varint beyond 64 bits.
  auto sizes = [&](std::vector<uint8_t> raw) {
    return with(good.substr(good.find("deflate=")), "deflate=" + base64_encode(raw));
  };
  EXPECT_TRUE(refused(sizes({0x80}), size));
  EXPECT_TRUE(refused(sizes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}), size));
  GzipIndex bad = ix;
  bad.deflate_sizes.pop_back();
  EXPECT_TRUE(refused(format_gzip_index(bad), size));
  bad = ix;
  bad.deflate_sizes.push_back(2);
  EXPECT_TRUE(refused(format_gzip_index(bad), size + 2));
  bad = ix;
  bad.deflate_sizes[1] = 4;  // a non-last chunk shorter than its empty stored block
  bad.deflate_sizes[0] += 123;
  EXPECT_TRUE(refused(format_gzip_index(bad), size));
  bad = ix;
  bad.deflate_sizes[3] = 200;  // more than 100 bytes can take stored
  bad.deflate_sizes[0] -= 140;
  EXPECT_TRUE(refused(format_gzip_index(bad), size));
  // A huge chunk count for a small blob is refused before anything is allocated.
  EXPECT_TRUE(refused("gzip-chunks/1 chunk=65536 size=18446744073709551615 deflate=", 100));
  EXPECT_TRUE(refused(std::string(kGzipIndexMaxText + 1, 'a'), size));
}

}  // namespace
}  // namespace layercrypt
