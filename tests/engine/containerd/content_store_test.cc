// Tests for engine/containerd/content_store.h: containerd's content store
// laid out in a temp dir as containerd lays it out, filled with the Go-made
// images' blobs; containerd's flags and config.toml; finding the root of a
// running process named containerd.
#include "engine/containerd/content_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/hex.h"
#include "kernels/sha256.h"
#include "tests/support/ocicrypt_vectors.h"
#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ocicrypt_vectors_dir;
using testing::read_text;
using testing::TempDir;

constexpr std::string_view kGzipEncrypted = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted";

std::string digest_of(std::string_view data) {
  std::array<uint8_t, 32> d{};
  EXPECT_TRUE(kernels::sha256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), d.data(),
                              d.size()));
  return sha256_digest_string(d);
}

// Store is a containerd root under a temp dir.
class Store {
 public:
  Store() : blobs_(dir_.path() + "/io.containerd.content.v1.content/blobs/sha256") {
    fs::create_directories(blobs_);
  }
  const std::string& root() const { return dir_.path(); }
  // put stores `data` under `digest` (default: its own), newer than the last.
  std::string put(std::string_view data, std::string digest = "") {
    if (digest.empty()) digest = digest_of(data);
    const std::string path = blobs_ + "/" + digest.substr(7);
    testing::write_file(path, testing::Bytes(data.begin(), data.end()));
    clock_ += 10;
    const timespec times[2] = {{clock_, 0}, {clock_, 0}};
    EXPECT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
    return digest;
  }
  // put_manifest stores image `image`'s manifest; returns its text.
  std::string put_manifest(const std::string& image) {
    const std::string dir = ocicrypt_vectors_dir() + "images/" + image;
    const json index = json::parse(read_text(dir + "/index.json"));
    const std::string digest = index["manifests"][0]["digest"];
    const std::string text = read_text(dir + "/blobs/sha256/" + digest.substr(7));
    put(text);
    return text;
  }

 private:
  TempDir dir_;
  std::string blobs_;
  time_t clock_ = 1700000000;
};

TEST(ContentStore, FindsEncryptedLayersNewestManifestFirst) {
  Store s;
  const json older = json::parse(s.put_manifest("enc-jwe-rsa2048"));
  const std::string newer_text = s.put_manifest("ctrenc-add-ecp256");  // same layer blobs
  const json newer = json::parse(newer_text);
  s.put(R"({"schemaVersion":2,"config":{}})");  // newest, but no encrypted layer
  ContentStore store(s.root());
  ASSERT_TRUE(store.exists());

  ContentScanStats stats;
  auto all = store.find_layer_descriptors("", "", {}, &stats);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 8u);
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_EQ(stats.blobs_read, 3u);
  EXPECT_EQ(stats.manifests, 2u);
  EXPECT_EQ(stats.rejected, 0u);
  EXPECT_EQ((*all)[0].manifest_digest, digest_of(newer_text));
  using Map = std::map<std::string, std::string>;
  EXPECT_EQ((*all)[0].descriptor.annotations, newer["layers"][0]["annotations"].get<Map>());
  EXPECT_EQ((*all)[4].descriptor.annotations, older["layers"][0]["annotations"].get<Map>());

  const std::string layer0 = older["layers"][0]["digest"];
  auto one = store.find_layer_descriptors("", layer0, {}, nullptr);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 2u);
  for (const auto& c : *one) EXPECT_EQ(c.descriptor.digest, layer0);

  auto gz = store.find_layer_descriptors(kGzipEncrypted, "", {}, nullptr);
  ASSERT_TRUE(gz.ok());
  EXPECT_EQ(gz->size(), 4u);  // layers 0 and 3 of each
  for (const auto& c : *gz) EXPECT_EQ(c.descriptor.media_type, kGzipEncrypted);
}

TEST(ContentStore, LimitsBoundTheScan) {
  Store s;
  s.put_manifest("enc-jwe-ecp256");
  for (int i = 0; i < 20; ++i) s.put("{\"n\":" + std::to_string(i) + "}");  // all newer
  s.put(std::string(70000, '{'));  // over the size cap below
  ContentStore store(s.root());
  ContentScanStats stats;
  auto r = store.find_layer_descriptors("", "", {.max_manifest_size = 65536, .max_blobs_read = 20},
                                        &stats);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());  // the manifest is the 21st newest small blob
  EXPECT_EQ(stats.entries, 22u);
  EXPECT_EQ(stats.small_blobs, 21u);
  EXPECT_EQ(stats.blobs_read, 20u);
  r = store.find_layer_descriptors("", "", {.max_manifest_size = 65536, .max_blobs_read = 21},
                                   &stats);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 4u);
}

TEST(ContentStore, ManifestsThatDoNotMatchTheirDigestAreRejected) {
  Store s;
  const std::string text = s.put_manifest("enc-jwe-ecp256");
  std::string bad = text;
  bad[bad.find("\"layers\"") + 1] = 'L';  // still JSON, still a manifest
  s.put(bad, digest_of(text));
  s.put("{\"layers\":[+encrypted");  // broken JSON under its own digest
  ContentStore store(s.root());
  ContentScanStats stats;
  auto r = store.find_layer_descriptors("", "", {}, &stats);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(stats.rejected, 2u);
}

TEST(ContentStore, BlobStoreReads) {
  Store s;
  const std::string text = s.put_manifest("enc-jwe-ecp256");
  const std::string d = digest_of(text);
  ContentStore store(s.root());
  EXPECT_TRUE(store.has_blob(d));
  EXPECT_FALSE(store.has_blob(digest_of("other")));
  EXPECT_FALSE(store.has_blob("sha256:../../etc/passwd"));
  EXPECT_EQ(store.blob_size(d), text.size());
  auto bytes = store.read_blob(d, static_cast<int64_t>(text.size()), 1 << 20);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(std::string(bytes->begin(), bytes->end()), text);
  EXPECT_EQ(store.read_blob(d, 3, 1 << 20).status().code(), StatusCode::kIntegrityError);
  s.put("tampered", d);
  EXPECT_EQ(store.read_blob(d, 8, 1 << 20).status().code(), StatusCode::kIntegrityError);
  auto src = store.open_blob_source(d, 8, /*verify=*/false);
  ASSERT_TRUE(src.ok());
  EXPECT_TRUE((*src)->can_rewind());
  EXPECT_NE(store.describe().find(s.root()), std::string::npos);
}

TEST(ContentStore, MissingRootIsAnErrorNamingIt) {
  ContentStore store("/nonexistent/ctd");
  EXPECT_FALSE(store.exists());
  auto r = store.find_layer_descriptors("", "", {}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(
      r.status().message().find("/nonexistent/ctd/io.containerd.content.v1.content/blobs/sha256"),
      std::string::npos);
}

TEST(ContainerdFlags, RootAndConfig) {
  auto a = containerd_root_from_args({"containerd", "--config", "/etc/x.toml", "--root=/srv/ctd"});
  EXPECT_EQ(a.root, "/srv/ctd");
  EXPECT_EQ(a.config, "/etc/x.toml");
  a = containerd_root_from_args({"containerd", "-c", "c.toml", "-root", "r", "--", "--root", "no"});
  EXPECT_EQ(a.root, "r");
  EXPECT_EQ(a.config, "c.toml");
  a = containerd_root_from_args({"containerd", "--config=a", "-config=b", "--log-level", "debug"});
  EXPECT_EQ(a.root, "");
  EXPECT_EQ(a.config, "b");
  a = containerd_root_from_args({"containerd", "--root"});
  EXPECT_EQ(a.root, "");
}

TEST(ContainerdConfig, TopLevelRootOfEitherVersion) {
  auto v2 = root_from_config_toml("version = 2\nroot = \"/a\"\n[plugins.\"x\"]\n  root = \"/no\"\n",
                                  "v2");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(*v2, "/a");
  auto v3 = root_from_config_toml("version = 3\n[plugins.'io.containerd.cri.v1.images']\n", "v3");
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(*v3, "");
  auto bad = root_from_config_toml("root = \"/a\nx", "/etc/containerd/config.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/etc/containerd/config.toml"), std::string::npos);
  EXPECT_NE(bad.status().message().find("line 1"), std::string::npos);
  auto num = root_from_config_toml("root = 7", "c");
  ASSERT_FALSE(num.ok());
  EXPECT_NE(num.status().message().find("not a string"), std::string::npos);
}

// run_named_containerd starts /bin/bash copied as DIR/containerd with
// `args` (bash runs `sleep` from -c and ignores the rest), cwd DIR.
pid_t run_named_containerd(const std::string& dir, const std::vector<std::string>& args) {
  // A fresh copy each time: overwriting one that a process (or its
  // forked child) still executes fails with ETXTBSY.
  static int n = 0;
  const std::string bin = dir + "/bin" + std::to_string(++n);
  fs::create_directories(bin);
  const std::string exe = bin + "/containerd";
  fs::copy_file("/bin/bash", exe);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // stop() kills the group: bash and its sleep
    if (::chdir(dir.c_str()) != 0) _exit(127);
    std::vector<char*> argv;
    std::vector<std::string> all = {"containerd", "-c", "sleep 30; :"};
    all.insert(all.end(), args.begin(), args.end());
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    // A file just written can be briefly busy for exec (ETXTBSY) on a
    // loaded machine: try again.
    for (int i = 0; i < 100; ++i) {
      ::execv(exe.c_str(), argv.data());
      if (errno != ETXTBSY) break;
      ::usleep(10000);
    }
    _exit(127);
  }
  // Wait until the process is the copy (exec done) and its arguments are
  // in place, up to 30 s on a busy machine: during execve the kernel names
  // the new executable in /proc/PID/exe a moment before /proc/PID/cmdline
  // shows the new arguments. A child that died (exec failed) fails the test.
  const std::string proc = "/proc/" + std::to_string(pid);
  for (int i = 0; i < 3000; ++i) {
    std::error_code ec;
    if (fs::read_symlink(proc + "/exe", ec).filename() == "containerd" &&
        testing::read_text(proc + "/cmdline").starts_with(std::string("containerd\0-c\0", 14)))
      break;
    int st;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      ADD_FAILURE() << "the process named containerd exited before it could be read";
      return pid;
    }
    ::usleep(10000);
  }
  return pid;
}

void stop(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int st;
  ::waitpid(pid, &st, 0);
}

TEST(DiscoverContainerdRoot, FromTheParentsFlagsAndConfig) {
  TempDir dir;
  testing::write_file(dir.file("cfg.toml"), testing::Bytes{});
  {
    const std::string toml = "version = 3\nroot = \"" + dir.path() + "/from-config\"\n";
    testing::write_file(dir.file("cfg.toml"), testing::Bytes(toml.begin(), toml.end()));
  }
  pid_t pid = run_named_containerd(dir.path(), {"--root", "/srv/ctd-root"});
  std::vector<std::string> notes;
  ContainerdRoot r = discover_containerd_root(pid, &notes);
  stop(pid);
  EXPECT_EQ(r.path, "/srv/ctd-root");
  EXPECT_EQ(r.origin, "containerd's --root");

  pid = run_named_containerd(dir.path(), {"--config=cfg.toml"});  // relative to its cwd
  r = discover_containerd_root(pid, &notes);
  stop(pid);
  EXPECT_EQ(r.path, dir.path() + "/from-config") << (notes.empty() ? "" : notes.front());
  EXPECT_EQ(r.origin, "root in " + dir.path() + "/cfg.toml");

  pid = run_named_containerd(dir.path(), {"--config", "missing.toml"});
  notes.clear();
  r = discover_containerd_root(pid, &notes);
  stop(pid);
  if (!fs::exists(kDefaultContainerdConfig)) {
    EXPECT_EQ(r.path, kDefaultContainerdRoot);
    EXPECT_EQ(r.origin, "the default");
  }
  ASSERT_FALSE(notes.empty());
  EXPECT_NE(notes[0].find("missing.toml"), std::string::npos);
}

TEST(DiscoverContainerdRoot, AParentThatIsNotContainerd) {
  // This test's own process: not containerd, so its flags are not read.
  std::vector<std::string> notes;
  ContainerdRoot r = discover_containerd_root(::getpid(), &notes);
  if (!fs::exists(kDefaultContainerdConfig)) {
    EXPECT_EQ(r.path, kDefaultContainerdRoot);
  }
  EXPECT_FALSE(r.path.empty());
}

}  // namespace
}  // namespace layercrypt
