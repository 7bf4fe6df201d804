// tools/layercrypt-decoder/main.cc: a drop-in for imgcrypt's ctd-decoder.
//
// containerd runs it as a stream processor for every encrypted layer:
// stdin = the encrypted blob, stdout = the decrypted blob, fd 3 = the
// payload, STREAM_PROCESSOR_MEDIATYPE in the environment. Exit status 0 on
// success; 1 with one line on stderr on any failure (containerd shows that
// line as the pull error). See docs/containerd.md.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/containerd/content_store.h"
#include "engine/containerd/stream_processor.h"
#include "engine/core/io.h"
#include "engine/core/version.h"

namespace {

constexpr int kPayloadFd = 3;
constexpr size_t kPipeSize = 1 << 20;

int fail(const std::string& message) {
  // One line: containerd reports stderr verbatim.
  std::string line = message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "layercrypt-decoder: %s\n", line.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "layercrypt-decoder: containerd stream processor that decrypts ocicrypt-encrypted "
      "image layers (a drop-in for imgcrypt's ctd-decoder)"};
  app.footer(
      "containerd runs it with the layer on stdin, the payload on fd 3 and the decrypted\n"
      "layer read from stdout. By default no byte is written before the layer's HMAC has\n"
      "verified (a piped layer is spooled to memory, then to an anonymous file in $TMPDIR).\n\n"
      "Example (config.toml):\n"
      "  [stream_processors.\"io.containerd.ocicrypt.decoder.v1.tar.gzip\"]\n"
      "    accepts = [\"application/vnd.oci.image.layer.v1.tar+gzip+encrypted\"]\n"
      "    returns = \"application/vnd.oci.image.layer.v1.tar+gzip\"\n"
      "    path = \"/usr/local/bin/layercrypt-decoder\"\n"
      "    args = [\"--decryption-keys-path\", \"/etc/containerd/ocicrypt/keys\"]\n\n"
      "With --decompress in args and returns = \"application/vnd.oci.image.layer.v1.tar\",\n"
      "containerd receives the tar and skips its own gunzip (see docs/containerd.md).\n\n"
      "Without a payload on fd 3 (containerd 2.1+ pulls through its transfer service) the\n"
      "layer's descriptor is taken from containerd's content store: the manifests there that\n"
      "list the digest of the blob read. containerd's root is --containerd-root, else the\n"
      "parent containerd's --root or the root in its --config file (default\n"
      "/etc/containerd/config.toml), else /var/lib/containerd.");
  std::string keys_dir;
  bool stream = false, decompress = false, version = false, verbose = false, stats = false;
  size_t spool_mib = 8;
  std::string containerd_root;
  app.add_option("--decryption-keys-path", keys_dir,
                 "Directory of private keys, certificates, pkcs11 key YAMLs and OpenPGP secret "
                 "keyrings (searched recursively)");
  app.add_flag("--stream", stream,
               "Write plaintext as it is decrypted, like ctd-decoder (no spool; exit 1 at the "
               "end if the HMAC fails, and containerd then discards the layer)");
  app.add_flag("--decompress", decompress,
               "Write the layer's uncompressed tar instead of its gzip/zstd blob (configure "
               "the processor with returns = \"application/vnd.oci.image.layer.v1.tar\"); "
               "layers layercrypt compressed inflate on every core");
  app.add_option("--spool-memory", spool_mib,
                 "MiB of a piped layer kept in memory before spooling to $TMPDIR")
      ->capture_default_str();
  app.add_option("--containerd-root", containerd_root,
                 "containerd's root directory, whose content store supplies the layer's descriptor "
                 "when there is no payload and the layer file that saves spooling it (default: "
                 "from the parent containerd's command line and config)");
  std::string keyprovider_config;
  double keyprovider_timeout = 30;
  app.add_option("--keyprovider-config", keyprovider_config,
                 "Key-provider config file (ocicrypt's format; default: the file "
                 "$OCICRYPT_KEYPROVIDER_CONFIG names, which containerd passes in the processor's "
                 "env)");
  app.add_option("--keyprovider-timeout", keyprovider_timeout,
                 "Seconds a key provider may take to answer")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
  app.add_flag("--stats", stats, "Print pipeline statistics to stderr after a successful run");
  app.add_flag("--version", version, "Print the version and exit");
  app.add_flag("-v,--verbose", verbose, "With --version: also print the CPU paths in use");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see layercrypt-decoder --help)");
  }
  if (version) {
    std::printf("layercrypt-decoder %s\n", layercrypt::version_string());
    if (verbose) std::fputs(layercrypt::describe_cpu_paths().c_str(), stdout);
    return 0;
  }

  // One job, then exit: OpenSSL need not load error strings or free its
  // state at exit.
  layercrypt::prepare_openssl_for_one_job();
  auto payload = layercrypt::read_payload(kPayloadFd);
  if (!payload.ok()) return fail(payload.status().message());
  // A reader that goes away must give an error line, not a silent SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);

  // Bigger pipes move layers between processes with fewer context switches.
  layercrypt::set_pipe_size(STDOUT_FILENO, kPipeSize);
  layercrypt::set_pipe_size(STDIN_FILENO, kPipeSize);

  layercrypt::StreamProcessorOptions options;
  if (!keys_dir.empty()) options.keys_dir = keys_dir;
  auto providers = layercrypt::load_key_providers(
      keyprovider_config,
      std::chrono::milliseconds(static_cast<int64_t>(keyprovider_timeout * 1000)));
  if (!providers.ok()) return fail(providers.status().message());
  options.key_providers = std::move(*providers);
  if (const char* mt = std::getenv("STREAM_PROCESSOR_MEDIATYPE")) options.env_media_type = mt;
  std::vector<std::string> root_notes;
  if (!containerd_root.empty()) {
    options.containerd_root = containerd_root;
    options.containerd_root_origin = "--containerd-root";
  } else {
    options.find_containerd_root = [&root_notes] {
      return layercrypt::discover_containerd_root(getppid(), &root_notes);
    };
  }
  options.decrypt.policy =
      stream ? layercrypt::ReleasePolicy::kStream : layercrypt::ReleasePolicy::kVerifyFirst;
  options.decrypt.spool_memory_limit = spool_mib << 20;
  // A layer that fits the memory spool is spooled; a larger one is read
  // from containerd's content store when it is there.
  options.content_store_min_size = spool_mib << 20;
  options.decompress = decompress;

  layercrypt::FdSource in(STDIN_FILENO, "stdin");
  layercrypt::FdSink out(STDOUT_FILENO, "stdout");
  layercrypt::StreamProcessorReport report;
  const layercrypt::Status st =
      layercrypt::run_stream_processor(*payload, in, out, options, &report);
  if (!st.ok()) {
    std::string line = st.message();
    if (report.descriptor_not_found) {
      if (!root_notes.empty()) line += " (" + root_notes.front() + ")";
      line +=
          "; pass --containerd-root DIR with containerd's root, or set "
          "use_local_image_pull = true in containerd's CRI images config";
    }
    return fail(line);
  }
  for (const auto& w : report.warnings)
    std::fprintf(stderr, "layercrypt-decoder: warning: %s\n", w.c_str());
  if (stats) {
    std::fprintf(stderr, "descriptor: from %s\n", report.descriptor_from.c_str());
    if (report.scan)
      std::fprintf(stderr,
                   "content store: %s (%s): %zu entries, %zu small blobs, read %zu, %zu manifests "
                   "with encrypted layers, %zu rejected, %zu descriptors of this layer, %.2f ms\n",
                   report.containerd_root.c_str(), report.containerd_root_origin.c_str(),
                   report.scan->entries, report.scan->small_blobs, report.scan->blobs_read,
                   report.scan->manifests, report.scan->rejected, report.candidates,
                   report.scan->seconds * 1e3);
    std::fprintf(stderr, "input: %s; spooled %llu bytes%s\n",
                 report.read_from_content_store
                     ? "the content store's blob file, stdin drained and its digest checked"
                     : "stdin",
                 static_cast<unsigned long long>(report.spool_bytes),
                 report.spool_bytes == 0 ? ""
                 : report.spool_spilled  ? " (to a file in $TMPDIR)"
                                         : " (in memory)");
    if (report.result.verify_stats.bytes != 0 || report.result.verify_stats.chunks != 0 ||
        report.result.spooled)
      std::fprintf(stderr, "verify pass:\n%s", report.result.verify_stats.to_string().c_str());
    std::fprintf(stderr, "decrypt pass:\n%s", report.result.decrypt_stats.to_string().c_str());
    if (decompress)
      std::fprintf(
          stderr, "tar: %llu bytes, %s%s\n",
          static_cast<unsigned long long>(report.result.tar_bytes),
          report.result.indexed_inflate ? "inflated in parallel by the chunk index"
                                        : "decompressed on one core",
          report.result.inflate_fallback_chunk >= 0
              ? (", sequential from chunk " + std::to_string(report.result.inflate_fallback_chunk) +
                 " on (the index did not match)")
                    .c_str()
              : "");
  }
  return 0;
}
