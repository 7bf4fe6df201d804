// bench/bench_content_store.cc: what layercrypt-decoder's content-store
// lookup costs when containerd passes no payload
// (engine/containerd/content_store.h, find_layer_descriptors).
//
// A containerd root in $TMPDIR holds 10,000 unrelated blobs, as a busy node
// does, plus the pulled image's manifest, written last:
//   kMixed      8,000 layer blobs (sparse files of 1-50 MB: listed and
//               stat'ed, never read), 1,000 image configs (JSON, ~1.5 KB) and
//               1,000 manifests of unencrypted images (~1 KB);
//   kEncrypted  10,000 manifests of other encrypted images (~3 KB, each
//               mentioning +encrypted), the worst case: every blob read
//               passes the cheap tests and is hashed and parsed.
// Each iteration scans the whole store (the page cache is warm, as it is
// right after containerd wrote the manifest). Counters: entries listed and
// blobs read per scan.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/containerd/content_store.h"
#include "engine/core/hex.h"
#include "kernels/sha256.h"

namespace {

namespace fs = std::filesystem;

enum Kind { kMixed, kEncrypted };

std::string digest_hex(const std::string& data) {
  uint8_t d[32];
  layercrypt::kernels::sha256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), d, 32);
  return layercrypt::to_hex(d, 32);
}

class Store {
 public:
  explicit Store(Kind kind) {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/lc-bench-ctd-XXXXXX";
    root_ = ::mkdtemp(tmpl.data());
    blobs_ = root_ + "/io.containerd.content.v1.content/blobs/sha256";
    fs::create_directories(blobs_);
    const std::string pad(900, 'x');
    for (int i = 0; i < 10000; ++i) {
      const std::string n = std::to_string(i);
      if (kind == kEncrypted) {
        put("{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1."
            "tar+gzip+encrypted\",\"digest\":\"sha256:" +
            digest_hex("l" + n) + "\",\"size\":" + n +
            ",\"annotations\":{\"org.opencontainers.image.enc.keys.jwe\":\"" + pad + pad + n +
            "\",\"org.opencontainers.image.enc.pubopts\":\"" + pad + "\"}}]}");
      } else if (i < 8000) {
        const std::string path = blobs_ + "/" + digest_hex("layer" + n);
        const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0644);
        if (fd < 0 || ::ftruncate(fd, (1 + i % 50) << 20) != 0) std::abort();
        ::close(fd);
      } else if (i < 9000) {
        put("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"" + pad + n +
            "\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + pad + "\"]}}");
      } else {
        put("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" + digest_hex(n) +
            "\"},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
            "\"digest\":\"sha256:" +
            digest_hex("l" + n) + "\",\"size\":" + n + ",\"x\":\"" + pad + "\"}]}");
      }
    }
    // The image being pulled: its manifest is the newest blob.
    ::usleep(20000);
    target_ = "sha256:" + digest_hex("target-layer");
    put("{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1."
        "tar+gzip+encrypted\",\"digest\":\"" +
        target_ +
        "\",\"size\":1,\"annotations\":{"
        "\"org.opencontainers.image.enc.keys.jwe\":\"e30=\"}}]}");
  }
  ~Store() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }
  const std::string& target() const { return target_; }

 private:
  void put(const std::string& data) {
    std::ofstream(blobs_ + "/" + digest_hex(data), std::ios::binary) << data;
  }
  std::string root_, blobs_, target_;
};

void BM_FindLayer(benchmark::State& state) {
  const Kind kind = static_cast<Kind>(state.range(0));
  Store store(kind);
  layercrypt::ContentStore cs(store.root());
  layercrypt::ContentScanStats stats;
  for (auto _ : state) {
    auto found = cs.find_layer_descriptors("", "", {}, &stats);
    if (!found.ok() || found->empty() || found->front().descriptor.digest != store.target()) {
      state.SkipWithError("the pulled image's layer was not found");
      break;
    }
    benchmark::DoNotOptimize(found);
  }
  state.counters["entries"] = static_cast<double>(stats.entries);
  state.counters["read"] = static_cast<double>(stats.blobs_read);
  state.SetLabel(kind == kMixed ? "10k blobs: layers, configs, plain manifests"
                                : "10k manifests of other encrypted images");
}
BENCHMARK(BM_FindLayer)->Arg(kMixed)->Arg(kEncrypted)->Unit(benchmark::kMillisecond);

}  // namespace
