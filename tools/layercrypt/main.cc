// tools/layercrypt/main.cc: the `layercrypt` command-line tool.
//
// The tool calls the engine only; every subcommand's --help ends with a
// worked example.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "engine/selfcheck.h"
#include "engine/version.h"

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

  CLI11_PARSE(app, argc, argv);

  if (version) {
    std::printf("layercrypt %s\n", layercrypt::version_string());
    if (verbose) std::fputs(layercrypt::describe_cpu_paths().c_str(), stdout);
    return 0;
  }
  if (*selfcheck) return run_selfcheck(sc_verbose || verbose);
  std::cout << app.help();
  return 2;
}
