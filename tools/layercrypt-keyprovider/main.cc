// tools/layercrypt-keyprovider/main.cc: the reference key provider for Go
// ocicrypt's key-provider protocol (spec §A): it wraps a layer's private
// options under a key-encryption key that never leaves its store (a KEK
// file, or an AES key inside a PKCS#11 token) and unwraps them only for the
// callers its policy lists (engine/keyrelease/policy.h). Nodes outside the
// list can pull an image but not run it.
//
//   cmd          one request on stdin (at most 1 MiB), the reply on stdout,
//                exit 0; a refusal exits 1 with one line on stderr, which
//                Go ocicrypt shows. The caller is "local" (uid: ours, which
//                our parent gave us).
//   serve        keyprovider.KeyProviderService over gRPC (h2c, TLS, or
//                mutual TLS with --client-ca, whose certificates are the
//                identities cn:/san:/sha256: of the policy); SIGTERM stops it.
//                The server is a module loaded only here (grpc_server.h), so
//                cmd, started once per layer key, loads no gRPC.
//   keygen-kek   a new 32-byte KEK file (mode 0600, never overwriting).
//   pkcs11-keygen  a new non-extractable AES-256 KEK inside a token.
//
// Every decision is one log line (time, op, peer, identity, key, allowed or
// refused and why): --log-file, else stderr (in cmd mode only successes go
// to stderr: a refusal is the error line).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/keyrelease/kek.h"
#include "engine/keyrelease/key_release.h"
#ifdef LAYERCRYPT_KEYPROVIDER_GRPC
#include "tools/layercrypt-keyprovider/grpc_server.h"
#endif

namespace {

using layercrypt::Caller;
using layercrypt::KeyRelease;
using layercrypt::KeyReleaseOptions;
using layercrypt::Status;

constexpr const char* kProgram = "layercrypt-keyprovider";

int fail(const std::string& message) {
  std::string line = message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "%s: %s\n", kProgram, line.c_str());
  return 1;
}

// LogSink writes whole lines to a file opened for appending (one write(2)
// per line, so concurrent providers do not interleave) or to stderr.
class LogSink {
 public:
  Status open(const std::string& path) {
    if (path.empty()) return Status::Ok();
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
      return layercrypt::IoError("cannot open log file " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }
  bool to_file() const { return fd_ >= 0; }
  void write(const std::string& line) {
    const std::string out = line + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    const ssize_t n = ::write(fd_ >= 0 ? fd_ : STDERR_FILENO, out.data(), out.size());
    (void)n;  // a log that cannot be written must not stop a decision
  }

 private:
  int fd_ = -1;
  std::mutex mu_;
};

// read_request reads stdin up to `max` bytes; more is an error.
layercrypt::StatusOr<std::vector<uint8_t>> read_request(size_t max) {
  std::vector<uint8_t> in;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return layercrypt::IoError(std::string("cannot read stdin: ") + std::strerror(errno));
    if (n == 0) break;
    if (in.size() + static_cast<size_t>(n) > max)
      return layercrypt::DataError("request larger than " + std::to_string(max) +
                                   " bytes: not a key-provider request");
    in.insert(in.end(), buf, buf + n);
  }
  if (in.empty()) return layercrypt::DataError("no request on stdin");
  return in;
}

void on_alarm(int) {
  static const char kMsg[] = "layercrypt-keyprovider: request not answered within --timeout\n";
  const ssize_t n = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  (void)n;
  ::_exit(1);
}

int run_cmd(KeyReleaseOptions options, LogSink& log, unsigned timeout_s) {
  // Bounded in time: a token that hangs must not hang containerd's pull.
  ::signal(SIGALRM, on_alarm);
  ::alarm(timeout_s);
  std::string last;
  options.log = [&log, &last](const std::string& line) {
    if (log.to_file()) log.write(line);
    last = line;
  };
  KeyRelease service(options);
  Caller who;
  who.transport = "cmd";
  who.local = true;
  who.uid = ::getuid();
  who.peer = "pid " + std::to_string(::getppid()) + " uid " + std::to_string(::getuid());
  auto request = read_request(layercrypt::kMaxKeyProviderMessage);
  if (!request.ok()) return fail(request.status().message());
  auto reply = service.handle(*request, who);
  if (!reply.ok()) return fail(reply.status().message());
  if (!log.to_file() && !last.empty()) log.write(last);
  size_t done = 0;
  while (done < reply->size()) {
    const ssize_t n = ::write(STDOUT_FILENO, reply->data() + done, reply->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(std::string("cannot write the reply: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return 0;
}

#ifdef LAYERCRYPT_KEYPROVIDER_GRPC
// caller_of maps what the gRPC transport established to a policy Caller.
// SANs come typed ("DNS:x"); the policy matches "san:DNS:x" and "san:x".
Caller caller_of(const layercrypt::keyprovider::ClientIdentity& id) {
  Caller c;
  c.transport = "grpc";
  c.peer = id.peer;
  c.tls_verified = id.tls && id.authenticated;
  c.subject_cn = id.subject;
  c.cert_sha256 = id.cert_sha256;
  for (const std::string& san : id.sans) {
    c.sans.push_back(san);
    const size_t colon = san.find(':');
    if (colon != std::string::npos) c.sans.push_back(san.substr(colon + 1));
  }
  return c;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "layercrypt-keyprovider: an ocicrypt key provider that releases layer keys only to the "
      "callers its policy lists (KEKs in files or PKCS#11 tokens)"};
  app.require_subcommand(1);
  app.footer(
      "Policy (--policy, JSON; re-read when it changes):\n"
      "  {\"default-key\": \"prod\",\n"
      "   \"keys\": {\"prod\": {\"kek\": {\"file\": \"prod.kek\"},\n"
      "                      \"release-to\": [\"local\", \"cn:node-1\", \"san:DNS:node-2\", "
      "\"sha256:HEX\", \"uid:0\"]}}}\n\n"
      "Example: a KEK, a policy, and ocicrypt's config for the cmd transport:\n"
      "  layercrypt-keyprovider keygen-kek /etc/layercrypt/prod.kek\n"
      "  echo '{\"key-providers\": {\"layercrypt\": {\"cmd\": {\"path\": "
      "\"/usr/bin/layercrypt-keyprovider\",\n"
      "        \"args\": [\"cmd\", \"--policy\", \"/etc/layercrypt/policy.json\"]}}}}' "
      ">/etc/containerd/ocicrypt/ocicrypt_keyprovider.conf\n"
      "  skopeo copy --encryption-key provider:layercrypt:key=prod oci:img oci:img-enc");
  std::string policy, name = layercrypt::kDefaultProviderName, log_file;
  unsigned timeout_s = 30;
  auto add_service_options = [&](CLI::App* sub) {
    sub->add_option("--policy", policy, "The policy file (JSON)")->required();
    sub->add_option("--name", name,
                    "This provider's name in ocicrypt's config (its parameters are read from "
                    "Parameters[NAME])")
        ->capture_default_str();
    sub->add_option("--log-file", log_file, "Append decision lines here instead of stderr");
  };
  CLI::App* cmd = app.add_subcommand("cmd", "Answer one request from stdin on stdout");
  add_service_options(cmd);
  cmd->add_option("--timeout", timeout_s, "Seconds allowed for the request")->capture_default_str();

  CLI::App* serve = app.add_subcommand("serve", "Serve keyprovider.KeyProviderService over gRPC");
  add_service_options(serve);
  std::string listen, tls_cert, tls_key, client_ca;
  int max_concurrent = 16;
  serve->add_option("--listen", listen, "host:port or unix:/path")->required();
  serve->add_option("--tls-cert", tls_cert, "Server certificate (PEM); with --tls-key");
  serve->add_option("--tls-key", tls_key, "Server private key (PEM)");
  serve->add_option("--client-ca", client_ca,
                    "CA certificates (PEM) client certificates must chain to (mutual TLS)");
  serve->add_option("--max-concurrent", max_concurrent, "Requests in flight at most")
      ->capture_default_str();

  CLI::App* keygen = app.add_subcommand("keygen-kek", "Write a new random 32-byte KEK file");
  std::string kek_path;
  keygen->add_option("FILE", kek_path, "The new file (must not exist)")->required();

  CLI::App* p11 =
      app.add_subcommand("pkcs11-keygen", "Create a non-extractable AES-256 KEK in a token");
  layercrypt::KekSpec spec;
  spec.kind = layercrypt::KekKind::kPkcs11;
  std::string id_hex;
  p11->add_option("--module", spec.module, "PKCS#11 module (.so)")->required();
  p11->add_option("--token", spec.token, "Token label")->required();
  p11->add_option("--label", spec.label, "The new key's label")->required();
  p11->add_option("--id", id_hex, "The new key's id (hex)");
  auto* pin_file = p11->add_option("--pin-file", spec.pin_file, "File whose first line is the PIN");
  auto* pin_env = p11->add_option("--pin-env", spec.pin_env, "Environment variable with the PIN");
  pin_file->excludes(pin_env);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see layercrypt-keyprovider --help)");
  }
  ::signal(SIGPIPE, SIG_IGN);

  if (keygen->parsed()) {
    const Status st = layercrypt::write_new_kek_file(kek_path);
    if (!st.ok()) return fail(st.message());
    std::printf("wrote a new KEK to %s (mode 0600)\n", kek_path.c_str());
    return 0;
  }
  if (p11->parsed()) {
    if (spec.pin_file.empty() && spec.pin_env.empty())
      return fail("pkcs11-keygen needs --pin-file or --pin-env");
    if (id_hex.size() % 2 != 0 || id_hex.find_first_not_of("0123456789abcdefABCDEF") != id_hex.npos)
      return fail("--id is not an even number of hex digits");
    for (size_t i = 0; i < id_hex.size(); i += 2)
      spec.id.push_back(static_cast<uint8_t>(std::stoul(id_hex.substr(i, 2), nullptr, 16)));
    const Status st = layercrypt::create_pkcs11_kek(spec);
    if (!st.ok()) return fail(st.message());
    std::printf("created %s\n", spec.describe().c_str());
    return 0;
  }

  LogSink log;
  if (Status st = log.open(log_file); !st.ok()) return fail(st.message());
  KeyReleaseOptions options;
  options.policy_path = policy;
  options.name = name;
  if (cmd->parsed()) return run_cmd(options, log, timeout_s);

#ifdef LAYERCRYPT_KEYPROVIDER_GRPC
  options.log = [&log](const std::string& line) { log.write(line); };
  KeyRelease service(options);
  (void)service.policy().current();  // log the policy's state at start
  layercrypt::keyprovider::GrpcServerOptions g;
  g.listen = listen;
  g.cert_file = tls_cert;
  g.key_file = tls_key;
  g.client_ca_file = client_ca;
  g.max_concurrent = max_concurrent;
  const Status st = layercrypt::keyprovider::serve_grpc(
      g,
      [&service](layercrypt::KeyProviderOp op, std::span<const uint8_t> request,
                 const layercrypt::keyprovider::ClientIdentity& who) {
        return service.handle(request, caller_of(who), op);
      },
      [&log](const std::string& address) {
        log.write(std::string("serving keyprovider.KeyProviderService on ") + address);
        std::printf("listening on %s\n", address.c_str());
        std::fflush(stdout);
      },
      nullptr);
  if (!st.ok()) return fail(st.message());
  return 0;
#else
  return fail(
      "this build has no gRPC transport (configured with LAYERCRYPT_WITH_GRPC=OFF): use cmd");
#endif
}
