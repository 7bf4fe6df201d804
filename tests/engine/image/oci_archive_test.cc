// tests/engine/oci_archive_test.cc: tar members read in place, archives
// written whole, and OCI layouts backed by an archive.
#include "engine/image/oci_archive.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/image/oci_layout.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using testing::Bytes;
using testing::TempDir;

size_t entries_in(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

Status add(ArchiveWriter& w, const std::string& name, const Bytes& data) {
  LC_ASSIGN_OR_RETURN(uint64_t off, w.begin_member());
  // Two writes, as a pipeline would.
  LC_RETURN_IF_ERROR(w.write_at(off, data.data(), data.size() / 2));
  LC_RETURN_IF_ERROR(w.write_at(off + data.size() / 2, data.data() + data.size() / 2,
                                data.size() - data.size() / 2));
  return w.end_member(off, data.size(), name);
}

TEST(ArchiveWriter, WritesATarThatScansBack) {
  TempDir dir;
  const std::string path = dir.file("img.tar");
  const Bytes a = testing::random_bytes(1000, 1), b = testing::random_bytes(513, 2);
  {
    auto w = ArchiveWriter::create(path);
    ASSERT_TRUE(w.ok()) << w.status().message();
    ASSERT_TRUE(add(**w, "blobs/sha256/a", a).ok());
    // A dropped member leaves nothing; a second copy of a name is dropped.
    auto off = (*w)->begin_member();
    ASSERT_TRUE(off.ok());
    ASSERT_TRUE((*w)->write_at(*off, b.data(), b.size()).ok());
    (*w)->abort_member(*off);
    ASSERT_TRUE(add(**w, "blobs/sha256/a", b).ok());
    ASSERT_TRUE(add(**w, "blobs/sha256/b", b).ok());
    EXPECT_TRUE((*w)->has("blobs/sha256/b"));
    EXPECT_FALSE(std::filesystem::exists(path));  // only a temporary so far
    EXPECT_EQ(entries_in(dir.path()), 1u);
    ASSERT_TRUE((*w)->commit().ok());
  }
  EXPECT_EQ(entries_in(dir.path()), 1u);
  auto r = ArchiveReader::open(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)->index().members().size(), 3u);  // oci-layout, a, b
  EXPECT_TRUE((*r)->read_member("blobs/sha256/a", 1 << 20).value() == a);
  EXPECT_TRUE((*r)->read_member("blobs/sha256/b", 1 << 20).value() == b);
  EXPECT_EQ((*r)->read_member("blobs/sha256/c", 1 << 20).status().code(), StatusCode::kDataError);
  // A range source reads the member and can be rewound.
  auto s = (*r)->source("blobs/sha256/b");
  ASSERT_TRUE(s.ok());
  Bytes got(2000);
  EXPECT_EQ(read_full(**s, got.data(), got.size()).value(), b.size());
  ASSERT_TRUE((*s)->rewind().ok());
  EXPECT_EQ(read_full(**s, got.data(), got.size()).value(), b.size());
  got.resize(b.size());
  EXPECT_TRUE(got == b);
  const Bytes bytes = testing::read_file(path);
  EXPECT_EQ(bytes.size() % 512, 0u);
}

TEST(ArchiveWriter, AnUncommittedArchiveLeavesNothing) {
  TempDir dir;
  {
    auto w = ArchiveWriter::create(dir.file("x.tar"));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(add(**w, "blobs/sha256/a", testing::random_bytes(100, 3)).ok());
  }
  EXPECT_EQ(entries_in(dir.path()), 0u);
}

TEST(TarIndex, RefusesTruncatedAndCorruptArchives) {
  TempDir dir;
  const std::string path = dir.file("img.tar");
  {
    auto w = ArchiveWriter::create(path);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(add(**w, "blobs/sha256/a", testing::random_bytes(5000, 4)).ok());
    ASSERT_TRUE((*w)->commit().ok());
  }
  const Bytes good = testing::read_file(path);
  auto scan = [&](const Bytes& content) -> Status {
    testing::write_file(dir.file("bad.tar"), content);
    const int fd = ::open(dir.file("bad.tar").c_str(), O_RDONLY);
    auto idx = TarIndex::scan(fd, "bad.tar");
    ::close(fd);
    return idx.status();
  };
  EXPECT_TRUE(scan(good).ok());
  const Status cut = scan(Bytes(good.begin(), good.begin() + 5 * 512 + 100));
  EXPECT_EQ(cut.code(), StatusCode::kDataError);
  EXPECT_NE(cut.message().find("truncated"), std::string::npos) << cut.message();
  const Status no_end = scan(Bytes(good.begin(), good.end() - 1024));
  EXPECT_NE(no_end.message().find("truncated"), std::string::npos) << no_end.message();
  Bytes flipped = good;
  flipped[4 * 512 + 5] ^= 1;  // the blob's header (after blobs/, blobs/sha256/, oci-layout + data)
  const Status bad = scan(flipped);
  EXPECT_EQ(bad.code(), StatusCode::kDataError);
  EXPECT_NE(bad.message().find("corrupt"), std::string::npos) << bad.message();
  EXPECT_NE(scan(Bytes(100, 7)).message().find("not a tar"), std::string::npos);
  EXPECT_NE(scan(Bytes{}).message().find("empty"), std::string::npos);
}

TEST(OciLayout, ArchiveWrittenAndReadBack) {
  TempDir dir;
  const std::string path = dir.file("img.tar");
  OciRef ref{path, std::nullopt, true};
  const Bytes data = testing::random_bytes(70000, 5);
  std::string d;
  {
    auto l = OciLayout::open_for_write(ref, true);
    ASSERT_TRUE(l.ok()) << l.status().message();
    EXPECT_TRUE(l->is_archive());
    auto put = l->put_blob(data);
    ASSERT_TRUE(put.ok()) << put.status().message();
    d = *put;
    Json idx = l->index();
    idx["manifests"].push_back({{"mediaType", "x"}, {"digest", d}, {"size", data.size()}});
    ASSERT_TRUE(l->write_index(idx).ok());
  }
  auto again = OciLayout::open(ref);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->index()["manifests"].size(), 1u);
  EXPECT_TRUE(again->read_blob(d, static_cast<int64_t>(data.size())).value() == data);
  EXPECT_EQ(again->read_blob(d, 5).status().code(), StatusCode::kIntegrityError);
  // Rewriting it keeps the blobs its index still reaches and only those.
  {
    auto l = OciLayout::open_for_write(ref, false);
    ASSERT_TRUE(l.ok());
    Json idx = l->index();
    ASSERT_TRUE(l->write_index(idx).ok());
  }
  auto third = OciLayout::open(ref);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->has_blob(d));
  {
    auto l = OciLayout::open_for_write(ref, false);
    ASSERT_TRUE(l.ok());
    Json idx = l->index();
    idx["manifests"] = Json::array();
    ASSERT_TRUE(l->write_index(idx).ok());
  }
  EXPECT_FALSE(OciLayout::open(ref).value().has_blob(d));
  EXPECT_EQ(entries_in(dir.path()), 1u);
}

}  // namespace
}  // namespace layercrypt
