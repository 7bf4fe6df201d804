// tools/layercrypt/main.cc: the `layercrypt` command-line tool.
//
// The tool calls the engine only; every subcommand's --help ends with a
// worked example.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/image/image_crypt.h"
#include "engine/core/io.h"
#include "engine/keywrap/keygen.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/stream/layer_compress.h"
#include "engine/keywrap/recipients.h"
#include "engine/stream/selfcheck.h"
#include "engine/core/version.h"

namespace {

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
    std::fprintf(stderr, "layercrypt: self-check failed: this build or CPU computes wrong "
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

// Signals. SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken
// by one thread of their own, which removes the temporary files and
// directories the engine registered (engine/core/io.h) and then dies of the
// same signal, so the shell sees the usual status and nothing half-written
// stays behind. SIGKILL leaves temporaries; the next writer collects them.
void start_signal_thread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread made later
  std::thread([set] {
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    layercrypt::remove_temporaries();
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    raise(sig);
    _exit(128 + sig);
  }).detach();
}

// read_password_fd reads a password from file descriptor `fd` (ocicrypt's
// `fd=`: at most 64 bytes, up to the first newline).
layercrypt::StatusOr<layercrypt::kernels::SecretBytes> read_password_fd(const std::string& num) {
  char* end = nullptr;
  const long fd = std::strtol(num.c_str(), &end, 10);
  if (num.empty() || *end != '\0' || fd < 0 || fd > 1 << 20)
    return layercrypt::InvalidArgument("fd=" + num + " is not a file descriptor number");
  layercrypt::kernels::SecretBytes pw(64);
  size_t got = 0;
  while (got < pw.size()) {
    const ssize_t n = ::read(static_cast<int>(fd), pw.data() + got, pw.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return layercrypt::IoError("cannot read the password from fd " + num + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  pw.resize(got);
  return pw;
}

// prompt_password asks for the password of `path` on the terminal (echo
// off). kInvalidArgument when there is no terminal to ask on.
layercrypt::StatusOr<layercrypt::kernels::SecretBytes> prompt_password(const std::string& path) {
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0 || !isatty(STDIN_FILENO)) {
    if (tty >= 0) ::close(tty);
    return layercrypt::InvalidArgument(path + " is an encrypted private key: give its password as " +
                                       path + ":PASSWORD, :pass=PASSWORD, :file=FILE or :fd=N");
  }
  // Echo off before the prompt, so that nothing typed after it shows.
  termios old{};
  const bool have_term = tcgetattr(tty, &old) == 0;
  if (have_term) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  const std::string prompt = "Password for " + path + ": ";
  (void)!::write(tty, prompt.data(), prompt.size());
  layercrypt::kernels::SecretBytes pw;
  char c;
  while (::read(tty, &c, 1) == 1 && c != '\n' && pw.size() < 4096) pw.push_back(static_cast<uint8_t>(c));
  if (have_term) tcsetattr(tty, TCSAFLUSH, &old);
  (void)!::write(tty, "\n", 1);
  ::close(tty);
  return pw;
}

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
    std::fprintf(stderr, "\r  %-28.28s [%s] %7.1f/%.1f MB  %5.2f GB/s  ETA %4.1f s ",
                 layer.c_str(), bar.c_str(), static_cast<double>(done) / 1e6,
                 static_cast<double>(total) / 1e6, rate / 1e9, eta);
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

nlohmann::ordered_json report_json(const layercrypt::ImageReport& rep, const std::string& op,
                                   const std::string& src, const std::string& dst) {
  nlohmann::ordered_json j;
  j["operation"] = op;
  j["source"] = src;
  j["destination"] = dst;
  j["bytes"] = rep.bytes_processed;
  j["seconds"] = rep.seconds;
  j["manifests"] = rep.manifests;
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : rep.layers) {
    j["layers"].push_back({{"platform", l.platform}, {"index", l.index}, {"action", l.action},
                           {"from", l.from_digest}, {"to", l.to_digest},
                           {"fromMediaType", l.from_media_type}, {"toMediaType", l.to_media_type},
                           {"bytes", l.bytes}, {"seconds", l.seconds}});
  }
  return j;
}

// print_stats writes each processed layer's pipeline statistics to stderr
// (--stats): how long each stage was busy, to see where the time goes.
void print_stats(const layercrypt::ImageReport& rep) {
  for (const auto& l : rep.layers) {
    if (l.pipeline_stats.empty()) continue;
    std::fprintf(stderr, "layer %zu%s%s %s, %.3f s in all:\n%s", l.index, l.platform.empty() ? "" : " ",
                 l.platform.c_str(), l.from_digest.c_str(), l.seconds, l.pipeline_stats.c_str());
  }
}

void print_summary(const layercrypt::ImageReport& rep, const char* verb, const std::string& dst,
                   bool json, const std::string& src) {
  if (json) {
    std::printf("%s\n", report_json(rep, verb, src, dst).dump(2).c_str());
    return;
  }
  size_t n = 0;
  for (const auto& l : rep.layers) n += l.action != "unchanged";
  const double gbs = rep.seconds > 0 ? static_cast<double>(rep.bytes_processed) / rep.seconds / 1e9 : 0;
  std::printf("%s %zu layer%s (%.1f MB) in %.2f s (%.2f GB/s) -> %s\n", verb, n, n == 1 ? "" : "s",
              static_cast<double>(rep.bytes_processed) / 1e6, rep.seconds, gbs, dst.c_str());
}

// add_key_arg turns "FILE" or "FILE:PASSWORD" into raw key material, with
// the password spelled as ocicrypt's helpers (skopeo --decryption-key,
// ctr-enc --key) accept it: PASSWORD, pass=PASSWORD, file=PASSWORD_FILE
// (its first line) or fd=N (at most 64 bytes read from descriptor N). An
// encrypted key given without one is asked for on the terminal.
layercrypt::Status add_key_arg(const std::string& arg, layercrypt::DecryptKeys* keys) {
  std::string path = arg;
  std::optional<layercrypt::kernels::SecretBytes> password;
  const size_t colon = arg.find(':');
  if (colon != std::string::npos && access(arg.c_str(), F_OK) != 0) {
    path = arg.substr(0, colon);
    const std::string rest = arg.substr(colon + 1);
    if (rest.rfind("file=", 0) == 0) {
      auto pw = layercrypt::read_secret_file(rest.substr(5));
      if (!pw.ok()) return pw.status().with_context("password file");
      const auto nl = std::find(pw->begin(), pw->end(), '\n');
      pw->resize(static_cast<size_t>(nl - pw->begin()));
      if (!pw->empty() && pw->back() == '\r') pw->pop_back();
      password = std::move(*pw);
    } else if (rest.rfind("fd=", 0) == 0) {
      auto pw = read_password_fd(rest.substr(3));
      if (!pw.ok()) return pw.status();
      const auto nl = std::find(pw->begin(), pw->end(), '\n');
      pw->resize(static_cast<size_t>(nl - pw->begin()));
      password = std::move(*pw);
    } else if (rest.rfind("pass=", 0) == 0) {
      password = layercrypt::kernels::SecretBytes(rest.begin() + 5, rest.end());
    } else {
      password = layercrypt::kernels::SecretBytes(rest.begin(), rest.end());
    }
  }
  auto data = layercrypt::read_secret_file(path);
  if (!data.ok()) return data.status().with_context("--key");
  const auto kind = layercrypt::classify_key_file(*data, nullptr, nullptr);
  if (kind == layercrypt::KeyFileKind::kEncryptedPrivateKey && !password) {
    auto pw = prompt_password(path);
    if (!pw.ok()) return pw.status();
    password = std::move(*pw);
  }
  if (kind == layercrypt::KeyFileKind::kPublicKey)
    return layercrypt::InvalidArgument(path + " is a public key; --key needs the private key "
                                              "(the .pem next to the .pub.pem)");
  if (kind == layercrypt::KeyFileKind::kCertificate) {
    keys->certificates.emplace_back(data->begin(), data->end());
    return layercrypt::Status::Ok();
  }
  keys->private_keys.push_back(std::move(*data));
  keys->passwords.push_back(std::move(password));
  keys->key_names.push_back(path);
  return layercrypt::Status::Ok();
}

// parse_compress turns --compress "gzip[:LEVEL]" (ISA-L 0..3) or
// "zstd[:LEVEL]" (libzstd 1..19) into a LayerCompression.
layercrypt::StatusOr<layercrypt::LayerCompression> parse_compress(const std::string& arg) {
  const bool zstd = arg.rfind("zstd", 0) == 0;
  layercrypt::LayerCompression c{zstd ? layercrypt::Compression::kZstd : layercrypt::Compression::kGzip,
                                 zstd ? layercrypt::kDefaultZstdLevel : layercrypt::kDefaultGzipLevel};
  const std::string name = zstd ? "zstd" : "gzip";
  const int lo = zstd ? layercrypt::kMinZstdLevel : 0, hi = zstd ? layercrypt::kMaxZstdLevel : 3;
  if (arg.rfind(name, 0) == 0 && arg.size() == 4) return c;
  if (arg.rfind(name + ":", 0) == 0 && arg.size() > 5 && arg.size() <= 7 &&
      arg.find_first_not_of("0123456789", 5) == std::string::npos) {
    c.level = std::atoi(arg.c_str() + 5);
    if (c.level >= lo && c.level <= hi) return c;
  }
  return layercrypt::InvalidArgument("--compress " + arg +
                                     ": use gzip[:LEVEL] with LEVEL 0 (fastest) to 3, or "
                                     "zstd[:LEVEL] with LEVEL 1 to 19 (default 3)");
}

// check_dst refuses a registry as DST with the way to get there.
layercrypt::Status check_dst(const std::string& dst) {
  if (dst.rfind("docker://", 0) != 0) return layercrypt::Status::Ok();
  return layercrypt::InvalidArgument(
      dst + ": layercrypt writes OCI layouts and archives, not to registries; write oci:DIR:TAG, "
            "then push it with `skopeo copy oci:DIR:TAG " + dst + "`");
}

layercrypt::StatusOr<layercrypt::LayerSelection> selection(const std::vector<int>& layers,
                                                           const std::vector<std::string>& platforms) {
  layercrypt::LayerSelection sel;
  sel.layers = layers;
  sel.platforms = platforms;
  return sel;
}

// prepare_keys parses the --key files. A key that cannot be used is a
// warning while another key can; when none can, its reason is the error.
layercrypt::StatusOr<layercrypt::PreparedKeys> prepare_keys(const std::vector<std::string>& args) {
  layercrypt::DecryptKeys raw;
  for (const auto& k : args) LC_RETURN_IF_ERROR(add_key_arg(k, &raw));
  LC_ASSIGN_OR_RETURN(layercrypt::PreparedKeys prepared, layercrypt::prepare_decrypt_keys(raw));
  if (prepared.private_keys.empty() && !prepared.problems.empty())
    return layercrypt::KeyError(prepared.problems.front());
  for (const auto& p : prepared.problems) std::fprintf(stderr, "layercrypt: warning: %s\n", p.c_str());
  return prepared;
}

// one_value_per_flag makes every repeatable option take one value per
// occurrence, so options may come after the positionals
// (`encrypt -r jwe:k SRC DST --json`, `--layer 1 SRC DST`).
void one_value_per_flag(CLI::App* app) {
  for (CLI::Option* o : app->get_options())
    if (!o->get_positional() && o->get_expected_max() > 1) o->allow_extra_args(false);
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) one_value_per_flag(sub);
}

// usage_error prints a command-line mistake in one line, with where to look,
// and returns 2 (the usual exit status of a usage error).
int usage_error(CLI::App& app, const CLI::ParseError& e) {
  std::string cmd = "layercrypt";
  for (CLI::App* a = &app; a != nullptr;) {
    const auto subs = a->get_subcommands();
    a = subs.empty() ? nullptr : subs.front();
    if (a != nullptr) cmd += " " + a->get_name();
  }
  std::string what = e.what();
  std::replace(what.begin(), what.end(), '\n', ' ');
  std::fprintf(stderr, "layercrypt: %s (see %s --help)\n", what.c_str(), cmd.c_str());
  return 2;
}

// image_and_output parses a recipients command's IMAGE and its -o output
// (IMAGE itself when empty).
layercrypt::StatusOr<std::pair<layercrypt::OciRef, layercrypt::OciRef>> image_and_output(
    const std::string& image, const std::string& output) {
  LC_ASSIGN_OR_RETURN(layercrypt::OciRef src, layercrypt::parse_oci_ref(image));
  LC_RETURN_IF_ERROR(check_dst(output));
  LC_ASSIGN_OR_RETURN(layercrypt::OciRef dst, layercrypt::parse_oci_ref(output.empty() ? image : output));
  return std::make_pair(std::move(src), std::move(dst));
}

// Image references, as skopeo's transports: the help of every image argument.
constexpr const char* kSrcHelp =
    "Source image: oci:PATH[:TAG] (layout directory), oci-archive:PATH[:TAG] (tar), or "
    "PATH[:TAG] (an archive if PATH is a file, else a layout)";
constexpr const char* kDstHelp =
    "Destination image: oci:PATH[:TAG], oci-archive:PATH[:TAG] (written whole, then renamed into "
    "place), or PATH[:TAG] (an existing file is an archive, anything else a layout); may equal SRC";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"layercrypt: encrypt and decrypt OCI image layers (ocicrypt compatible)"};
  app.footer(
      "Example:\n"
      "  layercrypt --version --verbose   # which CPU paths this machine uses\n"
      "  layercrypt selfcheck             # known-answer tests of every kernel");
  bool version = false, verbose = false;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_flag("-v,--verbose", verbose, "With --version: also print the CPU paths in use");

  auto* selfcheck = app.add_subcommand(
      "selfcheck", "Run known-answer tests of the AES, HMAC and gzip kernels on this CPU");
  bool sc_verbose = false;
  selfcheck->add_flag("-v,--verbose", sc_verbose, "Print details of every check");
  selfcheck->footer("Example:\n  layercrypt selfcheck --verbose");

  // encrypt
  auto* enc = app.add_subcommand("encrypt", "Encrypt the layers of an OCI image (layout or archive) for recipients");
  std::vector<std::string> enc_recipients;
  std::vector<int> enc_layers;
  std::vector<std::string> enc_platforms;
  std::string enc_src, enc_dst, enc_compress;
  bool enc_json = false;
  enc->add_option("-r,--recipient", enc_recipients,
                  "jwe:PUBLIC_KEY (PEM/DER SPKI or JWK) or pkcs7:CERT; repeatable")->required();
  enc->add_option("-l,--layer", enc_layers, "Layer index to encrypt (0 = bottom, -1 = top); repeatable; default all");
  enc->add_option("--platform", enc_platforms, "os/arch[/variant] to encrypt; repeatable; default all");
  enc->add_option("--compress", enc_compress,
                  "gzip[:LEVEL] or zstd[:LEVEL]: compress uncompressed tar layers while encrypting "
                  "them, on every core (ISA-L level 0-3, default 1; zstd 1-19, default 3); "
                  "compressed layers are encrypted as they are");
  enc->add_flag("--json", enc_json, "Print a JSON summary on stdout");
  size_t enc_jobs = layercrypt::kDefaultLayerJobs, dec_jobs = layercrypt::kDefaultLayerJobs;
  bool enc_stats = false, dec_stats = false;
  enc->add_flag("--stats", enc_stats, "Print each layer's pipeline statistics to stderr");
  enc->add_option("-j,--jobs", enc_jobs, "Layers encrypted at once (1 = one after another)")
      ->capture_default_str()->check(CLI::Range(1, 16));
  enc->add_option("SRC", enc_src, kSrcHelp)->required();
  enc->add_option("DST", enc_dst, kDstHelp)->required();
  enc->footer("Example:\n  layercrypt keygen --type ec:p256 --out node\n"
              "  layercrypt encrypt --recipient jwe:node.pub.pem ./app:v1 ./app-enc:v1\n"
              "  layercrypt encrypt -r jwe:node.pub.pem oci-archive:app.tar:v1 oci-archive:app-enc.tar:v1\n"
              "  # layers kept as tar (umoci, skopeo --dest-oci-accept-uncompressed-layers):\n"
              "  layercrypt encrypt --compress gzip -r jwe:node.pub.pem ./app:v1 ./app-enc:v1");

  // encrypt-layer
  auto* el = app.add_subcommand(
      "encrypt-layer", "Encrypt one layer (a tar, or a layer blob) for recipients, outside an "
                       "image; print its descriptor and diff_id as JSON");
  std::vector<std::string> el_recipients;
  std::string el_in = "-", el_out, el_compress, el_media_type;
  el->add_option("-r,--recipient", el_recipients, "jwe:PUBLIC_KEY or pkcs7:CERT; repeatable")->required();
  el->add_option("--compress", el_compress,
                 "gzip[:LEVEL] or zstd[:LEVEL]: compress the tar on the way");
  el->add_option("--media-type", el_media_type,
                 "Media type of the input (default: what its first bytes are: tar, tar+gzip or "
                 "tar+zstd); must agree with them");
  el->add_option("-o,--output", el_out,
                 "Where to write the encrypted blob (written in full, then renamed into place); "
                 "- for stdout (the descriptor JSON then goes to stderr)")->required();
  el->add_option("INPUT", el_in, "The layer: a tar, or a gzip or zstd of one; - for stdin")->capture_default_str();
  el->footer("Example:\n  tar -C rootfs -cf - . | layercrypt encrypt-layer --compress gzip "
             "-r jwe:node.pub.pem -o layer.enc > layer.json");

  // decrypt
  auto* dec = app.add_subcommand("decrypt", "Decrypt the layers of an OCI image (layout or archive)");
  std::vector<std::string> dec_keys;
  std::vector<int> dec_layers;
  std::vector<std::string> dec_platforms;
  std::string dec_src, dec_dst;
  bool dec_json = false;
  dec->add_option("-k,--key", dec_keys,
                  "PRIVATE_KEY[:PASSWORD|:file=PASSWORD_FILE], or a certificate for pkcs7; repeatable")->required();
  dec->add_option("-l,--layer", dec_layers, "Layer index to decrypt; repeatable; default all");
  dec->add_option("--platform", dec_platforms, "os/arch[/variant]; repeatable; default all");
  dec->add_flag("--json", dec_json, "Print a JSON summary on stdout");
  dec->add_flag("--stats", dec_stats, "Print each layer's pipeline statistics to stderr");
  dec->add_option("-j,--jobs", dec_jobs, "Layers decrypted at once (1 = one after another)")
      ->capture_default_str()->check(CLI::Range(1, 16));
  dec->add_option("SRC", dec_src, kSrcHelp)->required();
  dec->add_option("DST", dec_dst, kDstHelp)->required();
  dec->footer("Example:\n  layercrypt decrypt --key node.pem ./app-enc:v1 ./app-plain:v1\n"
              "  layercrypt decrypt --key node.pem oci-archive:app-enc.tar oci:./app-plain:v1");

  // layerinfo
  auto* info = app.add_subcommand("layerinfo", "List the layers of an image and how they are encrypted");
  std::string info_ref;
  bool info_json = false;
  info->add_flag("--json", info_json, "JSON output");
  info->add_option("IMAGE", info_ref, kSrcHelp)->required();
  info->footer("Example:\n  layercrypt layerinfo ./app-enc:v1\n  layercrypt layerinfo oci-archive:app-enc.tar");

  // recipients add|set
  auto* rc = app.add_subcommand(
      "recipients", "Change who can decrypt an encrypted image: add or replace the recipients "
                    "(the layers' wrapped keys), or re-encrypt the layers to revoke");
  rc->require_subcommand(1);
  rc->footer("Example:\n"
             "  layercrypt recipients add --key node.pem --recipient jwe:node2.pub.pem ./app-enc:v1\n"
             "  layercrypt recipients set --key node.pem --recipient jwe:new.pub.pem ./app-enc:v1\n"
             "  # revoke: new layer keys, new blobs; old keys open nothing of the new image\n"
             "  layercrypt recipients set --rekey --key node.pem --recipient jwe:new.pub.pem ./app-enc:v1");
  struct RcArgs {
    std::vector<std::string> keys, recipients, platforms;
    std::vector<int> layers;
    std::string image, dst;
    bool json = false, rekey = false;
  } rc_args;
  auto add_rc = [&](const char* name, const char* what, const char* example) {
    auto* c = rc->add_subcommand(name, what);
    c->add_option("-k,--key", rc_args.keys, "A private key that opens the layers (FILE[:PASSWORD]); repeatable")->required();
    c->add_option("-r,--recipient", rc_args.recipients, "jwe:PUBLIC_KEY; repeatable")->required();
    c->add_option("-l,--layer", rc_args.layers, "Layer index; repeatable; default all");
    c->add_option("--platform", rc_args.platforms, "os/arch[/variant]; repeatable; default all");
    c->add_option("-o,--output", rc_args.dst, "Write to this image (layout or archive, as DST of encrypt) instead of updating IMAGE in place");
    c->add_flag("--json", rc_args.json, "Print a JSON summary on stdout");
    c->add_option("IMAGE", rc_args.image, kSrcHelp)->required();
    c->footer(example);
    return c;
  };
  auto* rc_add = add_rc("add", "Give more recipients access (old recipients keep it)",
                        "Example:\n  layercrypt recipients add --key node.pem --recipient jwe:node2.pub.pem ./app-enc:v1");
  auto* rc_set = add_rc(
      "set",
      "Replace all recipients. Without --rekey only the wrapped layer keys change: the layer "
      "key, blobs and digests stay, so a removed recipient who kept the old manifest or the "
      "layer key can still decrypt (a new key-encryption key, not a revocation). With --rekey "
      "every layer is re-encrypted under a fresh key (new digests, same plaintext): that revokes",
      "Example:\n  layercrypt recipients set --key old.pem --recipient jwe:new.pub.pem ./app-enc:v1\n"
      "  layercrypt recipients set --rekey --key old.pem --recipient jwe:new.pub.pem ./app-enc:v1");
  // recipients remove
  auto* rc_rm = rc->add_subcommand(
      "remove", "Take recipients off the layers (their wrapped keys go; no key needed). Like set "
                "without --rekey this does not revoke: the layer keys and blobs stay");
  std::vector<std::string> rm_recipients;
  rc_rm->add_option("-r,--recipient", rm_recipients,
                    "jwe:PUBLIC_KEY, pkcs7:CERT, or an id as `recipients list` prints it; repeatable")
      ->required();
  rc_rm->add_option("-l,--layer", rc_args.layers, "Layer index; repeatable; default all");
  rc_rm->add_option("--platform", rc_args.platforms, "os/arch[/variant]; repeatable; default all");
  rc_rm->add_option("-o,--output", rc_args.dst, "Write to this image instead of updating IMAGE in place");
  rc_rm->add_flag("--json", rc_args.json, "Print a JSON summary on stdout");
  rc_rm->add_option("IMAGE", rc_args.image, kSrcHelp)->required();
  rc_rm->footer("Example:\n  layercrypt recipients remove --recipient jwe:node2.pub.pem ./app-enc:v1\n"
                "  layercrypt recipients list ./app-enc:v1   # the ids remove also takes");
  // recipients list
  auto* rc_ls = rc->add_subcommand("list", "List each layer's recipients with their ids");
  rc_ls->add_flag("--json", rc_args.json, "JSON output");
  rc_ls->add_option("IMAGE", rc_args.image, kSrcHelp)->required();
  rc_ls->footer("Example:\n  layercrypt recipients list ./app-enc:v1\n"
                "  layercrypt recipients list --json oci-archive:app-enc.tar | jq '.[].recipients'");
  rc_set->add_flag("--rekey", rc_args.rekey,
                   "Re-encrypt every selected layer under a fresh layer key (revokes old keys; "
                   "old blobs are deleted unless another tag uses them)");

  // keygen
  auto* kg = app.add_subcommand("keygen", "Create a key pair for a recipient (NAME.pem, NAME.pub.pem)");
  std::string kg_type = "ec:p256", kg_out, kg_subject = "layercrypt recipient";
  int kg_days = 3650;
  bool kg_force = false, kg_cert = false;
  auto* kg_type_opt = kg->add_option("-t,--type", kg_type, "rsa:2048|rsa:3072|rsa:4096|ec:p256|ec:p384|ec:p521 (with --cert: rsa:3072)")->capture_default_str();
  kg->add_flag("--cert", kg_cert,
               "Also write NAME.crt.pem, a self-signed certificate for pkcs7: recipients (RSA keys only)");
  kg->add_option("--subject", kg_subject, "With --cert: the certificate's common name")->capture_default_str();
  kg->add_option("--days", kg_days, "With --cert: days the certificate is valid")->capture_default_str()->check(CLI::Range(1, 36500));
  kg->add_option("-o,--out", kg_out, "Output name: writes NAME.pem (PKCS#8, mode 0600) and NAME.pub.pem")->required();
  kg->add_flag("-f,--force", kg_force, "Overwrite existing files");
  kg->footer("Example:\n  layercrypt keygen --type rsa:4096 --out node\n"
             "  layercrypt keygen --cert --out node   # node.crt.pem for -r pkcs7:node.crt.pem\n"
             "  # give node.pub.pem to image builders, put node.pem in the node's keys directory");

  one_value_per_flag(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return usage_error(app, e);
  }
  start_signal_thread();

  if (*enc) {
    layercrypt::Recipients rcpt;
    for (const auto& r : enc_recipients) {
      const auto st = layercrypt::add_recipient(r, &rcpt);
      if (!st.ok()) return fail(st);
    }
    auto src = layercrypt::parse_oci_ref(enc_src);
    if (!src.ok()) return fail(src.status());
    if (auto st = check_dst(enc_dst); !st.ok()) return fail(st);
    auto dst = layercrypt::parse_oci_ref(enc_dst);
    if (!dst.ok()) return fail(dst.status());
    layercrypt::EncryptImageOptions opts;
    if (!enc_compress.empty()) {
      auto c = parse_compress(enc_compress);
      if (!c.ok()) return fail(c.status());
      opts.compress = *c;
    }
    opts.recipients = &rcpt;
    opts.layer_jobs = enc_jobs;
    opts.select = *selection(enc_layers, enc_platforms);
    opts.progress = print_layer;
    opts.bytes_progress = [](const std::string& l, uint64_t d, uint64_t t) { g_bar.update(l, d, t); };
    auto rep = layercrypt::encrypt_image(*src, *dst, opts);
    if (!rep.ok()) return fail(rep.status());
    print_warnings(*rep);
    print_summary(*rep, "encrypted", enc_dst, enc_json, enc_src);
    if (enc_stats) print_stats(*rep);
    return 0;
  }
  if (*el) {
    layercrypt::Recipients rcpt;
    for (const auto& r : el_recipients) {
      const auto st = layercrypt::add_recipient(r, &rcpt);
      if (!st.ok()) return fail(st);
    }
    std::optional<layercrypt::LayerCompression> compress;
    if (!el_compress.empty()) {
      auto c = parse_compress(el_compress);
      if (!c.ok()) return fail(c.status());
      compress = *c;
    }
    auto rep = layercrypt::encrypt_layer_file(el_in, el_out, el_media_type, rcpt, compress);
    if (!rep.ok()) return fail(rep.status());
    nlohmann::ordered_json desc;
    desc["mediaType"] = rep->media_type;
    desc["digest"] = rep->digest;
    desc["size"] = rep->size;
    desc["annotations"] = nlohmann::ordered_json(rep->annotations);
    nlohmann::ordered_json j;
    j["descriptor"] = desc;
    if (!rep->diff_id.empty()) j["diffID"] = rep->diff_id;
    j["plainDigest"] = rep->plain_digest;
    std::fprintf(el_out == "-" ? stderr : stdout, "%s\n", j.dump(2).c_str());
    return 0;
  }
  if (*dec) {
    auto prepared = prepare_keys(dec_keys);
    if (!prepared.ok()) return fail(prepared.status());
    auto src = layercrypt::parse_oci_ref(dec_src);
    if (!src.ok()) return fail(src.status());
    if (auto st = check_dst(dec_dst); !st.ok()) return fail(st);
    auto dst = layercrypt::parse_oci_ref(dec_dst);
    if (!dst.ok()) return fail(dst.status());
    layercrypt::DecryptImageOptions opts;
    opts.keys = &*prepared;
    opts.layer_jobs = dec_jobs;
    opts.select = *selection(dec_layers, dec_platforms);
    opts.progress = print_layer;
    opts.bytes_progress = [](const std::string& l, uint64_t d, uint64_t t) { g_bar.update(l, d, t); };
    auto rep = layercrypt::decrypt_image(*src, *dst, opts);
    if (!rep.ok()) return fail(rep.status());
    print_warnings(*rep);
    print_summary(*rep, "decrypted", dec_dst, dec_json, dec_src);
    if (dec_stats) print_stats(*rep);
    return 0;
  }
  if (*rc_ls) {
    auto ref = layercrypt::parse_oci_ref(rc_args.image);
    if (!ref.ok()) return fail(ref.status());
    auto rows = layercrypt::layer_info(*ref);
    if (!rows.ok()) return fail(rows.status());
    if (rc_args.json) {
      nlohmann::ordered_json j = nlohmann::ordered_json::array();
      for (const auto& r : *rows) {
        nlohmann::ordered_json who = nlohmann::ordered_json::array();
        for (const auto& w : r.who)
          who.push_back({{"scheme", w.scheme}, {"blob", w.blob}, {"index", w.index}, {"alg", w.alg},
                         {"id", w.id}});
        j.push_back({{"index", r.index}, {"digest", r.digest}, {"platform", r.platform},
                     {"recipients", who}});
      }
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::printf("%-3s %-14s %-19s %-7s %-16s %s\n", "#", "PLATFORM", "DIGEST", "SCHEME", "ALG", "ID");
    for (const auto& r : *rows) {
      if (r.who.empty())
        std::printf("%-3zu %-14s %-19.19s %-7s %-16s %s\n", r.index, r.platform.empty() ? "-" : r.platform.c_str(),
                    r.digest.c_str(), "-", "-", "(not encrypted)");
      for (const auto& w : r.who)
        std::printf("%-3zu %-14s %-19.19s %-7s %-16s %s\n", r.index, r.platform.empty() ? "-" : r.platform.c_str(),
                    r.digest.c_str(), w.scheme.c_str(), w.alg.empty() ? "-" : w.alg.c_str(),
                    w.id.empty() ? "(unnamed: written without a key id)" : w.id.c_str());
    }
    return 0;
  }
  if (*rc_rm) {
    std::vector<std::string> ids;
    for (const auto& spec : rm_recipients) {
      const size_t colon = spec.find(':');
      const std::string file = colon == std::string::npos ? spec : spec.substr(colon + 1);
      if (access(file.c_str(), F_OK) != 0) {  // an id, as `recipients list` prints it
        ids.push_back(spec);
        continue;
      }
      layercrypt::Recipients one;
      if (auto st = layercrypt::add_recipient(spec, &one); !st.ok()) return fail(st);
      auto these = layercrypt::recipient_ids(one);
      if (!these.ok()) return fail(these.status());
      ids.insert(ids.end(), these->begin(), these->end());
    }
    auto refs = image_and_output(rc_args.image, rc_args.dst);
    if (!refs.ok()) return fail(refs.status());
    const auto& [src, dst] = *refs;
    layercrypt::RewrapImageOptions opts;
    opts.mode = layercrypt::RewrapMode::kRemove;
    opts.remove_ids = ids;
    opts.select = *selection(rc_args.layers, rc_args.platforms);
    opts.progress = print_layer;
    auto rep = layercrypt::rewrap_image(src, dst, opts);
    if (!rep.ok()) return fail(rep.status());
    print_warnings(*rep);
    print_summary(*rep, "removed recipients from", rc_args.dst.empty() ? rc_args.image : rc_args.dst,
                  rc_args.json, rc_args.image);
    if (!rc_args.json)
      std::fprintf(stderr, "layercrypt: note: the layer keys are unchanged; to revoke, re-encrypt "
                           "with `layercrypt recipients set --rekey`\n");
    return 0;
  }
  if (*rc_add || *rc_set) {
    auto prepared = prepare_keys(rc_args.keys);
    if (!prepared.ok()) return fail(prepared.status());
    layercrypt::Recipients rcpt;
    for (const auto& r : rc_args.recipients) {
      const auto st = layercrypt::add_recipient(r, &rcpt);
      if (!st.ok()) return fail(st);
    }
    auto refs = image_and_output(rc_args.image, rc_args.dst);
    if (!refs.ok()) return fail(refs.status());
    const auto& [src, dst] = *refs;
    layercrypt::RewrapImageOptions opts;
    opts.keys = &*prepared;
    opts.recipients = &rcpt;
    opts.mode = *rc_set ? layercrypt::RewrapMode::kSet : layercrypt::RewrapMode::kAdd;
    opts.rekey = rc_args.rekey;
    opts.select = *selection(rc_args.layers, rc_args.platforms);
    opts.progress = print_layer;
    opts.bytes_progress = [](const std::string& l, uint64_t d, uint64_t t) { g_bar.update(l, d, t); };
    auto rep = layercrypt::rewrap_image(src, dst, opts);
    if (!rep.ok()) return fail(rep.status());
    print_warnings(*rep);
    print_summary(*rep, rc_args.rekey ? "re-encrypted" : *rc_set ? "rewrapped" : "added recipients to",
                  rc_args.dst.empty() ? rc_args.image : rc_args.dst, rc_args.json, rc_args.image);
    return 0;
  }
  if (*info) {
    auto ref = layercrypt::parse_oci_ref(info_ref);
    if (!ref.ok()) return fail(ref.status());
    auto rows = layercrypt::layer_info(*ref);
    if (!rows.ok()) return fail(rows.status());
    if (info_json) {
      nlohmann::ordered_json j = nlohmann::ordered_json::array();
      for (const auto& r : *rows)
        j.push_back({{"index", r.index}, {"digest", r.digest}, {"platform", r.platform},
                     {"size", r.size}, {"mediaType", r.media_type}, {"encryption", r.encryption},
                     {"cipher", r.cipher}, {"recipients", r.recipients}});
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::printf("%-3s %-71s %-14s %-10s %-10s %-24s %s\n", "#", "DIGEST", "PLATFORM", "SIZE",
                "ENCRYPTION", "CIPHER", "RECIPIENTS");
    for (const auto& r : *rows) {
      std::string who;
      for (size_t i = 0; i < r.recipients.size(); ++i) who += (i ? ", " : "") + r.recipients[i];
      std::printf("%-3zu %-71s %-14s %-10lld %-10s %-24s %s\n", r.index, r.digest.c_str(),
                  r.platform.empty() ? "-" : r.platform.c_str(), static_cast<long long>(r.size),
                  r.encryption.empty() ? "-" : r.encryption.c_str(),
                  r.cipher.empty() ? "-" : r.cipher.c_str(), who.empty() ? "-" : who.c_str());
    }
    return 0;
  }
  if (*kg) {
    auto type = layercrypt::parse_key_type(kg_cert && kg_type_opt->count() == 0 ? "rsa:3072" : kg_type);
    if (!type.ok()) return fail(type.status());
    auto key = layercrypt::generate_key(*type);
    if (!key.ok()) return fail(key.status());
    if (kg_cert) {
      auto cert = layercrypt::make_self_signed_certificate(*key, {kg_subject, kg_days});
      if (!cert.ok()) return fail(cert.status());
      key->certificate_pem = std::move(*cert);
    }
    const auto st = layercrypt::write_key_files(*key, kg_out, kg_force);
    if (!st.ok()) return fail(st);
    std::printf("wrote %s.pem (private, keep on the node) and %s.pub.pem (give to builders)%s\n",
                kg_out.c_str(), kg_out.c_str(),
                kg_cert ? (" and " + kg_out + ".crt.pem (for pkcs7: recipients)").c_str() : "");
    return 0;
  }

  if (version) {
    std::printf("layercrypt %s\n", layercrypt::version_string());
    if (verbose) std::fputs(layercrypt::describe_cpu_paths().c_str(), stdout);
    return 0;
  }
  if (*selfcheck) return run_selfcheck(sc_verbose || verbose);
  std::cout << app.help();
  return 2;
}
