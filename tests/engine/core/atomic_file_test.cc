// tests/engine/core/atomic_file_test.cc: TempFile's contract (atomic_file.h):
// names, modes, publish with and without replacing, cleanup.
#include "engine/core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/io.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

using testing::Bytes;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// UmaskScope sets the process umask for its lifetime.
class UmaskScope {
 public:
  explicit UmaskScope(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskScope() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(AtomicFile, TemporaryIsHiddenBesideTheTarget) {
  TempDir dir;
  auto tmp = TempFile::create(dir.file("out.json"));
  ASSERT_TRUE(tmp.ok()) << tmp.status().message();
  EXPECT_GE(tmp->fd(), 0);
  EXPECT_EQ(tmp->dir(), dir.path());
  const std::vector<std::string> names = Listing(dir.path());
  ASSERT_EQ(names.size(), 1u);
  EXPECT_TRUE(std::regex_match(names[0], std::regex(R"(\.out\.json\.tmp-[0-9a-f]{16})")))
      << names[0];
  EXPECT_EQ(tmp->path(), dir.file(names[0]));
}

TEST(AtomicFile, CreateInUsesThePrefixAndSuffix) {
  TempDir dir;
  auto tmp = TempFile::create_in(dir.path(), {.name_prefix = ".blob-", .name_suffix = ".tmp"});
  ASSERT_TRUE(tmp.ok()) << tmp.status().message();
  const std::vector<std::string> names = Listing(dir.path());
  ASSERT_EQ(names.size(), 1u);
  EXPECT_TRUE(std::regex_match(names[0], std::regex(R"(\.blob-[0-9a-f]{16}\.tmp)"))) << names[0];
  // A target not known yet needs a prefix.
  auto bad = TempFile::create_in(dir.path(), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal);
  EXPECT_EQ(temporary_name(dir.path(), ".x-", ".tmp").size(), dir.path().size() + 1 + 3 + 16 + 4);
}

TEST(AtomicFile, PublishReplacesTheTarget) {
  TempDir dir;
  const std::string target = dir.file("index.json");
  write_file(target, {'o', 'l', 'd'});
  auto tmp = TempFile::create(target, {.mode = 0644});
  ASSERT_TRUE(tmp.ok()) << tmp.status().message();
  ASSERT_TRUE(tmp->write(Span("new contents")).ok());
  // Until published, readers see the old file.
  EXPECT_EQ(Str(read_file(target)), "old");
  EXPECT_FALSE(tmp->published());
  const Status st = tmp->publish(target);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(tmp->published());
  EXPECT_EQ(tmp->fd(), -1);
  EXPECT_EQ(Str(read_file(target)), "new contents");
  EXPECT_EQ(Listing(dir.path()), std::vector<std::string>{"index.json"});
  // Publishing twice is a bug, reported as one; the file stays.
  EXPECT_EQ(tmp->publish(target).code(), StatusCode::kInternal);
  EXPECT_EQ(Str(read_file(target)), "new contents");
}

TEST(AtomicFile, PublishedFileOutlivesTheTempFile) {
  TempDir dir;
  const std::string target = dir.file("a");
  for (Durability d : {Durability::kFileAndDirectory, Durability::kFile, Durability::kNone}) {
    {
      auto tmp = TempFile::create(target);
      ASSERT_TRUE(tmp.ok());
      ASSERT_TRUE(tmp->write(Span("x")).ok());
      ASSERT_TRUE(tmp->publish(target, d).ok());
    }
    EXPECT_EQ(Str(read_file(target)), "x");
    EXPECT_EQ(Listing(dir.path()), std::vector<std::string>{"a"});
    std::filesystem::remove(target);
  }
}

TEST(AtomicFile, PublishNoReplaceCreatesOnceThenRefusesToOverwrite) {
  TempDir dir;
  const std::string target = dir.file("k.kek");
  for (const char* contents : {"first\n", "second\n"}) {
    SCOPED_TRACE(contents);
    auto tmp = TempFile::create(target);
    ASSERT_TRUE(tmp.ok());
    ASSERT_TRUE(tmp->write(Span(contents)).ok());
    bool exists = false;
    const Status st = tmp->publish_no_replace(target, Durability::kFileAndDirectory, &exists);
    // The first one creates the file; the second finds it and leaves it.
    const bool first = std::string(contents) == "first\n";
    EXPECT_EQ(st.ok(), first) << st.message();
    EXPECT_EQ(exists, !first);
    EXPECT_EQ(tmp->published(), first);
    if (!first) {
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(st.message().find(target), std::string::npos) << st.message();
      EXPECT_NE(st.message().find("refusing to overwrite"), std::string::npos) << st.message();
    }
  }
  EXPECT_EQ(Str(read_file(target)), "first\n");
  // The refused temporary is gone with its TempFile.
  EXPECT_EQ(Listing(dir.path()), std::vector<std::string>{"k.kek"});
}

TEST(AtomicFile, PublishNoReplaceRefusesADanglingSymlink) {
  TempDir dir;
  const std::string target = dir.file("link");
  ASSERT_EQ(::symlink("nowhere", target.c_str()), 0);
  {
    auto tmp = TempFile::create(target);
    ASSERT_TRUE(tmp.ok());
    bool exists = false;
    EXPECT_FALSE(tmp->publish_no_replace(target, Durability::kNone, &exists).ok());
    EXPECT_TRUE(exists);
  }
  EXPECT_TRUE(std::filesystem::is_symlink(target));
  EXPECT_FALSE(std::filesystem::exists(dir.file("nowhere")));
  EXPECT_EQ(Listing(dir.path()), std::vector<std::string>{"link"});
}

TEST(AtomicFile, DestructorRemovesAnUnpublishedFile) {
  TempDir dir;
  {
    auto tmp = TempFile::create(dir.file("out"));
    ASSERT_TRUE(tmp.ok());
    ASSERT_TRUE(tmp->write(Span("partial")).ok());
    EXPECT_EQ(Listing(dir.path()).size(), 1u);
  }
  EXPECT_TRUE(Listing(dir.path()).empty());
  // A closed file is removed too, and a moved-from TempFile holds nothing.
  {
    auto made = TempFile::create(dir.file("out"), {.register_temporary = true});
    ASSERT_TRUE(made.ok());
    TempFile tmp = std::move(made).value();
    ASSERT_TRUE(tmp.close().ok());
    TempFile other;
    other = std::move(tmp);
    EXPECT_TRUE(tmp.path().empty());
    EXPECT_EQ(tmp.fd(), -1);
    EXPECT_EQ(Listing(dir.path()).size(), 1u);
  }
  EXPECT_TRUE(Listing(dir.path()).empty());
}

TEST(AtomicFile, ModeIsExactUnlessTheUmaskIsAskedFor) {
  TempDir dir;
  UmaskScope mask(077);
  {
    auto tmp = TempFile::create(dir.file("pub.pem"), {.mode = 0644});
    ASSERT_TRUE(tmp.ok());
    EXPECT_EQ(ModeOf(tmp->path()), 0644u);
    ASSERT_TRUE(tmp->publish(dir.file("pub.pem")).ok());
    EXPECT_EQ(ModeOf(dir.file("pub.pem")), 0644u);
  }
  {
    auto tmp = TempFile::create(dir.file("key.pem"));  // default 0600
    ASSERT_TRUE(tmp.ok());
    EXPECT_EQ(ModeOf(tmp->path()), 0600u);
  }
  {
    UmaskScope inner(027);
    auto tmp = TempFile::create(dir.file("blob"), {.mode = 0666, .apply_umask = true});
    ASSERT_TRUE(tmp.ok());
    EXPECT_EQ(ModeOf(tmp->path()), 0640u);
  }
}

TEST(AtomicFile, CreateFailsInAMissingDirectory) {
  TempDir dir;
  const std::string missing = dir.file("no/such");
  auto tmp = TempFile::create(missing + "/out");
  ASSERT_FALSE(tmp.ok());
  EXPECT_EQ(tmp.status().code(), StatusCode::kIoError);
  EXPECT_NE(tmp.status().message().find(missing), std::string::npos) << tmp.status().message();
  EXPECT_TRUE(Listing(dir.path()).empty());
}

TEST(AtomicFile, UnpublishTakesBackOnlyItsOwnFile) {
  TempDir dir;
  const std::string target = dir.file("k.pub.pem");
  {
    auto tmp = TempFile::create(target);
    ASSERT_TRUE(tmp.ok());
    ASSERT_TRUE(tmp->publish_no_replace(target).ok());
    tmp->unpublish(target);
  }
  EXPECT_TRUE(Listing(dir.path()).empty());
  {
    auto tmp = TempFile::create(target);
    ASSERT_TRUE(tmp.ok());
    ASSERT_TRUE(tmp->publish(target).ok());
    // Someone else's file now has the name: it stays.
    write_file(dir.file("other"), {'o'});
    std::filesystem::rename(dir.file("other"), target);
    tmp->unpublish(target);
  }
  EXPECT_EQ(Str(read_file(target)), "o");
}

TEST(AtomicFileDeathTest, RegisteredTemporaryIsRemovedAtSignalTime) {
  TempDir dir;
  // remove_temporaries keeps the registry locked for good: run it in a
  // child process.
  EXPECT_EXIT(
      {
        auto tmp = TempFile::create(dir.file("out"), {.register_temporary = true});
        if (!tmp.ok() || Listing(dir.path()).size() != 1) ::_exit(2);
        remove_temporaries();
        ::_exit(Listing(dir.path()).empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace layercrypt
