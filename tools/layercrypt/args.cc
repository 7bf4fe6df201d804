// tools/layercrypt/args.cc: parsing what `layercrypt` is given (cli.h).
#include <fcntl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/core/io.h"
#include "engine/keywrap/keys/private_key.h"
#include "engine/keywrap/pkcs11/pkcs11_key.h"
#if LAYERCRYPT_WITH_PGP
#include "engine/keywrap/pgp/pgp_keyring.h"
#endif
#include "tools/layercrypt/cli.h"

namespace layercrypt::cli {
namespace {

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
      return layercrypt::IoError("cannot read the password from fd " + num + ": " +
                                 std::strerror(errno));
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
    return layercrypt::InvalidArgument(path +
                                       " is an encrypted private key: give its password as " +
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
  while (::read(tty, &c, 1) == 1 && c != '\n' && pw.size() < 4096)
    pw.push_back(static_cast<uint8_t>(c));
  if (have_term) tcsetattr(tty, TCSAFLUSH, &old);
  (void)!::write(tty, "\n", 1);
  ::close(tty);
  return pw;
}

// add_key_arg turns "FILE" or "FILE:PASSWORD" into raw key material, with
// the password spelled as ocicrypt's helpers (skopeo --decryption-key,
// ctr-enc --key) accept it: PASSWORD, pass=PASSWORD, file=PASSWORD_FILE
// (its first line) or fd=N (at most 64 bytes read from descriptor N). An
// encrypted key given without one is asked for on the terminal.
layercrypt::Status add_key_arg(const std::string& arg, layercrypt::DecryptKeys* keys) {
  if (arg.rfind("provider:", 0) == 0) {  // parameters for a key provider (ctr-enc's --key)
    LC_ASSIGN_OR_RETURN(layercrypt::ProviderRecipient p, layercrypt::parse_provider_spec(arg));
    keys->provider_params[p.name].push_back(std::move(p.params));
    return layercrypt::Status::Ok();
  }
  // A pkcs11 key YAML: pkcs11:FILE, or a FILE that holds one (ocicrypt's
  // IsPkcs11PrivateKey). Its module policy is OCICRYPT_CONFIG's.
  if (arg.rfind("pkcs11:", 0) == 0 && access(arg.c_str(), F_OK) != 0) {
    const std::string path = arg.substr(7);
    auto data = layercrypt::read_secret_file(path);
    if (!data.ok()) return data.status().with_context("--key");
#if LAYERCRYPT_WITH_PKCS11
    auto kf = layercrypt::parse_pkcs11_key_file(*data);
    if (!kf.ok()) return kf.status().with_context(path);
    keys->pkcs11_yamls.push_back(std::move(*data));
    keys->pkcs11_yaml_names.push_back(path);
    return layercrypt::Status::Ok();
#else
    return layercrypt::Unsupported(path + ": this build has no pkcs11 scheme");
#endif
  }
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
#if LAYERCRYPT_WITH_PGP
  // An OpenPGP keyring (ocicrypt's gpg-privatekeys), binary or armored.
  if (const auto pgp = layercrypt::pgp_keyring_kind(*data);
      pgp != layercrypt::PgpKeyringKind::kNone) {
    if (pgp == layercrypt::PgpKeyringKind::kPublic)
      return layercrypt::InvalidArgument(
          path +
          " is an OpenPGP public keyring; decryption needs the secret keys "
          "(gpg --export-secret-keys)");
    keys->pgp_keyrings.push_back(std::move(*data));
    keys->pgp_passwords.push_back(std::move(password));
    keys->pgp_keyring_names.push_back(path);
    return layercrypt::Status::Ok();
  }
#endif
  const auto kind = layercrypt::classify_key_file(*data, nullptr, nullptr);
  if (kind == layercrypt::KeyFileKind::kEncryptedPrivateKey && !password) {
    auto pw = prompt_password(path);
    if (!pw.ok()) return pw.status();
    password = std::move(*pw);
  }
  if (kind == layercrypt::KeyFileKind::kPublicKey)
    return layercrypt::InvalidArgument(path +
                                       " is a public key; --key needs the private key "
                                       "(the .pem next to the .pub.pem)");
  if (kind == layercrypt::KeyFileKind::kCertificate) {
    keys->certificates.emplace_back(data->begin(), data->end());
    return layercrypt::Status::Ok();
  }
#if LAYERCRYPT_WITH_PKCS11
  if (kind == layercrypt::KeyFileKind::kUnknown && !password &&
      layercrypt::is_pkcs11_key_file(*data)) {
    keys->pkcs11_yamls.push_back(std::move(*data));
    keys->pkcs11_yaml_names.push_back(path);
    return layercrypt::Status::Ok();
  }
#endif
  keys->private_keys.push_back(std::move(*data));
  keys->passwords.push_back(std::move(password));
  keys->key_names.push_back(path);
  return layercrypt::Status::Ok();
}

}  // namespace

// Image references, as skopeo's transports: the help of every image argument.
const char* const kSrcHelp =
    "Source image: oci:PATH[:TAG] (layout directory), oci-archive:PATH[:TAG] (tar), or "
    "PATH[:TAG] (an archive if PATH is a file, else a layout)";
const char* const kDstHelp =
    "Destination image: oci:PATH[:TAG], oci-archive:PATH[:TAG] (written whole, then renamed into "
    "place), or PATH[:TAG] (an existing file is an archive, anything else a layout); may equal SRC";

// parse_compress turns --compress ARG into a LayerCompression.
layercrypt::StatusOr<layercrypt::LayerCompression> parse_compress(const std::string& arg) {
  auto c = layercrypt::parse_layer_compression(arg);
  if (!c.ok()) return c.status().with_context("--compress");
  return c;
}

// check_dst refuses a registry as DST with the way to get there.
layercrypt::Status check_dst(const std::string& dst) {
  if (dst.rfind("docker://", 0) != 0) return layercrypt::Status::Ok();
  return layercrypt::InvalidArgument(
      dst +
      ": layercrypt writes OCI layouts and archives, not to registries; write oci:DIR:TAG, "
      "then push it with `skopeo copy oci:DIR:TAG " +
      dst + "`");
}

LayerSelection selection(const std::vector<int>& layers,
                         const std::vector<std::string>& platforms) {
  LayerSelection sel;
  sel.layers = layers;
  sel.platforms = platforms;
  return sel;
}

// prepare_keys parses the --key files. A key that cannot be used is a
// warning while another key can; when none can, its reason is the error.
layercrypt::StatusOr<layercrypt::PreparedKeys> prepare_keys(const std::vector<std::string>& args) {
  layercrypt::DecryptKeys raw;
  for (const auto& k : args) LC_RETURN_IF_ERROR(add_key_arg(k, &raw));
  LC_ASSIGN_OR_RETURN(raw.key_providers, key_providers());
  LC_ASSIGN_OR_RETURN(layercrypt::PreparedKeys prepared, layercrypt::prepare_decrypt_keys(raw));
  const bool pkcs11_usable = !prepared.pkcs11_keys.empty() && prepared.pkcs11_policy;
  if (prepared.private_keys.empty() && !pkcs11_usable && prepared.pgp_keyrings.empty() &&
      raw.provider_params.empty() && !prepared.problems.empty())
    return layercrypt::KeyError(prepared.problems.front());
  for (const auto& p : prepared.problems)
    std::fprintf(stderr, "layercrypt: warning: %s\n", p.c_str());
  return prepared;
}

namespace {
std::string g_keyprovider_config;
double g_keyprovider_timeout = 30;
#if LAYERCRYPT_WITH_PGP
std::string g_gpg_pubring;
std::string g_gpg_homedir;

// gpg_export returns `gpg --batch --export [--homedir DIR]`'s output: the
// public keyring skopeo and ctr-enc hand ocicrypt for pgp recipients.
layercrypt::StatusOr<std::vector<uint8_t>> gpg_export(const std::string& homedir) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return layercrypt::IoError("pipe: " + std::string(std::strerror(errno)));
  const pid_t pid = ::fork();
  if (pid < 0) return layercrypt::IoError("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {  // gpg's own chatter ("directory created") would break one-line errors
    ::dup2(fds[1], 1);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, 2);
    std::vector<const char*> argv = {"gpg", "--batch", "--export"};
    if (!homedir.empty()) {
      argv.push_back("--homedir");
      argv.push_back(homedir.c_str());
    }
    argv.push_back(nullptr);
    ::execvp("gpg", const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return layercrypt::IoError(
        WIFEXITED(status) && WEXITSTATUS(status) == 127
            ? std::string("pgp recipients need a public keyring and gpg is not installed to export "
                          "one (give the keyring file instead)")
            : "pgp recipients: gpg --export" +
                  (homedir.empty() ? std::string() : " --homedir " + homedir) +
                  " failed (exit status " + std::to_string(WEXITSTATUS(status)) + ")");
  if (out.empty())
    return layercrypt::KeyError("pgp recipients: gpg --export" +
                                (homedir.empty() ? std::string() : " --homedir " + homedir) +
                                " exported no public keys");
  return out;
}

// pgp_pubring loads the public keyring for pgp: recipients: the file
// --gpg-pubring names, else what gpg exports from --gpg-homedir (or its
// default home), as skopeo does.
layercrypt::StatusOr<std::shared_ptr<const std::vector<uint8_t>>> pgp_pubring() {
  if (!g_gpg_pubring.empty()) {
    auto data = layercrypt::read_file_bounded(g_gpg_pubring, size_t{64} << 20);
    if (!data.ok()) return data.status().with_context("--gpg-pubring");
    return std::make_shared<const std::vector<uint8_t>>(std::move(*data));
  }
  LC_ASSIGN_OR_RETURN(std::vector<uint8_t> exported, gpg_export(g_gpg_homedir));
  return std::make_shared<const std::vector<uint8_t>>(std::move(exported));
}
#endif  // LAYERCRYPT_WITH_PGP
}  // namespace

void add_keyprovider_options(CLI::App& app) {
  app.add_option("--keyprovider-config", g_keyprovider_config,
                 "Key-provider config file (ocicrypt's format); default: the file "
                 "$OCICRYPT_KEYPROVIDER_CONFIG names")
      ->check(CLI::ExistingFile);
  app.add_option("--keyprovider-timeout", g_keyprovider_timeout,
                 "Seconds a key provider may take to answer one request")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
#if LAYERCRYPT_WITH_PGP
  auto* ring = app.add_option("--gpg-pubring", g_gpg_pubring,
                              "OpenPGP public keyring (binary or armored) for pgp:NAME "
                              "recipients; default: what `gpg --export` gives")
                   ->check(CLI::ExistingFile);
  app.add_option("--gpg-homedir", g_gpg_homedir,
                 "GnuPG home directory whose public keys pgp:NAME recipients are looked up in "
                 "(exported with gpg, as skopeo does)")
      ->check(CLI::ExistingDirectory)
      ->excludes(ring);
#endif
}

layercrypt::StatusOr<std::shared_ptr<const layercrypt::KeyProviders>> key_providers() {
  static std::shared_ptr<const layercrypt::KeyProviders> loaded;
  if (loaded) return loaded;
  auto p = layercrypt::load_key_providers(
      g_keyprovider_config,
      std::chrono::milliseconds(static_cast<int64_t>(g_keyprovider_timeout * 1000)));
  if (!p.ok()) return p.status();
  loaded = *p;
  return loaded;
}

layercrypt::StatusOr<layercrypt::Recipients> parse_recipients(
    const std::vector<std::string>& specs) {
  layercrypt::Recipients rcpt;
#if LAYERCRYPT_WITH_PGP
  if (std::any_of(specs.begin(), specs.end(),
                  [](const std::string& s) { return s.rfind("pgp:", 0) == 0; })) {
    LC_ASSIGN_OR_RETURN(rcpt.pgp_pubring, pgp_pubring());
  }
#endif
  for (const auto& r : specs) LC_RETURN_IF_ERROR(layercrypt::add_recipient(r, &rcpt));
  if (!rcpt.providers.empty()) {
    LC_ASSIGN_OR_RETURN(rcpt.key_providers, key_providers());
  }
  return rcpt;
}

// one_value_per_flag makes every repeatable option take one value per
// occurrence, so options may come after the positionals
// (`encrypt -r jwe:k SRC DST --json`, `--layer 1 SRC DST`).
void one_value_per_flag(CLI::App* app) {
  for (CLI::Option* o : app->get_options())
    if (!o->get_positional() && o->get_expected_max() > 1) o->allow_extra_args(false);
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; }))
    one_value_per_flag(sub);
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
  LC_ASSIGN_OR_RETURN(layercrypt::OciRef dst,
                      layercrypt::parse_oci_ref(output.empty() ? image : output));
  return std::make_pair(std::move(src), std::move(dst));
}

}  // namespace layercrypt::cli
