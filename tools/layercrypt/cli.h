// tools/layercrypt/cli.h: what the subcommands of `layercrypt` share:
// argument parsing (keys with their passwords, compression, image
// references, one value per repeatable option, usage errors), output (one
// error line, warnings, progress on a terminal, summaries, --stats, --json)
// and the signal thread. Each cmd_*.cc registers its subcommands with
// CLI11 and says how to run them; main.cc parses and runs the one chosen.
// The tool calls the engine only, never the kernels.
#ifndef LAYERCRYPT_TOOLS_LAYERCRYPT_CLI_H_
#define LAYERCRYPT_TOOLS_LAYERCRYPT_CLI_H_

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/image/image_crypt.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/provider/key_providers.h"
#include "engine/keywrap/recipients.h"

namespace layercrypt::cli {

// Command is a registered subcommand and how to run it (its exit status).
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// The subcommands, by file.
std::vector<Command> add_encrypt_commands(CLI::App& app);     // encrypt, encrypt-layer
std::vector<Command> add_decrypt_commands(CLI::App& app);     // decrypt
std::vector<Command> add_recipients_commands(CLI::App& app);  // recipients add|set|remove|list
std::vector<Command> add_info_commands(CLI::App& app);        // layerinfo
std::vector<Command> add_keygen_commands(CLI::App& app);      // keygen

// ---- output (output.cc)
// fail prints "layercrypt: MESSAGE" and returns 1.
int fail(const Status& st);
// print_warnings prints the report's warnings, one line each.
void print_warnings(const ImageReport& rep);
// print_layer reports one processed layer on a terminal's stderr.
void print_layer(const ImageLayerReport& r);
// update_progress redraws the progress bar (a BytesProgressFn).
void update_progress(const std::string& layer, uint64_t done, uint64_t total);
// print_stats writes each layer's pipeline statistics (--stats) to stderr.
void print_stats(const ImageReport& rep);
// print_summary prints one line, or the JSON report with `json`.
void print_summary(const ImageReport& rep, const char* verb, const std::string& dst, bool json,
                   const std::string& src);
// run_selfcheck runs the kernels' known-answer tests and prints them.
int run_selfcheck(bool verbose);

// ---- arguments (args.cc)
// prepare_keys parses --key values (see add_key_arg in args.cc); a key that
// cannot be used is a warning while another can, else the error.
StatusOr<PreparedKeys> prepare_keys(const std::vector<std::string>& args);
// add_keyprovider_options adds --keyprovider-config and
// --keyprovider-timeout (options of every subcommand: the app falls through).
void add_keyprovider_options(CLI::App& app);
// key_providers returns the key providers those options (or
// OCICRYPT_KEYPROVIDER_CONFIG) configure, loaded once.
StatusOr<std::shared_ptr<const KeyProviders>> key_providers();
// parse_recipients parses --recipient values (add_recipient), with the key
// providers attached when a provider: recipient is among them.
StatusOr<Recipients> parse_recipients(const std::vector<std::string>& specs);
// parse_compress parses gzip[:LEVEL] or zstd[:LEVEL].
StatusOr<LayerCompression> parse_compress(const std::string& arg);
// check_dst refuses a registry as DST, saying how to get there.
Status check_dst(const std::string& dst);
// selection makes a LayerSelection from --layer and --platform.
LayerSelection selection(const std::vector<int>& layers, const std::vector<std::string>& platforms);
// image_and_output parses IMAGE and -o OUTPUT (IMAGE itself when empty).
StatusOr<std::pair<OciRef, OciRef>> image_and_output(const std::string& image,
                                                     const std::string& output);
// one_value_per_flag: every repeatable option takes one value per use.
void one_value_per_flag(CLI::App* app);
// usage_error prints a parse error in one line and returns 2.
int usage_error(CLI::App& app, const CLI::ParseError& e);
// The help of image arguments, as skopeo's transports name them.
extern const char* const kSrcHelp;
extern const char* const kDstHelp;

// ---- signals (signals.cc)
// start_signal_thread: SIGINT, SIGTERM and SIGHUP remove the engine's
// temporaries before the process dies of them.
void start_signal_thread();

}  // namespace layercrypt::cli

#endif  // LAYERCRYPT_TOOLS_LAYERCRYPT_CLI_H_
