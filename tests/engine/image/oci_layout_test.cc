// tests/engine/oci_layout_test.cc: OCI layout references, verified reads
// and crash-safe writes.
#include "engine/image/oci_layout.h"
#include "engine/core/hex.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "kernels/sha256.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using testing::Bytes;
using testing::TempDir;

std::string digest_of(const Bytes& b) {
  std::array<uint8_t, 32> d{};
  kernels::sha256(b.data(), b.size(), d.data(), d.size());
  return sha256_digest_string(d);
}

size_t files_in(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

TEST(OciRef, PathsAndTags) {
  auto r = parse_oci_ref("./img:v1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "./img");
  EXPECT_EQ(*r->tag, "v1");
  r = parse_oci_ref("oci:/tmp/a/b/");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/tmp/a/b");
  EXPECT_FALSE(r->tag.has_value());
  r = parse_oci_ref("/tmp/x:1.0-rc_2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->tag, "1.0-rc_2");
  // A colon whose right side is not a tag belongs to the path.
  r = parse_oci_ref("/tmp/a:b/c");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/tmp/a:b/c");
  EXPECT_FALSE(r->tag.has_value());
  for (const char* bad : {"", ":v1", "docker://alpine", "docker-archive:/tmp/a.tar"}) {
    EXPECT_EQ(parse_oci_ref(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(OciRef, ArchivesByPrefixOrByBeingAFile) {
  TempDir dir;
  auto r = parse_oci_ref("oci-archive:" + dir.file("new.tar") + ":v1");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->archive);
  EXPECT_EQ(r->path, dir.file("new.tar"));
  EXPECT_EQ(*r->tag, "v1");
  // A bare path: a file is an archive, a directory or nothing a layout.
  EXPECT_FALSE(parse_oci_ref(dir.file("new.tar")).value().archive);
  EXPECT_FALSE(parse_oci_ref(dir.path() + ":v1").value().archive);
  testing::write_file(dir.file("a.tar"), Bytes{0});
  r = parse_oci_ref(dir.file("a.tar") + ":v2");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->archive);
  EXPECT_EQ(*r->tag, "v2");
  // oci: always means a layout directory.
  EXPECT_FALSE(parse_oci_ref("oci:" + dir.file("a.tar")).value().archive);
}

TEST(OciLayout, CreateWriteReadBack) {
  TempDir dir;
  const std::string path = dir.file("img");
  auto l = OciLayout::open_or_create(path);
  ASSERT_TRUE(l.ok()) << l.status().message();
  // No index.json until write_index: a half-made layout does not open.
  EXPECT_FALSE(OciLayout::open(path).ok());
  const Bytes data = testing::random_bytes(300000, 1);
  auto d = l->put_blob(data);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, digest_of(data));
  EXPECT_TRUE(l->has_blob(*d));
  Json idx = l->index();
  idx["manifests"].push_back({{"mediaType", "x"}, {"digest", *d}, {"size", data.size()}});
  ASSERT_TRUE(l->write_index(idx).ok());
  auto again = OciLayout::open(path);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->index()["manifests"].size(), 1u);
  auto back = again->read_blob(*d, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == data);
  // Wrong size or wrong content are integrity errors.
  EXPECT_EQ(again->read_blob(*d, 5).status().code(), StatusCode::kIntegrityError);
  // Streamed without the digest check (the caller hashes), a wrong length
  // is refused before anything is read.
  for (int64_t size : {int64_t{299999}, int64_t{300001}}) {
    auto src = again->open_blob_source(*d, size, /*verify=*/false);
    ASSERT_FALSE(src.ok());
    EXPECT_EQ(src.status().code(), StatusCode::kIntegrityError);
    EXPECT_NE(
        src.status().message().find("is 300000 bytes, its descriptor says " + std::to_string(size)),
        std::string::npos)
        << src.status().message();
  }
  EXPECT_TRUE(again->open_blob_source(*d, 300000, /*verify=*/false).ok());
  testing::write_file(*again->blob_path(*d), testing::random_bytes(300000, 2));
  EXPECT_EQ(again->read_blob(*d, 300000).status().code(), StatusCode::kIntegrityError);
  // Only sha256, well formed.
  EXPECT_EQ(again->blob_path("sha512:ab").status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(again->blob_path("sha256:../../etc/passwd").status().code(), StatusCode::kDataError);
}

TEST(OciLayout, UncommittedBlobLeavesNothing) {
  TempDir dir;
  auto l = OciLayout::open_or_create(dir.file("img"));
  ASSERT_TRUE(l.ok());
  const std::string blobs = dir.file("img/blobs/sha256");
  {
    auto w = l->new_blob();
    ASSERT_TRUE(w.ok());
    const Bytes b = testing::random_bytes(1000, 3);
    ASSERT_TRUE((*w)->write(b.data(), b.size()).ok());
    EXPECT_EQ(files_in(blobs), 1u);  // the temporary file
  }
  EXPECT_EQ(files_in(blobs), 0u);
  // commit_as with a malformed digest fails and still cleans up.
  {
    auto w = l->new_blob(false);
    ASSERT_TRUE(w.ok());
    EXPECT_FALSE((*w)->commit_as("sha256:nothex").ok());
  }
  EXPECT_EQ(files_in(blobs), 0u);
}

TEST(OciLayout, LargeBlobInOddWritesRoundTrips) {
  // Writes of a size that divides nothing.
  TempDir dir;
  auto l = OciLayout::open_or_create(dir.file("img"));
  ASSERT_TRUE(l.ok());
  const Bytes data = testing::random_bytes((size_t{3} << 20) + 12345, 9);
  auto w = l->new_blob();
  ASSERT_TRUE(w.ok());
  for (size_t off = 0; off < data.size(); off += 777777) {
    const size_t n = std::min<size_t>(777777, data.size() - off);
    ASSERT_TRUE((*w)->write(data.data() + off, n).ok());
  }
  EXPECT_EQ((*w)->bytes(), data.size());
  auto d = (*w)->commit();
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(*d, digest_of(data));
  EXPECT_TRUE(testing::read_file(*l->blob_path(*d)) == data);
}

TEST(OciLayout, BlobsOfManySizesInSplitWrites) {
  // An empty blob, small ones, and blobs past one and two 8 MiB writeback
  // steps, each written whole and in two writes.
  constexpr size_t kMiB = size_t{1} << 20;
  TempDir dir;
  auto l = OciLayout::open_or_create(dir.file("img"));
  ASSERT_TRUE(l.ok());
  for (const size_t size : {size_t{0}, size_t{1}, kMiB - 1, kMiB, 16 * kMiB, 24 * kMiB + 5}) {
    const Bytes data = testing::random_bytes(size, size % 1000);
    for (const size_t first : {size, size / 2 + size % 2}) {
      SCOPED_TRACE("size " + std::to_string(size) + ", first write " + std::to_string(first));
      auto w = l->new_blob();
      ASSERT_TRUE(w.ok());
      ASSERT_TRUE((*w)->write(data.data(), first).ok());
      ASSERT_TRUE((*w)->write(data.data() + first, size - first).ok());
      auto d = (*w)->commit();
      ASSERT_TRUE(d.ok()) << d.status().message();
      EXPECT_EQ(*d, digest_of(data));
      EXPECT_TRUE(testing::read_file(*l->blob_path(*d)) == data);
    }
  }
  // A writer dropped after writeback started leaves nothing behind.
  const std::string blobs = dir.file("img/blobs/sha256");
  const size_t before = files_in(blobs);
  {
    auto w = l->new_blob();
    ASSERT_TRUE(w.ok());
    const Bytes b = testing::random_bytes(17 * kMiB, 4);
    ASSERT_TRUE((*w)->write(b.data(), b.size()).ok());
  }
  EXPECT_EQ(files_in(blobs), before);
}

TEST(OciLayout, RefusesAForeignNonEmptyDirectory) {
  TempDir dir;
  testing::write_file(dir.file("notes.txt"), Bytes{'x'});
  EXPECT_EQ(OciLayout::open_or_create(dir.path()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(OciLayout::open(dir.path()).ok());
}

TEST(OciLayout, NewLayoutAppearsOnlyWithItsIndex) {
  TempDir dir;
  const std::string path = dir.file("new");
  const Bytes data = testing::random_bytes(5000, 5);
  {
    auto l = OciLayout::open_for_write(OciRef{path, std::nullopt, false}, /*create=*/true);
    ASSERT_TRUE(l.ok()) << l.status().message();
    ASSERT_TRUE(l->put_blob(data).ok());
    // Built beside DST: DST does not exist until write_index.
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  // Dropped without write_index: nothing left, not even the hidden directory.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  auto l = OciLayout::open_for_write(OciRef{path, std::nullopt, false}, true);
  ASSERT_TRUE(l.ok());
  auto d = l->put_blob(data);
  ASSERT_TRUE(d.ok());
  Json idx = l->index();
  idx["manifests"].push_back({{"mediaType", "x"}, {"digest", *d}, {"size", data.size()}});
  ASSERT_TRUE(l->write_index(idx).ok());
  EXPECT_EQ(l->dir(), path);
  auto again = OciLayout::open(path);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->read_blob(*d, static_cast<int64_t>(data.size())).ok());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(OciLayout, GarbageIsWhatNothingReaches) {
  TempDir dir;
  const std::string path = dir.file("img");
  const Bytes layer = testing::random_bytes(3000, 6), junk = testing::random_bytes(3000, 7);
  std::string layer_d, junk_d;
  {
    auto l = OciLayout::open_for_write(OciRef{path, std::nullopt, false}, true);
    ASSERT_TRUE(l.ok());
    layer_d = *l->put_blob(layer);
    junk_d = *l->put_blob(junk);
    const Json manifest = {
        {"schemaVersion", 2},
        {"layers", Json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                 {"digest", layer_d},
                                 {"size", layer.size()}}})}};
    auto md = l->put_json_blob(manifest);
    ASSERT_TRUE(md.ok());
    Json idx = l->index();
    idx["manifests"].push_back({{"mediaType", std::string(kOciManifestMediaType)},
                                {"digest", *md},
                                {"size", manifest.dump().size()}});
    ASSERT_TRUE(l->write_index(idx).ok());
    std::vector<std::string> removed;
    ASSERT_TRUE(l->collect_garbage(&removed).ok());
    EXPECT_EQ(removed, std::vector<std::string>{junk_d});
    EXPECT_TRUE(l->has_blob(layer_d));
    EXPECT_FALSE(l->has_blob(junk_d));
  }
  // A layout whose index reaches a missing blob is damaged: nothing is deleted.
  auto l = OciLayout::open_for_write(OciRef{path, std::nullopt, false}, false);
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE(l->put_blob(junk).ok());
  std::filesystem::remove(*l->blob_path(layer_d));
  std::vector<std::string> removed;
  ASSERT_TRUE(l->collect_garbage(&removed).ok());
  EXPECT_TRUE(removed.empty());
  EXPECT_TRUE(l->has_blob(junk_d));
}

TEST(OciLayout, ConcurrentBlobWritesOnOneLayout) {
  // As the layer jobs do: several threads write blobs into one layout at
  // once, some with the same content (the same final name).
  TempDir dir;
  auto l = OciLayout::open_for_write(OciRef{dir.file("img"), std::nullopt, false}, true);
  ASSERT_TRUE(l.ok());
  const OciLayout& shared = *l;
  constexpr int kThreads = 6, kBlobs = 12;
  std::vector<std::vector<std::string>> digests(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBlobs; ++i) {
        // Blob i of every even thread is the same; odd threads write their own.
        const Bytes data =
            testing::random_bytes(50000 + 997 * i, t % 2 == 0 ? 100 + i : 1000 * t + i);
        auto d = shared.put_blob(data);
        digests[t].push_back(d.ok() ? *d : "error: " + d.status().message());
      }
    });
  }
  for (auto& th : threads) th.join();
  Json idx = l->index();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kBlobs; ++i) {
      const Bytes data =
          testing::random_bytes(50000 + 997 * i, t % 2 == 0 ? 100 + i : 1000 * t + i);
      ASSERT_EQ(digests[t][i], digest_of(data));
      EXPECT_TRUE(l->read_blob(digests[t][i], static_cast<int64_t>(data.size())).ok());
      idx["manifests"].push_back(
          {{"mediaType", "x"}, {"digest", digests[t][i]}, {"size", data.size()}});
    }
  }
  ASSERT_TRUE(l->write_index(idx).ok());
  // Nothing but the blobs: no temporary file was left by a race.
  EXPECT_EQ(files_in(dir.file("img/blobs/sha256")),
            static_cast<size_t>(kBlobs + (kThreads / 2) * kBlobs));
}

TEST(VerifyingSource, ChecksSizeAndDigestAtTheEnd) {
  TempDir dir;
  const Bytes data = testing::random_bytes(100000, 4);
  testing::write_file(dir.file("b"), data);
  auto drain = [&](const std::string& digest, int64_t size) -> Status {
    const int fd = ::open(dir.file("b").c_str(), O_RDONLY);
    VerifyingSource s(fd, "b", digest, size);
    std::vector<uint8_t> buf(4096);
    for (;;) {
      auto n = s.read(buf.data(), buf.size());
      if (!n.ok()) return n.status();
      if (*n == 0) return s.verified() ? Status::Ok() : Internal("not verified");
    }
  };
  EXPECT_TRUE(drain(digest_of(data), 100000).ok());
  EXPECT_EQ(drain(digest_of(data), 99999).code(), StatusCode::kIntegrityError);
  EXPECT_EQ(drain(digest_of(data), 100001).code(), StatusCode::kIntegrityError);
  EXPECT_EQ(drain(digest_of(Bytes{1, 2}), 100000).code(), StatusCode::kIntegrityError);
}

}  // namespace
}  // namespace layercrypt
