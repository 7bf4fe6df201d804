// tools/layercrypt-keyprovider/grpc_server.cc: serve_grpc (grpc_server.h).
//
// gRPC's callback API: WrapKey/UnWrapKey run on gRPC's threads only long
// enough to take a slot (or answer RESOURCE_EXHAUSTED) and queue the
// request; a pool of max_concurrent workers runs the handler and finishes
// the call. The reactor owns nothing but the call: its OnDone, the last
// thing gRPC does with the request and reply messages, wipes their bytes.
#include "tools/layercrypt-keyprovider/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <string.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/keywrap/provider/keyprovider.grpc.pb.h"

namespace layercrypt::keyprovider {
namespace {

using Input = ::keyprovider::keyProviderKeyWrapProtocolInput;
using Output = ::keyprovider::keyProviderKeyWrapProtocolOutput;

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr auto kShutdownGrace = std::chrono::seconds(5);

volatile sig_atomic_t g_signalled = 0;
void on_signal(int) { g_signalled = 1; }

void wipe_string(std::string* s) {
  if (!s->empty()) explicit_bzero(s->data(), s->size());
  s->clear();
}

// read_file reads a PEM file of the options; kIoError naming it.
StatusOr<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(std::string("cannot read ") + what + " " + path + ": " + strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.empty()) return IoError(std::string(what) + " " + path + " is empty");
  return data;
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; i++) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

// add_certificate fills the certificate fields of `who` from the peer's PEM.
void add_certificate(const std::string& pem, ClientIdentity* who) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return;
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) == 1) who->cert_sha256 = hex(md, md_len);
  const X509_NAME* name = X509_get_subject_name(cert.get());
  int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at >= 0) {
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
    if (n >= 0) who->subject.assign(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> sans(
      static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)),
      GENERAL_NAMES_free);
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); i++) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
    if (g->type == GEN_DNS) who->sans.push_back("DNS:" + asn1_text(g->d.dNSName));
    if (g->type == GEN_URI) who->sans.push_back("URI:" + asn1_text(g->d.uniformResourceIdentifier));
    if (g->type == GEN_EMAIL) who->sans.push_back("email:" + asn1_text(g->d.rfc822Name));
  }
}

ClientIdentity identify(const grpc::CallbackServerContext& ctx, bool verifies_clients) {
  ClientIdentity who;
  who.peer = ctx.peer();
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (!auth) return who;
  for (const auto& v : auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME)) {
    if (std::string(v.data(), v.size()) == GRPC_SSL_TRANSPORT_SECURITY_TYPE) who.tls = true;
  }
  if (!who.tls) return who;
  auto pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) return who;
  add_certificate(std::string(pems.front().data(), pems.front().size()), &who);
  // With client_ca_file the handshake fails without a verified certificate,
  // so a certificate here is a verified one.
  who.authenticated = verifies_clients && !who.cert_sha256.empty();
  return who;
}

grpc::Status to_grpc(const Status& s) {
  switch (s.code()) {
    case StatusCode::kKeyError:
      return {grpc::StatusCode::PERMISSION_DENIED, s.message()};
    case StatusCode::kDataError:
    case StatusCode::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    default:
      return {grpc::StatusCode::INTERNAL, s.message()};
  }
}

// WorkerPool runs queued tasks on a fixed number of threads.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; i++) threads_.emplace_back([this] { run(); });
  }
  ~WorkerPool() { join(); }

  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  // join runs what is queued, then stops the threads.
  void join() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return closing_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

// Reactor finishes one call; OnDone wipes the messages and frees it.
class Reactor final : public grpc::ServerUnaryReactor {
 public:
  Reactor(const Input* in, Output* out) : in_(in), out_(out) {}
  void OnDone() override {
    // gRPC is done with both messages; the request object is gRPC's, about
    // to be destroyed, and was never const.
    wipe_string(const_cast<Input*>(in_)->mutable_keyproviderkeywrapprotocolinput());
    wipe_string(out_->mutable_keyproviderkeywrapprotocoloutput());
    delete this;
  }

 private:
  const Input* in_;
  Output* out_;
};

class Service final : public ::keyprovider::KeyProviderService::CallbackService {
 public:
  Service(const GrpcServerOptions& opts, const Handler& handler, WorkerPool* pool)
      : opts_(opts), handler_(handler), pool_(pool) {}

  grpc::ServerUnaryReactor* WrapKey(grpc::CallbackServerContext* ctx, const Input* in,
                                    Output* out) override {
    return start(KeyProviderOp::kWrap, ctx, in, out);
  }
  grpc::ServerUnaryReactor* UnWrapKey(grpc::CallbackServerContext* ctx, const Input* in,
                                      Output* out) override {
    return start(KeyProviderOp::kUnwrap, ctx, in, out);
  }

 private:
  grpc::ServerUnaryReactor* start(KeyProviderOp op, grpc::CallbackServerContext* ctx,
                                  const Input* in, Output* out) {
    auto* reactor = new Reactor(in, out);
    if (in_flight_.fetch_add(1) >= opts_.max_concurrent) {
      in_flight_.fetch_sub(1);
      reactor->Finish({grpc::StatusCode::RESOURCE_EXHAUSTED,
                       "too many requests in flight (at most " +
                           std::to_string(opts_.max_concurrent) + "); retry later"});
      return reactor;
    }
    pool_->post([this, op, ctx, in, out, reactor] {
      reactor->Finish(answer(op, *ctx, *in, out));
      in_flight_.fetch_sub(1);
    });
    return reactor;
  }

  grpc::Status answer(KeyProviderOp op, const grpc::CallbackServerContext& ctx, const Input& in,
                      Output* out) {
    const std::string& request = in.keyproviderkeywrapprotocolinput();
    if (request.size() > opts_.max_message) {
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "request larger than " + std::to_string(opts_.max_message) + " bytes"};
    }
    try {
      const ClientIdentity who = identify(ctx, !opts_.client_ca_file.empty());
      StatusOr<kernels::SecretBytes> reply =
          handler_(op,
                   std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(request.data()),
                                            request.size()),
                   who);
      if (!reply.ok()) return to_grpc(reply.status());
      out->mutable_keyproviderkeywrapprotocoloutput()->assign(
          reinterpret_cast<const char*>(reply->data()), reply->size());
      return grpc::Status::OK;
    } catch (...) {
      return {grpc::StatusCode::INTERNAL, "internal error"};
    }
  }

  const GrpcServerOptions& opts_;
  const Handler& handler_;
  WorkerPool* pool_;
  std::atomic<int> in_flight_{0};
};

StatusOr<std::shared_ptr<grpc::ServerCredentials>> server_credentials(
    const GrpcServerOptions& opts) {
  if (opts.cert_file.empty() != opts.key_file.empty()) {
    return InvalidArgument("server TLS needs both a certificate and a key file");
  }
  if (opts.cert_file.empty()) {
    if (!opts.client_ca_file.empty()) {
      return InvalidArgument(
          "a client CA file (mutual TLS) needs server TLS: give a certificate "
          "and a key file");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl(
      opts.client_ca_file.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                  : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!opts.client_ca_file.empty()) {
    LC_ASSIGN_OR_RETURN(ssl.pem_root_certs, read_file(opts.client_ca_file, "client CA file"));
  }
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  LC_ASSIGN_OR_RETURN(pair.cert_chain, read_file(opts.cert_file, "certificate file"));
  LC_ASSIGN_OR_RETURN(pair.private_key, read_file(opts.key_file, "key file"));
  ssl.pem_key_cert_pairs.push_back(pair);
  wipe_string(&pair.private_key);
  auto creds = grpc::SslServerCredentials(ssl);
  wipe_string(&ssl.pem_key_cert_pairs.front().private_key);
  if (!creds) return IoError("gRPC refused the server certificate or key");
  return creds;
}

// SignalScope makes SIGTERM and SIGINT set g_signalled while it lives.
class SignalScope {
 public:
  explicit SignalScope(bool active) : active_(active) {
    if (!active_) return;
    g_signalled = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term_);
    sigaction(SIGINT, &sa, &old_int_);
  }
  ~SignalScope() {
    if (!active_) return;
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGINT, &old_int_, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  bool active_;
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

}  // namespace

Status serve_grpc(const GrpcServerOptions& opts, const Handler& handler,
                  const std::function<void(const std::string&)>& ready,
                  const std::atomic<bool>* stop) {
  if (opts.listen.empty()) return InvalidArgument("no address to listen on");
  if (opts.max_concurrent < 1) return InvalidArgument("max_concurrent must be at least 1");
  if (opts.max_message < 1 || opts.max_message > (1u << 30)) {
    return InvalidArgument("max_message must be between 1 byte and 1 GiB");
  }
  LC_ASSIGN_OR_RETURN(auto creds, server_credentials(opts));

  WorkerPool pool(opts.max_concurrent);
  Service service(opts, handler, &pool);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(opts.listen, creds, &port);
  // The message is the request plus a tag and a length (at most 11 bytes):
  // gRPC refuses larger ones before they are read whole.
  builder.SetMaxReceiveMessageSize(static_cast<int>(opts.max_message + 16));
  // One listener per port: without this gRPC sets SO_REUSEPORT and a second
  // provider on a port in use would share its connections silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  const bool unix_socket = opts.listen.rfind("unix", 0) == 0;
  if (!server || (!unix_socket && port == 0)) {
    return IoError("cannot listen on " + opts.listen +
                   " (address in use, not local, or not host:port / unix:/path?)");
  }
  std::string bound = opts.listen;
  if (!unix_socket && bound.size() >= 2 && bound.compare(bound.size() - 2, 2, ":0") == 0) {
    bound = bound.substr(0, bound.size() - 1) + std::to_string(port);
  }

  SignalScope signals(opts.handle_signals);
  if (ready) ready(bound);
  while (!(stop && stop->load()) && !(opts.handle_signals && g_signalled)) {
    std::this_thread::sleep_for(kPollInterval);
  }

  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  pool.join();  // every queued call finished, so gRPC can let go of it
  server->Wait();
  return Status::Ok();
}

}  // namespace layercrypt::keyprovider
