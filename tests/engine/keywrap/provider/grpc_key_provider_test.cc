// Tests for call_grpc_key_provider (engine/keywrap/provider/keyprovider_call.h)
// through the real module (grpc_client.h, found from this binary as
// build/lib/layercrypt/) against the provider's real server
// (tools/layercrypt-keyprovider/grpc_server.h) on 127.0.0.1: h2c, TLS,
// mutual TLS with the client's identity reaching the handler, and every
// failure the contract names (unreachable, TLS, timeout, refusal, size,
// missing module). TLS material: tests/vectors/keyprovider-tls/make_certs.sh.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/keywrap/provider/grpc_client.h"
#include "engine/keywrap/provider/keyprovider_call.h"
#include "tests/support/test_util.h"
#include "tools/layercrypt-keyprovider/grpc_server.h"

namespace layercrypt {
namespace {

using keyprovider::ClientIdentity;
using keyprovider::GrpcServerOptions;
using keyprovider::Handler;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const std::string kTls = std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/keyprovider-tls/";

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string text(const kernels::SecretBytes& b) { return std::string(b.begin(), b.end()); }

// What the handler saw last.
struct Seen {
  std::mutex mu;
  std::optional<ClientIdentity> who;
  std::optional<KeyProviderOp> op;
  int calls = 0;
};

// echo answers "wrap:REQUEST" or "unwrap:REQUEST" and records the call.
Handler echo(Seen* seen) {
  return [seen](KeyProviderOp op, std::span<const uint8_t> request,
                const ClientIdentity& who) -> StatusOr<kernels::SecretBytes> {
    {
      std::lock_guard<std::mutex> lock(seen->mu);
      seen->who = who;
      seen->op = op;
      seen->calls++;
    }
    std::string reply = (op == KeyProviderOp::kWrap ? "wrap:" : "unwrap:") +
                        std::string(request.begin(), request.end());
    return kernels::SecretBytes(reply.begin(), reply.end());
  };
}

// answer always answers `fixed`.
Handler answer(StatusOr<kernels::SecretBytes> fixed) {
  return [fixed](KeyProviderOp, std::span<const uint8_t>, const ClientIdentity&) { return fixed; };
}

// Server runs serve_grpc in a thread until destroyed.
class Server {
 public:
  Server(GrpcServerOptions opts, Handler handler) : opts_(std::move(opts)) {
    opts_.handle_signals = false;
    if (opts_.listen.empty()) opts_.listen = "127.0.0.1:0";
    std::promise<std::string> bound;
    auto ready = bound.get_future();
    thread_ = std::thread([this, handler = std::move(handler), bound = std::move(bound)]() mutable {
      bool told = false;
      status_ = keyprovider::serve_grpc(
          opts_, handler,
          [&](const std::string& address) {
            told = true;
            bound.set_value(address);
          },
          &stop_);
      if (!told) bound.set_value("");
    });
    address_ = ready.get();
  }
  ~Server() {
    stop_ = true;
    thread_.join();
  }
  const std::string& address() const { return address_; }  // "" if it failed
  std::string port() const { return address_.substr(address_.rfind(':') + 1); }
  const Status& status() const { return status_; }  // once destroyed or failed

 private:
  GrpcServerOptions opts_;
  std::atomic<bool> stop_{false};
  std::string address_;
  Status status_;
  std::thread thread_;
};

GrpcServerOptions tls_server(bool mutual) {
  GrpcServerOptions o;
  o.cert_file = kTls + "server.pem";
  o.key_file = kTls + "server.key";
  if (mutual) o.client_ca_file = kTls + "ca.pem";
  return o;
}

KeyProviderEntry entry(const std::string& target,
                       std::optional<KeyProviderGrpcTls> tls = std::nullopt) {
  KeyProviderEntry e;
  e.name = "kms";
  e.grpc = target;
  e.grpc_tls = std::move(tls);
  return e;
}

KeyProviderGrpcTls trust(const std::string& ca, const std::string& server_name) {
  KeyProviderGrpcTls t;
  t.root_ca_file = kTls + ca;
  t.server_name = server_name;
  return t;
}

KeyProviderGrpcTls with_client(KeyProviderGrpcTls t, const std::string& name) {
  t.cert_file = kTls + name + ".pem";
  t.key_file = kTls + name + ".key";
  return t;
}

StatusOr<kernels::SecretBytes> wrap(const KeyProviderEntry& e, const std::string& request,
                                    milliseconds timeout = milliseconds(10000)) {
  return call_grpc_key_provider(e, KeyProviderOp::kWrap, bytes(request), timeout);
}

std::string read_text(const std::string& path) {
  auto b = testing::read_file(path);
  return std::string(b.begin(), b.end());
}

// The module is looked for once per process, so a missing one is tried in a
// child process that runs only this test (death-test style "threadsafe").
TEST(GrpcKeyProviderDeathTest, MissingModuleNamesWhereItLooked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("LAYERCRYPT_KEYPROVIDER_GRPC_MODULE",
               "/nonexistent/liblayercrypt-keyprovider-grpc.so", 1);
        auto r = wrap(entry("127.0.0.1:1"), "{}");
        fprintf(stderr, "%s\n", r.ok() ? "ok" : r.status().message().c_str());
        _exit(!r.ok() && r.status().code() == StatusCode::kIoError ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "key provider kms \\(grpc 127.0.0.1:1\\): the gRPC module "
      "/nonexistent/liblayercrypt-keyprovider-grpc.so \\(LAYERCRYPT_KEYPROVIDER_GRPC_MODULE\\) "
      "does not exist");
}

TEST(GrpcKeyProviderModule, ExportsOnlyItsEntryPoint) {
  if (!testing::have_tool("nm")) GTEST_SKIP() << "nm (binutils) missing";
  FILE* nm = popen("nm -D --defined-only " LAYERCRYPT_TEST_GRPC_MODULE, "r");
  ASSERT_NE(nm, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, nm) != nullptr) out += buf;
  ASSERT_EQ(pclose(nm), 0);
  // gRPC, protobuf and the generated code stay inside the module.
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_NE(out.find(" T " LAYERCRYPT_KEYPROVIDER_GRPC_SYMBOL "\n"), std::string::npos) << out;
}

TEST(GrpcKeyProvider, H2cWrapAndUnwrap) {
  Seen seen;
  Server server({}, echo(&seen));
  ASSERT_NE(server.address(), "") << server.status().message();
  auto e = entry(server.address());
  auto r = wrap(e, "{\"op\":\"keywrap\"}");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(text(*r), "wrap:{\"op\":\"keywrap\"}");
  EXPECT_EQ(seen.op, KeyProviderOp::kWrap);
  r = call_grpc_key_provider(e, KeyProviderOp::kUnwrap, bytes("u"), milliseconds(10000));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(text(*r), "unwrap:u");
  EXPECT_EQ(seen.op, KeyProviderOp::kUnwrap);
  ASSERT_TRUE(seen.who.has_value());
  EXPECT_FALSE(seen.who->tls);
  EXPECT_FALSE(seen.who->authenticated);
  EXPECT_EQ(seen.who->peer.rfind("ipv4:127.0.0.1:", 0), 0u) << seen.who->peer;
  EXPECT_EQ(seen.who->cert_sha256, "");
}

TEST(GrpcKeyProvider, EmptyReplyAndBinaryRequest) {
  Server server({},
                [](KeyProviderOp, std::span<const uint8_t> request,
                   const ClientIdentity&) -> StatusOr<kernels::SecretBytes> {
                  if (request.size() == 3 && request[1] == 0) return kernels::SecretBytes{};
                  return InvalidArgument("unexpected request");
                });
  auto r = wrap(entry(server.address()), std::string("a\0b", 3));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->empty());
}

TEST(GrpcKeyProvider, UnixSocket) {
  testing::TempDir dir;
  GrpcServerOptions o;
  o.listen = "unix:" + dir.file("provider.sock");
  Seen seen;
  Server server(o, echo(&seen));
  ASSERT_EQ(server.address(), o.listen) << server.status().message();
  auto r = wrap(entry("unix://" + dir.file("provider.sock")), "x");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(text(*r), "wrap:x");
  EXPECT_EQ(seen.who->peer.rfind("unix:", 0), 0u) << seen.who->peer;
}

TEST(GrpcKeyProvider, ParallelCallsShareTheConnection) {
  Seen seen;
  Server server({}, echo(&seen));
  auto e = entry(server.address());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; i++) {
        std::string req = std::to_string(t) + "/" + std::to_string(i);
        auto r = wrap(e, req);
        if (r.ok() && text(*r) == "wrap:" + req) good++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good, 32);
  EXPECT_EQ(seen.calls, 32);
}

TEST(GrpcKeyProvider, TlsWithServerName) {
  Seen seen;
  Server server(tls_server(false), echo(&seen));
  ASSERT_NE(server.address(), "") << server.status().message();
  // The certificate names provider.test and localhost, not 127.0.0.1.
  auto r = wrap(entry(server.address(), trust("ca.pem", "provider.test")), "x");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(text(*r), "wrap:x");
  ASSERT_TRUE(seen.who.has_value());
  EXPECT_TRUE(seen.who->tls);
  EXPECT_FALSE(seen.who->authenticated);
  EXPECT_EQ(seen.who->subject, "");
}

TEST(GrpcKeyProvider, TlsChecksTheTargetHostWithoutServerName) {
  Seen seen;
  Server server(tls_server(false), echo(&seen));
  auto r = wrap(entry("localhost:" + server.port(), trust("ca.pem", "")), "x");
  ASSERT_TRUE(r.ok()) << r.status().message();
  // 127.0.0.1 is not in the certificate.
  r = wrap(entry(server.address(), trust("ca.pem", "")), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("Peer name 127.0.0.1 is not in peer certificate (set "
                                      "grpc-tls server-name"),
            std::string::npos)
      << r.status().message();
}

TEST(GrpcKeyProvider, TlsWrongServerName) {
  Seen seen;
  Server server(tls_server(false), echo(&seen));
  auto r = wrap(entry(server.address(), trust("ca.pem", "other.test")), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_EQ(seen.calls, 0);
}

TEST(GrpcKeyProvider, TlsWrongCa) {
  Seen seen;
  Server server(tls_server(false), echo(&seen));
  auto r = wrap(entry(server.address(), trust("other-ca.pem", "provider.test")), "secret-request");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind("key provider kms (grpc " + server.address() + ", TLS): ", 0), 0u) << m;
  EXPECT_NE(m.find("TLS"), std::string::npos) << m;
  EXPECT_NE(m.find("andshake"), std::string::npos) << m;
  EXPECT_EQ(m.find("secret-request"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_EQ(seen.calls, 0);
}

TEST(GrpcKeyProvider, TlsInsecureSkipVerify) {
  Seen seen;
  Server server(tls_server(false), echo(&seen));
  auto tls = trust("other-ca.pem", "");
  tls.insecure_skip_verify = true;
  auto r = wrap(entry(server.address(), tls), "x");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(text(*r), "wrap:x");
}

TEST(GrpcKeyProvider, TlsFileMissing) {
  auto r = wrap(entry("127.0.0.1:1", trust("no-such-ca.pem", "")), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("cannot read root-ca-file " + kTls + "no-such-ca.pem"),
            std::string::npos)
      << r.status().message();
}

TEST(GrpcKeyProvider, MutualTlsIdentityReachesTheHandler) {
  Seen seen;
  Server server(tls_server(true), echo(&seen));
  auto r =
      wrap(entry(server.address(), with_client(trust("ca.pem", "provider.test"), "client")), "x");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(seen.who.has_value());
  const ClientIdentity& who = *seen.who;
  EXPECT_TRUE(who.tls);
  EXPECT_TRUE(who.authenticated);
  EXPECT_EQ(who.subject, "layercrypt-test-client");
  std::string sha = read_text(kTls + "client.sha256");
  sha.erase(sha.find_last_not_of("\n") + 1);
  EXPECT_EQ(who.cert_sha256, sha);
  EXPECT_EQ(who.sans,
            (std::vector<std::string>{"DNS:client.test", "URI:spiffe://layercrypt.test/client"}));
}

TEST(GrpcKeyProvider, MutualTlsWithoutClientCertificate) {
  Seen seen;
  Server server(tls_server(true), echo(&seen));
  auto r = wrap(entry(server.address(), trust("ca.pem", "provider.test")), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError) << r.status().message();
  EXPECT_NE(r.status().message().find("may require a client certificate"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(seen.calls, 0);
}

TEST(GrpcKeyProvider, MutualTlsClientOfAnotherCa) {
  Seen seen;
  Server server(tls_server(true), echo(&seen));
  auto r = wrap(
      entry(server.address(), with_client(trust("ca.pem", "provider.test"), "other-client")), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError) << r.status().message();
  EXPECT_EQ(seen.calls, 0);
}

TEST(GrpcKeyProvider, RefusalIsAKeyErrorWithTheProvidersMessage) {
  Server server({}, answer(KeyError("key kbs:///k1 is not yours\nsecond line\x1b[31m")));
  auto r = wrap(entry(server.address()), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("PERMISSION_DENIED: key kbs:///k1 is not yours?second line?[31m"),
            std::string::npos)
      << m;
  for (char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << m;
}

TEST(GrpcKeyProvider, BadRequestIsInvalidArgument) {
  Server server({}, answer(DataError("invalid request: not JSON")));
  auto r = wrap(entry(server.address()), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_NE(r.status().message().find("INVALID_ARGUMENT: invalid request: not JSON"),
            std::string::npos)
      << r.status().message();
}

TEST(GrpcKeyProvider, TimeoutWithinItsBound) {
  Server server({},
                [](KeyProviderOp, std::span<const uint8_t>,
                   const ClientIdentity&) -> StatusOr<kernels::SecretBytes> {
                  std::this_thread::sleep_for(milliseconds(1500));
                  return kernels::SecretBytes{'l', 'a', 't', 'e'};
                });
  auto start = Clock::now();
  auto r = wrap(entry(server.address()), "x", milliseconds(300));
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("timed out after 300 ms"), std::string::npos)
      << r.status().message();
  EXPECT_GE(took, milliseconds(290));
  EXPECT_LT(took, milliseconds(300 + 700));
}

TEST(GrpcKeyProvider, EndpointDownFailsFast) {
  // A port that was just free and has nothing listening.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  const std::string target = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto start = Clock::now();
  auto r = wrap(entry(target), "x", milliseconds(10000));
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_EQ(r.status().message().rfind("key provider kms (grpc " + target + "): cannot connect", 0),
            0u)
      << r.status().message();
  EXPECT_LT(took, milliseconds(2000));
}

TEST(GrpcKeyProvider, ProviderBackAfterAFailureIsReachedAtOnce) {
  Seen seen;
  std::string target;
  {
    Server first({}, echo(&seen));
    target = first.address();
    ASSERT_TRUE(wrap(entry(target), "x").ok());
  }
  auto r = wrap(entry(target), "x", milliseconds(2000));
  EXPECT_FALSE(r.ok());
  GrpcServerOptions o;
  o.listen = target;
  Server again(o, echo(&seen));
  ASSERT_EQ(again.address(), target) << again.status().message();
  r = wrap(entry(target), "y", milliseconds(5000));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(text(*r), "wrap:y");
}

TEST(GrpcKeyProvider, OversizedReplyIsADataError) {
  Server server({}, answer(kernels::SecretBytes(kMaxKeyProviderMessage + 1, 'a')));
  auto r = wrap(entry(server.address()), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataError) << r.status().message();
  EXPECT_NE(r.status().message().find("larger than"), std::string::npos) << r.status().message();
}

TEST(GrpcKeyProvider, ReplyOfTheLargestSizeArrives) {
  Server server({}, answer(kernels::SecretBytes(kMaxKeyProviderMessage, 'a')));
  auto r = wrap(entry(server.address()), "x");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), kMaxKeyProviderMessage);
}

TEST(GrpcKeyProvider, OversizedRequestIsRefusedByTheServer) {
  Seen seen;
  GrpcServerOptions o;
  o.max_message = 1000;
  Server server(o, echo(&seen));
  auto r = wrap(entry(server.address()), std::string(5000, 'r'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError) << r.status().message();
  EXPECT_NE(r.status().message().find("RESOURCE_EXHAUSTED"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(seen.calls, 0);
}

TEST(GrpcKeyProvider, BusyServerAnswersResourceExhausted) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> entered{0};
  GrpcServerOptions o;
  o.max_concurrent = 1;
  Server server(o,
                [&](KeyProviderOp, std::span<const uint8_t>,
                    const ClientIdentity&) -> StatusOr<kernels::SecretBytes> {
                  entered++;
                  released.wait();
                  return kernels::SecretBytes{'o', 'k'};
                });
  auto e = entry(server.address());
  auto first = std::async(std::launch::async, [&] { return wrap(e, "1"); });
  while (entered == 0) std::this_thread::sleep_for(milliseconds(5));
  auto second = wrap(e, "2");
  release.set_value();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kKeyError);
  EXPECT_NE(second.status().message().find("RESOURCE_EXHAUSTED: too many requests in flight"),
            std::string::npos)
      << second.status().message();
  auto r = first.get();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(text(*r), "ok");
}

TEST(GrpcKeyProviderServer, RejectsBadOptions) {
  GrpcServerOptions o;
  o.listen = "127.0.0.1:0";
  o.handle_signals = false;
  o.cert_file = kTls + "server.pem";
  auto ready = [](const std::string&) { FAIL() << "must not listen"; };
  Seen seen;
  Status s = keyprovider::serve_grpc(o, echo(&seen), ready, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  o.cert_file.clear();
  o.client_ca_file = kTls + "ca.pem";
  s = keyprovider::serve_grpc(o, echo(&seen), ready, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  o = tls_server(false);
  o.listen = "127.0.0.1:0";
  o.handle_signals = false;
  o.key_file = kTls + "missing.key";
  s = keyprovider::serve_grpc(o, echo(&seen), ready, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.message();
  EXPECT_NE(s.message().find("missing.key"), std::string::npos) << s.message();
}

TEST(GrpcKeyProviderServer, AddressInUse) {
  Seen seen;
  Server first({}, echo(&seen));
  GrpcServerOptions o;
  o.listen = first.address();
  Server second(o, echo(&seen));
  EXPECT_EQ(second.address(), "");
  EXPECT_EQ(second.status().code(), StatusCode::kIoError) << second.status().message();
}

TEST(GrpcKeyProviderServer, StopsOnSigterm) {
  GrpcServerOptions o;
  o.listen = "127.0.0.1:0";
  o.handle_signals = true;
  Seen seen;
  std::promise<void> listening;
  auto done = std::async(std::launch::async, [&] {
    return keyprovider::serve_grpc(
        o, echo(&seen), [&](const std::string&) { listening.set_value(); }, nullptr);
  });
  listening.get_future().wait();
  kill(getpid(), SIGTERM);
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(done.get().ok());
}

}  // namespace
}  // namespace layercrypt
