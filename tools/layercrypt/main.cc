// tools/layercrypt/main.cc: the `layercrypt` command-line tool.
//
// The tool calls the engine only; every subcommand's --help ends with a
// worked example.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <vector>

#include "engine/core/version.h"
#include "tools/layercrypt/cli.h"

int main(int argc, char** argv) {
  namespace cli = layercrypt::cli;
  CLI::App app{"layercrypt: encrypt and decrypt OCI image layers (ocicrypt compatible)"};
  app.footer(
      "Example:\n"
      "  layercrypt --version --verbose   # which CPU paths this machine uses\n"
      "  layercrypt selfcheck             # known-answer tests of every kernel");
  bool version = false, verbose = false;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_flag("-v,--verbose", verbose, "With --version: also print the CPU paths in use");
  cli::add_keyprovider_options(app);
  app.fallthrough();  // --keyprovider-* after the subcommand's name too

  auto* selfcheck = app.add_subcommand(
      "selfcheck", "Run known-answer tests of the AES, HMAC and gzip kernels on this CPU");
  bool sc_verbose = false;
  selfcheck->add_flag("-v,--verbose", sc_verbose, "Print details of every check");
  selfcheck->footer("Example:\n  layercrypt selfcheck --verbose");

  std::vector<cli::Command> commands;
  for (auto add : {cli::add_encrypt_commands, cli::add_decrypt_commands, cli::add_info_commands,
                   cli::add_recipients_commands, cli::add_keygen_commands}) {
    auto these = add(app);
    commands.insert(commands.end(), these.begin(), these.end());
  }

  cli::one_value_per_flag(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return cli::usage_error(app, e);
  }
  cli::start_signal_thread();

  for (const auto& c : commands)
    if (*c.app) return c.run();
  if (version) {
    std::printf("layercrypt %s\n", layercrypt::version_string());
    if (verbose) std::fputs(layercrypt::describe_cpu_paths().c_str(), stdout);
    return 0;
  }
  if (*selfcheck) return cli::run_selfcheck(sc_verbose || verbose);
  std::cout << app.help();
  return 2;
}
