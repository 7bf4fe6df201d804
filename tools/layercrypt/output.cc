// tools/layercrypt/output.cc: what `layercrypt` prints (cli.h).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "engine/image/image_json.h"
#include "engine/stream/selfcheck.h"
#include "tools/layercrypt/cli.h"

namespace layercrypt::cli {
namespace {

// ProgressBar draws one line on a terminal's stderr: the layer, a bar,
// MB done, GB/s and the time left; redrawn at most ten times a second.
// Layers processed at once report from several threads: the bar follows
// one layer until it is done.
class ProgressBar {
 public:
  ProgressBar() : tty_(isatty(STDERR_FILENO) != 0) {}
  void update(const std::string& layer, uint64_t done, uint64_t total) {
    if (!tty_) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (layer != layer_ && !layer_.empty() && !finished_) return;
    finished_ = done >= total;
    const auto now = std::chrono::steady_clock::now();
    if (layer != layer_) {
      layer_ = layer;
      start_ = now;
    } else if (done < total && now - last_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const int width = 24, filled = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    const double eta = rate > 0 ? static_cast<double>(total - std::min(done, total)) / rate : 0;
    std::fprintf(stderr, "\r  %-28.28s [%s] %7.1f/%.1f MB  %5.2f GB/s  ETA %4.1f s ", layer.c_str(),
                 bar.c_str(), static_cast<double>(done) / 1e6, static_cast<double>(total) / 1e6,
                 rate / 1e9, eta);
  }
  void end_line() {
    std::lock_guard<std::mutex> lock(mu_);
    if (tty_ && !layer_.empty()) std::fprintf(stderr, "\r\033[K");
    layer_.clear();
  }

 private:
  std::mutex mu_;
  bool finished_ = false;
  bool tty_;
  std::string layer_;
  std::chrono::steady_clock::time_point start_, last_;
};

ProgressBar g_bar;

}  // namespace

int run_selfcheck(bool verbose) {
  const auto results = layercrypt::run_self_check();
  bool all_ok = true;
  for (const auto& r : results) {
    std::printf("%-50s %s", r.name.c_str(), r.ok ? "ok" : "FAILED");
    if (!r.ok || verbose) std::printf("  (%s)", r.detail.c_str());
    std::printf("\n");
    all_ok = all_ok && r.ok;
  }
  if (!all_ok) {
    std::fprintf(stderr,
                 "layercrypt: self-check failed: this build or CPU computes wrong "
                 "results; do not use it to encrypt or decrypt\n");
    return 1;
  }
  std::printf("self-check: %zu known-answer checks passed\n", results.size());
  return 0;
}

int fail(const layercrypt::Status& st) {
  std::fprintf(stderr, "layercrypt: %s\n", st.message().c_str());
  return 1;
}

// print_warnings writes the report's warnings to stderr, one line each.
void print_warnings(const layercrypt::ImageReport& rep) {
  for (const auto& w : rep.warnings) std::fprintf(stderr, "layercrypt: warning: %s\n", w.c_str());
}

// print_layer reports one processed layer on stderr when it is a terminal.
void print_layer(const layercrypt::ImageLayerReport& r) {
  if (!isatty(STDERR_FILENO)) return;
  g_bar.end_line();
  const double gbs = r.seconds > 0 ? static_cast<double>(r.bytes) / r.seconds / 1e9 : 0;
  std::fprintf(stderr, "  layer %zu%s%s  %-9s %s  %.1f MB  %.2f s  %.2f GB/s\n", r.index,
               r.platform.empty() ? "" : " ", r.platform.c_str(), r.action.c_str(),
               r.from_digest.substr(0, 19).c_str(), static_cast<double>(r.bytes) / 1e6, r.seconds,
               gbs);
}

void update_progress(const std::string& layer, uint64_t done, uint64_t total) {
  g_bar.update(layer, done, total);
}

// print_stats writes each processed layer's pipeline statistics to stderr
// (--stats): how long each stage was busy, to see where the time goes.
void print_stats(const layercrypt::ImageReport& rep) {
  for (const auto& l : rep.layers) {
    if (l.pipeline_stats.empty()) continue;
    std::fprintf(stderr, "layer %zu%s%s %s, %.3f s in all:\n%s", l.index,
                 l.platform.empty() ? "" : " ", l.platform.c_str(), l.from_digest.c_str(),
                 l.seconds, l.pipeline_stats.c_str());
  }
}

void print_summary(const layercrypt::ImageReport& rep, const char* verb, const std::string& dst,
                   bool json, const std::string& src) {
  if (json) {
    std::printf("%s\n", layercrypt::image_report_json(rep, verb, src, dst, 2).c_str());
    return;
  }
  size_t n = 0;
  for (const auto& l : rep.layers) n += l.action != "unchanged";
  const double gbs =
      rep.seconds > 0 ? static_cast<double>(rep.bytes_processed) / rep.seconds / 1e9 : 0;
  std::printf("%s %zu layer%s (%.1f MB) in %.2f s (%.2f GB/s) -> %s\n", verb, n, n == 1 ? "" : "s",
              static_cast<double>(rep.bytes_processed) / 1e6, rep.seconds, gbs, dst.c_str());
}

}  // namespace layercrypt::cli
