// engine/keywrap/provider/grpc_module.cc: liblayercrypt-keyprovider-grpc.so,
// the gRPC client of the key-provider protocol (grpc_client.h), loaded by
// call_grpc_key_provider (grpc_loader.cc) on first use.
//
// Behaviour, as Go ocicrypt dials (spec §A.1):
//   * h2c (insecure channel credentials) without grpc-tls; with it TLS,
//     trusting root_ca_file (or gRPC's default roots, the system store),
//     sending a client certificate when both cert_file and key_file are set,
//     checking and sending server_name (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG)
//     instead of the target's host when set; insecure_skip_verify uses
//     gRPC's experimental TLS credentials with verification off.
//   * The deadline covers connecting and the call: the RPC is not
//     wait-for-ready, so a refused connection or a failed handshake fails at
//     once (UNAVAILABLE) and a silent endpoint fails at the deadline.
//
// Channels are cached per (target, TLS settings, identity of the TLS files,
// reply bound), so `layercrypt encrypt -j` calling a provider for every
// layer connects once. A channel whose call failed UNAVAILABLE is dropped,
// so a restarted provider is reached at once instead of after gRPC's
// reconnect backoff. The cache is never destroyed (no destructor may run
// after gRPC's own at exit) and at most kMaxChannels are kept.
//
// The messages are written and read here (see encode_input), not with
// protobuf's generated code. Secrets: the request and reply are held in
// buffers wiped after use; the reply is handed over in malloc'd memory that
// wipe_and_free wipes. gRPC's own slices and transport buffers are not ours
// to wipe.
//
// Only layercrypt_keyprovider_grpc_call_v1 is exported (a version script;
// everything else, gRPC included, is local to the module).
#include <grpc/support/log.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "engine/keywrap/provider/grpc_client.h"

namespace {

constexpr size_t kMaxChannels = 32;
// kMaxTlsFile bounds a PEM file (a CA bundle is ~200 KiB).
constexpr std::streamoff kMaxTlsFile = 4 << 20;

class CallError {
 public:
  CallError(LcGrpcError code, std::string message) : code_(code), message_(std::move(message)) {}
  LcGrpcError code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  LcGrpcError code_;
  std::string message_;
};

std::string str(const char* s) { return s ? s : ""; }

// wipe_string overwrites a string's bytes (a protobuf field, a PEM key).
void wipe_string(std::string* s) {
  if (!s->empty()) explicit_bzero(s->data(), s->size());
  s->clear();
}

// one_line makes untrusted text (a gRPC status message) fit a one-line error:
// control and non-ASCII bytes become '?', at most `max` bytes.
std::string one_line(const std::string& text, size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

std::string duration_text(int64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

// read_pem reads a TLS file named by the config; `what` is its member name.
std::string read_pem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw CallError(LC_GRPC_CONFIG,
                    std::string("cannot read ") + what + " " + path + ": " + strerror(errno));
  }
  std::string data;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (static_cast<std::streamoff>(data.size()) > kMaxTlsFile) {
      wipe_string(&data);
      throw CallError(LC_GRPC_CONFIG, std::string(what) + " " + path + " is larger than 4 MiB");
    }
  }
  explicit_bzero(buf, sizeof buf);
  if (data.empty()) throw CallError(LC_GRPC_CONFIG, std::string(what) + " " + path + " is empty");
  return data;
}

// file_identity names a file's current version for the channel cache, so a
// renewed certificate or key makes a new channel: "dev:ino:size:mtime".
std::string file_identity(const std::string& path) {
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) return "-";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

std::string cache_key(const LcGrpcCall& c) {
  std::string key = str(c.target) + '\n' + std::to_string(c.max_reply);
  if (!c.use_tls) return key + "\nh2c";
  for (const char* f : {c.root_ca_file, c.cert_file, c.key_file}) {
    key += '\n' + str(f) + '@' + file_identity(str(f));
  }
  return key + '\n' + str(c.server_name) + '\n' + (c.insecure_skip_verify ? "skip" : "verify");
}

std::shared_ptr<grpc::ChannelCredentials> tls_credentials(const LcGrpcCall& c) {
  const std::string root_ca_file = str(c.root_ca_file);
  const std::string cert_file = str(c.cert_file), key_file = str(c.key_file);
  const bool client_cert = !cert_file.empty() && !key_file.empty();
  std::string roots = root_ca_file.empty() ? "" : read_pem(root_ca_file, "root-ca-file");
  std::string cert = client_cert ? read_pem(cert_file, "cert-file") : "";
  std::string key = client_cert ? read_pem(key_file, "key-file") : "";
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!c.insecure_skip_verify) {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = roots;
    opts.pem_cert_chain = cert;
    opts.pem_private_key = key;
    creds = grpc::SslCredentials(opts);
    wipe_string(&opts.pem_private_key);
  } else {
    // No verification at all (Go's InsecureSkipVerify): neither the chain nor
    // the name is checked, so the roots do not matter.
    grpc::experimental::TlsChannelCredentialsOptions opts;
    if (client_cert) {
      opts.set_certificate_provider(
          std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
              std::vector<grpc::experimental::IdentityKeyCertPair>{{key, cert}}));
      opts.watch_identity_key_cert_pairs();
    }
    opts.set_verify_server_certs(false);
    opts.set_check_call_host(false);
    opts.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
    creds = grpc::experimental::TlsCredentials(opts);
  }
  wipe_string(&key);
  if (!creds) throw CallError(LC_GRPC_CONFIG, "gRPC refused the TLS settings");
  return creds;
}

// max_message is the channel's receive limit: the reply plus a tag and a
// length (at most 11 bytes).
size_t max_message(const LcGrpcCall& c) { return std::min<size_t>(c.max_reply + 16, INT32_MAX); }

std::shared_ptr<grpc::Channel> make_channel(const LcGrpcCall& c) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(max_message(c)));
  // Reconnects after a failure: no long backoff, the next call is bounded anyway.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each channel its own subchannels, so dropping a failed one really reconnects.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (c.use_tls) {
    creds = tls_credentials(c);
    if (c.server_name && *c.server_name) args.SetSslTargetNameOverride(c.server_name);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  auto channel = grpc::CreateCustomChannel(c.target, creds, args);
  if (!channel) throw CallError(LC_GRPC_CONFIG, "gRPC cannot make a channel to this target");
  return channel;
}

class ChannelCache {
 public:
  std::shared_ptr<grpc::Channel> get(const LcGrpcCall& c, std::string* key) {
    *key = cache_key(c);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = channels_.find(*key);
      if (it != channels_.end()) return it->second;
    }
    // Made outside the lock: reading the TLS files must not serialise calls
    // to other providers. Two threads may both make one; the first kept wins.
    auto channel = make_channel(c);
    std::lock_guard<std::mutex> lock(mu_);
    if (channels_.size() >= kMaxChannels) channels_.clear();
    return channels_.emplace(*key, channel).first->second;
  }

  void drop(const std::string& key, const std::shared_ptr<grpc::Channel>& channel) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = channels_.find(key);
    if (it != channels_.end() && it->second == channel) channels_.erase(it);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

ChannelCache& channel_cache() {
  static ChannelCache* cache = new ChannelCache();  // never destroyed, see above
  return *cache;
}

void wipe_and_free(uint8_t* data, size_t len) {
  if (data) explicit_bzero(data, len);
  free(data);
}

// WipedBytes is a byte buffer wiped when it goes out of scope.
class WipedBytes {
 public:
  WipedBytes() = default;
  ~WipedBytes() { wipe(); }
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;

  void reserve(size_t n) {
    if (n <= bytes_.capacity()) return;
    std::vector<uint8_t> bigger;
    bigger.reserve(n);
    bigger.assign(bytes_.begin(), bytes_.end());
    wipe();
    bytes_.swap(bigger);
  }
  void append(const void* p, size_t n) {
    reserve(bytes_.size() + n);
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void push_back(uint8_t b) { append(&b, 1); }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  void wipe() {
    if (!bytes_.empty()) explicit_bzero(bytes_.data(), bytes_.size());
    bytes_.clear();
  }
  std::vector<uint8_t> bytes_;
};

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "an error";
  }
}

// tls_hint suggests the grpc-tls setting behind a failed TLS connection.
std::string tls_hint(const std::string& detail, const LcGrpcCall& c) {
  if (detail.find("not in peer certificate") != std::string::npos) {
    return " (set grpc-tls server-name to a name the provider's certificate has)";
  }
  if (detail.find("certificate verify failed") != std::string::npos) {
    return " (is grpc-tls root-ca-file the CA of the provider's certificate?)";
  }
  if (detail.find("Socket closed") != std::string::npos) {
    return c.cert_file && *c.cert_file && c.key_file && *c.key_file
               ? " (did the provider refuse grpc-tls cert-file's certificate?)"
               : " (the provider may require a client certificate: grpc-tls cert-file and "
                 "key-file)";
  }
  return "";
}

// is_reply_too_large tells gRPC's own refusal of a reply above the channel's
// receive limit from a provider's RESOURCE_EXHAUSTED (too busy, or its own
// limit refusing our request): gRPC says "Received message larger than max
// (N vs. M)" on both sides, so it is ours when M is our limit and N is not
// the size of the request we sent.
bool is_reply_too_large(const std::string& message, size_t request_size, const LcGrpcCall& c) {
  unsigned long long n = 0, m = 0;
  auto at = message.find("larger than max (");
  if (at == std::string::npos ||
      sscanf(message.c_str() + at, "larger than max (%llu vs. %llu)", &n, &m) != 2) {
    return false;
  }
  return m == max_message(c) && n != request_size;
}

CallError status_error(const grpc::Status& status, size_t request_size, const LcGrpcCall& c) {
  const std::string detail = one_line(status.error_message(), 300);
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (!c.use_tls) return {LC_GRPC_UNREACHABLE, "cannot connect (h2c): " + detail};
      return {LC_GRPC_UNREACHABLE, "cannot connect over TLS: " + detail + tls_hint(detail, c)};
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return {LC_GRPC_TIMEOUT, "timed out after " + duration_text(c.timeout_ms)};
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      if (is_reply_too_large(status.error_message(), request_size, c)) {
        return {LC_GRPC_BAD_REPLY,
                "the reply is larger than " + std::to_string(c.max_reply) + " bytes"};
      }
      break;
    default:
      break;
  }
  return {LC_GRPC_REFUSED, std::string("the provider answered ") + code_name(status.error_code()) +
                               (detail.empty() ? "" : ": " + detail)};
}

// The two messages of keyprovider.proto are one `bytes` field (number 1)
// each. The module writes and reads that wire form itself instead of
// linking the generated code: the generated code registers
// keyprovider.proto in libprotobuf's process-wide descriptor pool, and a
// process holding a second copy (the provider's server, a program with its
// own copy of the file) aborts on the duplicate.
constexpr uint8_t kField1Bytes = (1 << 3) | 2;  // field 1, wire type LEN

void put_varint(WipedBytes* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<uint8_t>(v));
}

bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = *p++;
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// encode_input writes keyProviderKeyWrapProtocolInput{field 1: request}
// (an empty field is left out, as protobuf does).
void encode_input(const uint8_t* request, size_t len, WipedBytes* out) {
  if (len == 0) return;
  out->reserve(len + 11);
  out->push_back(kField1Bytes);
  put_varint(out, len);
  out->append(request, len);
}

// decode_output finds field 1 of a keyProviderKeyWrapProtocolOutput (the
// last one, as protobuf keeps; absent: empty), skipping unknown fields.
bool decode_output(const WipedBytes& msg, const uint8_t** data, size_t* len) {
  const uint8_t* p = msg.data();
  const uint8_t* end = p + msg.size();
  *data = nullptr;
  *len = 0;
  while (p < end) {
    uint64_t tag = 0, n = 0;
    if (!get_varint(p, end, &tag) || (tag >> 3) == 0) return false;
    switch (tag & 7) {
      case 0:  // varint
        if (!get_varint(p, end, &n)) return false;
        break;
      case 1:  // 64-bit
        if (end - p < 8) return false;
        p += 8;
        break;
      case 2:  // length-delimited
        if (!get_varint(p, end, &n) || n > static_cast<uint64_t>(end - p)) return false;
        if (tag == kField1Bytes) {
          *data = p;
          *len = n;
        }
        p += n;
        break;
      case 5:  // 32-bit
        if (end - p < 4) return false;
        p += 4;
        break;
      default:
        return false;
    }
  }
  return true;
}

grpc::Status unary_call(const std::shared_ptr<grpc::Channel>& channel, const char* method,
                        grpc::ClientContext* ctx, const grpc::ByteBuffer& in,
                        grpc::ByteBuffer* out) {
  grpc::GenericStub stub(channel);
  std::promise<grpc::Status> done;
  auto status = done.get_future();
  stub.UnaryCall(ctx, method, grpc::StubOptions(), &in, out,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return status.get();
}

// quiet_grpc_log drops gRPC's own log lines (a failed handshake logs one)
// unless GRPC_VERBOSITY asks for them: the cause reaches the caller in the
// error, and the program's stderr (containerd's log, for the decoder) stays
// its own.
void quiet_grpc_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function([](gpr_log_func_args*) {});
  });
}

int do_call(const LcGrpcCall& c, LcGrpcReply* reply) {
  quiet_grpc_log();
  if (!c.target || !*c.target) throw CallError(LC_GRPC_CONFIG, "no gRPC target");
  if (!c.request && c.request_len) throw CallError(LC_GRPC_CONFIG, "no request");
  std::string key;
  auto channel = channel_cache().get(c, &key);

  WipedBytes request;
  encode_input(c.request, c.request_len, &request);
  grpc::ByteBuffer in, out;
  {
    grpc::Slice slice(request.data(), request.size());  // gRPC's copy
    in = grpc::ByteBuffer(&slice, 1);
  }
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(false);
  if (c.timeout_ms > 0) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(c.timeout_ms));
  }
  grpc::Status status = unary_call(channel,
                                   c.unwrap ? "/keyprovider.KeyProviderService/UnWrapKey"
                                            : "/keyprovider.KeyProviderService/WrapKey",
                                   &ctx, in, &out);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) channel_cache().drop(key, channel);
    throw status_error(status, request.size(), c);
  }
  if (out.Length() > max_message(c)) {
    throw CallError(LC_GRPC_BAD_REPLY,
                    "the reply is larger than " + std::to_string(c.max_reply) + " bytes");
  }
  WipedBytes message;
  std::vector<grpc::Slice> slices;
  if (!out.Dump(&slices).ok()) throw CallError(LC_GRPC_BAD_REPLY, "the reply cannot be read");
  message.reserve(out.Length());
  for (const grpc::Slice& s : slices) message.append(s.begin(), s.size());
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!decode_output(message, &data, &len)) {
    throw CallError(LC_GRPC_BAD_REPLY, "the reply is not a keyProviderKeyWrapProtocolOutput");
  }
  if (len > c.max_reply) {
    throw CallError(LC_GRPC_BAD_REPLY,
                    "the reply is larger than " + std::to_string(c.max_reply) + " bytes");
  }
  auto* copy = static_cast<uint8_t*>(malloc(len == 0 ? 1 : len));
  if (!copy) throw std::bad_alloc();
  if (len) memcpy(copy, data, len);
  reply->data = copy;
  reply->len = len;
  return LC_GRPC_OK;
}

void set_error(LcGrpcReply* reply, const std::string& message) {
  snprintf(reply->error, sizeof reply->error, "%s", message.c_str());
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int layercrypt_keyprovider_grpc_call_v1(
    const LcGrpcCall* call, LcGrpcReply* reply) {
  if (!reply) return LC_GRPC_CONFIG;
  reply->data = nullptr;
  reply->len = 0;
  reply->free_fn = wipe_and_free;
  reply->error[0] = '\0';
  if (!call) {
    set_error(reply, "no call");
    return LC_GRPC_CONFIG;
  }
  // No exception may leave a C function.
  try {
    return do_call(*call, reply);
  } catch (const CallError& e) {
    set_error(reply, e.message());
    return e.code();
  } catch (const std::bad_alloc&) {
    set_error(reply, "out of memory");
  } catch (const std::exception& e) {
    set_error(reply, std::string("gRPC client failed: ") + one_line(e.what(), 200));
  } catch (...) {
    set_error(reply, "gRPC client failed");
  }
  return LC_GRPC_UNREACHABLE;
}
