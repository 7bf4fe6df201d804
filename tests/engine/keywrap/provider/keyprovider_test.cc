// The key-provider client: the config file, the messages (byte-identical to
// Go's, and skopeo 1.22's real requests and replies in
// tests/vectors/keyprovider/), the cmd transport's faults, and the
// provider.NAME wrappers in the decrypt-side key search.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/core/base64.h"
#include "engine/keywrap/key_unwrap.h"
#include "engine/keywrap/key_wrapper.h"
#include "engine/keywrap/provider/key_providers.h"
#include "engine/keywrap/provider/keyprovider_call.h"
#include "engine/keywrap/provider/keyprovider_config.h"
#include "engine/keywrap/provider/keyprovider_protocol.h"
#include "engine/keywrap/recipient_list.h"
#include "engine/keywrap/recipients.h"
#include "engine/ocicrypt/annotations.h"

namespace layercrypt {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string str(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }
std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
kernels::SecretBytes secret(std::string_view s) { return {s.begin(), s.end()}; }

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "lc-kp-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& text, bool exec = false) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    if (exec) ::chmod(p.c_str(), 0755);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- the config file

TEST(KeyProviderConfig, ReadsGoShape) {
  auto c = parse_keyprovider_config(R"({"key-providers": {
      "mycmd":  {"cmd": {"path": "/usr/local/bin/prov", "args": ["--x"]}},
      "mygrpc": {"grpc": "host:50051",
                 "grpc-tls": {"root-ca-file": "/ca.pem", "cert-file": "/c.pem",
                              "key-file": "/k.pem", "server-name": "host",
                              "insecure-skip-verify": false}}}})",
                                    "kp.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->providers.size(), 2u);
  const KeyProviderEntry* cmd = c->find("mycmd");
  ASSERT_NE(cmd, nullptr);
  ASSERT_TRUE(cmd->cmd);
  EXPECT_EQ(cmd->cmd->path, "/usr/local/bin/prov");
  EXPECT_EQ(cmd->cmd->args, std::vector<std::string>{"--x"});
  const KeyProviderEntry* g = c->find("mygrpc");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->uses_grpc());
  EXPECT_EQ(g->grpc, "host:50051");
  ASSERT_TRUE(g->grpc_tls);
  EXPECT_EQ(g->grpc_tls->root_ca_file, "/ca.pem");
  EXPECT_EQ(g->grpc_tls->server_name, "host");
  EXPECT_EQ(c->names(), "mycmd, mygrpc");
  EXPECT_EQ(g->describe(), "grpc host:50051 (TLS)");
}

TEST(KeyProviderConfig, GoRules) {
  // cmd wins over grpc; names match case-insensitively; unknown members
  // are ignored; a later duplicate replaces the earlier.
  auto c = parse_keyprovider_config(
      R"({"Key-Providers": {"a": {"grpc": "x:1", "CMD": {"Path": "/bin/a"}, "extra": 1},
                            "b": {"grpc": "first:1"}, "b": {"grpc": "second:2"}}, "other": []})",
      "kp.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->find("a")->cmd);
  EXPECT_EQ(c->find("a")->cmd->path, "/bin/a");
  EXPECT_EQ(c->find("b")->grpc, "second:2");
  EXPECT_EQ(c->providers.size(), 2u);
}

TEST(KeyProviderConfig, ErrorsNameFileAndMember) {
  const struct {
    const char* json;
    const char* want;
  } cases[] = {
      {"{", "kp.json: invalid JSON"},
      {"[]", "kp.json: (top level): want an object, got array"},
      {"{}", "kp.json: key-providers: missing"},
      {R"({"key-providers": []})", "kp.json: key-providers: want an object, got array"},
      {R"({"key-providers": {"k": {}}})", "kp.json: key-providers.k: neither cmd nor grpc"},
      // The documentation bug of ocicrypt: path without the cmd wrapper.
      {R"({"key-providers": {"isecl": {"path": "/usr/lib/x", "args": []}}})",
       "key-providers.isecl: neither cmd nor grpc"},
      {R"({"key-providers": {"k": {"cmd": {"args": []}}}})", "key-providers.k.cmd.path: missing"},
      {R"({"key-providers": {"k": {"cmd": {"path": "prov"}}}})",
       "key-providers.k.cmd.path: must be an absolute path"},
      {R"({"key-providers": {"k": {"cmd": {"path": "/p", "args": [1]}}}})",
       "key-providers.k.cmd.args[0]: want a string, got number"},
      {R"({"key-providers": {"k": {"grpc": 5}}})", "key-providers.k.grpc: want a string"},
      {R"({"key-providers": {"k": {"grpc": "h:1", "grpc-tls": {"cert-file": "/c"}}}})",
       "key-providers.k.grpc-tls: cert-file and key-file go together"},
      {R"({"key-providers": {"k": {"grpc": "h:1", "grpc-tls": {"insecure-skip-verify": "yes"}}}})",
       "key-providers.k.grpc-tls.insecure-skip-verify: want true or false"},
      {R"({"key-providers": {"": {"grpc": "h:1"}}})", "a provider has an empty name"},
  };
  for (const auto& c : cases) {
    auto r = parse_keyprovider_config(c.json, "kp.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), StatusCode::kDataError) << c.json;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << c.json << " -> " << r.status().message();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

TEST(KeyProviderConfig, FilesAndEnvironment) {
  TempDir d;
  EXPECT_EQ(load_keyprovider_config(d.path() + "/none.json").status().code(), StatusCode::kIoError);
  const std::string good = d.file("kp.json", R"({"key-providers":{"k":{"grpc":"h:1"}}})");
  auto c = load_keyprovider_config(good);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->source, good);

  ::unsetenv(kKeyProviderConfigEnv);
  auto none = keyprovider_config_from_env();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->providers.empty());
  EXPECT_TRUE(none->source.empty());
  // containerd 2.x names /etc/containerd/ocicrypt/ocicrypt_keyprovider.conf
  // on every node: a missing file is no error until a provider is needed.
  ::setenv(kKeyProviderConfigEnv, (d.path() + "/absent.conf").c_str(), 1);
  auto missing = keyprovider_config_from_env();
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->missing);
  EXPECT_NE(KeyProviders(*missing).not_configured("provider.k").find("does not exist"),
            std::string::npos);
  ::setenv(kKeyProviderConfigEnv, d.file("bad.json", "{nope").c_str(), 1);
  auto bad = keyprovider_config_from_env();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("OCICRYPT_KEYPROVIDER_CONFIG"), std::string::npos);
  ::setenv(kKeyProviderConfigEnv, good.c_str(), 1);
  auto env = load_key_providers("", milliseconds(1234));
  ASSERT_TRUE(env.ok());
  EXPECT_EQ((*env)->config().timeout, milliseconds(1234));
  EXPECT_NE((*env)->find("provider.k"), nullptr);
  EXPECT_EQ((*env)->find("provider.other"), nullptr);
  EXPECT_EQ((*env)->not_configured("provider.other"),
            "no key provider other in " + good + " (OCICRYPT_KEYPROVIDER_CONFIG) (it has: k)");
  ::unsetenv(kKeyProviderConfigEnv);
}

// ---- the messages

TEST(KeyProviderProtocol, RequestsAreGosBytes) {
  // spec §A.2: Go's exact output for the same input.
  ProviderParams params;
  params["myprov"].push_back(secret("abc"));
  params["other"].push_back(secret("a secret of another scheme"));
  EXPECT_EQ(
      str(keywrap_request("myprov", params, bytes(R"({"symkey":"..."})"))),
      R"({"op":"keywrap","keywrapparams":{"ec":{"Parameters":{"myprov":["YWJj"]},"DecryptConfig":{"Parameters":{}}},"optsdata":"eyJzeW1rZXkiOiIuLi4ifQ=="},"keyunwrapparams":{"dc":null,"annotation":null}})");
  ProviderParams enabled;
  enabled["myprov"].push_back(secret("Enabled"));
  EXPECT_EQ(
      str(keyunwrap_request("myprov", enabled, bytes("blob"))),
      R"({"op":"keyunwrap","keywrapparams":{"ec":null,"optsdata":null},"keyunwrapparams":{"dc":{"Parameters":{"myprov":["RW5hYmxlZA=="]}},"annotation":"YmxvYg=="}})");
  // No parameters of its own: {} (never null, so the Rust providers accept it).
  EXPECT_EQ(
      str(keyunwrap_request("x", params, bytes("blob"))),
      R"({"op":"keyunwrap","keywrapparams":{"ec":null,"optsdata":null},"keyunwrapparams":{"dc":{"Parameters":{}},"annotation":"YmxvYg=="}})");
}

TEST(KeyProviderProtocol, RepliesInEveryEncodingGoAccepts) {
  auto b64 = parse_keywrap_reply(bytes(R"({"keywrapresults":{"annotation":"YWJj"}})"));
  ASSERT_TRUE(b64.ok());
  EXPECT_EQ(str(*b64), "abc");
  auto arr = parse_keyunwrap_reply(bytes(R"({"keyunwrapresults":{"optsdata":[97,98,99]}})"));
  ASSERT_TRUE(arr.ok());
  EXPECT_EQ(str(*arr), "abc");
  for (const char* empty :
       {R"({})", R"({"keyunwrapresults":null})", R"({"keyunwrapresults":{"optsdata":null}})",
        R"({"keyunwrapresults":{}})"}) {
    auto r = parse_keyunwrap_reply(bytes(empty));
    ASSERT_TRUE(r.ok()) << empty;
    EXPECT_TRUE(r->empty()) << empty;
  }
  for (const char* bad : {"", "garbage", "[]", R"({"keywrapresults":{"annotation":"YWJ"}})",
                          R"({"keywrapresults":{"annotation":[256]}})", R"({"keywrapresults":[1]})",
                          R"({"keywrapresults":{"annotation":5}})"}) {
    auto r = parse_keywrap_reply(bytes(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kDataError);
    EXPECT_EQ(r.status().message().rfind("invalid reply", 0), 0u) << r.status().message();
  }
  const std::string big =
      R"({"keywrapresults":{"annotation":")" + std::string(kMaxKeyProviderMessage, 'A') + "\"}}";
  EXPECT_FALSE(parse_keywrap_reply(bytes(big)).ok());
}

TEST(KeyProviderProtocol, RoundTripsBothSides) {
  ProviderParams params;
  params["p"].push_back(secret("key=eu"));
  auto req = parse_keyprovider_request(keywrap_request("p", params, bytes("opts")));
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->op, KeyProviderOp::kWrap);
  EXPECT_EQ(str(req->optsdata), "opts");
  ASSERT_EQ(req->params.at("p").size(), 1u);
  EXPECT_EQ(str(req->params.at("p")[0]), "key=eu");
  auto unreq = parse_keyprovider_request(keyunwrap_request("p", {}, bytes("blob")));
  ASSERT_TRUE(unreq.ok());
  EXPECT_EQ(unreq->op, KeyProviderOp::kUnwrap);
  EXPECT_EQ(str(unreq->annotation), "blob");
  EXPECT_TRUE(unreq->params.empty());
  auto a = parse_keywrap_reply(keywrap_reply(bytes("ann")));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(str(*a), "ann");
  auto o = parse_keyunwrap_reply(keyunwrap_reply(bytes("opts")));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(str(*o), "opts");
  for (const char* bad : {R"({"op":"other"})", R"({"op":"keywrap"})",
                          R"({"op":"keyunwrap","keyunwrapparams":{"dc":null}})",
                          R"({"op":"keywrap","keywrapparams":{"ec":null,"optsdata":""}})"}) {
    auto r = parse_keyprovider_request(bytes(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("invalid request", 0), 0u) << r.status().message();
  }
}

// Every request skopeo 1.22 sent parses, and every reply it accepted parses
// to what the request (wrap) or the annotation (unwrap) implies.
TEST(KeyProviderProtocol, SkopeoVectors) {
  const fs::path dir = fs::path(LAYERCRYPT_TEST_VECTORS_DIR) / "keyprovider";
  size_t requests = 0, replies = 0;
  for (const auto& c : fs::directory_iterator(dir)) {
    if (!c.is_directory() || c.path().filename() == "images" || c.path().filename() == "keys")
      continue;
    for (const auto& f : fs::directory_iterator(c.path())) {
      const std::string name = f.path().filename().string();
      if (name.size() < 13 || name.substr(name.size() - 13) != ".request.json") continue;
      const std::string req_text = slurp(f.path());
      auto req = parse_keyprovider_request(bytes(req_text));
      ASSERT_TRUE(req.ok()) << f.path() << ": " << req.status().message();
      ++requests;
      const bool wrap = name.find("keywrap") != std::string::npos;
      EXPECT_EQ(req->op, wrap ? KeyProviderOp::kWrap : KeyProviderOp::kUnwrap) << f.path();
      const fs::path reply_path =
          f.path().parent_path() / (name.substr(0, name.size() - 13) + ".reply.json");
      const std::string reply = slurp(reply_path);
      const std::string dirname = c.path().filename().string();
      const bool accepted = dirname.find("unpadded") == std::string::npos && !reply.empty();
      if (!accepted) continue;
      ++replies;
      if (wrap) {
        auto a = parse_keywrap_reply(bytes(reply));
        ASSERT_TRUE(a.ok()) << reply_path << ": " << a.status().message();
      } else {
        auto o = parse_keyunwrap_reply(bytes(reply));
        ASSERT_TRUE(o.ok()) << reply_path << ": " << o.status().message();
      }
    }
  }
  EXPECT_GE(requests, 15u);
  EXPECT_GE(replies, 10u);
}

// The annotation values skopeo wrote unwrap through our client to the
// provider's optsdata: the capture provider's toy wrap, implemented here as a
// shell script, sees the bytes skopeo's provider returned.
TEST(KeyProviders, UnwrapsSkopeoAnnotationsThroughCmd) {
  TempDir d;
  // The capture provider's toy rule: annotation = "layercrypt-capture-wrap:" + b64(optsdata).
  const std::string prov = d.file("prov.sh",
                                  "#!/bin/sh\n"
                                  "/usr/bin/python3 -c '\n"
                                  "import base64, json, sys\n"
                                  "r = json.load(sys.stdin)\n"
                                  "a = base64.b64decode(r[\"keyunwrapparams\"][\"annotation\"])\n"
                                  "p = b\"layercrypt-capture-wrap:\"\n"
                                  "assert a.startswith(p)\n"
                                  "print(json.dumps({\"keyunwrapresults\": {\"optsdata\": "
                                  "list(base64.b64decode(a[len(p):]))}}))'\n",
                                  true);
  KeyProviderConfig cfg;
  cfg.source = "test";
  KeyProviderEntry e;
  e.name = "capture";
  e.cmd = KeyProviderCommand{prov, {}};
  cfg.providers.push_back(e);
  PreparedKeys keys;
  keys.key_providers = std::make_shared<KeyProviders>(cfg);
  const std::string layers =
      slurp(fs::path(LAYERCRYPT_TEST_VECTORS_DIR) / "keyprovider/cmd-wrap/layers.json");
  const std::string key = "org.opencontainers.image.enc.keys.provider.capture";
  const size_t at = layers.find(key);
  ASSERT_NE(at, std::string::npos);
  const size_t v0 = layers.find('"', at + key.size() + 2) + 1;
  const std::string value = layers.substr(v0, layers.find('"', v0) - v0);
  Annotations ann;
  ann[key] = value;
  auto opts = unwrap_layer_key(ann, keys);
  ASSERT_TRUE(opts.ok()) << opts.status().message();
  EXPECT_EQ(str(*opts).rfind("{\"symkey\":", 0), 0u) << str(*opts);
}

// ---- the cmd transport's faults

KeyProviderEntry cmd_entry(const std::string& path, std::vector<std::string> args = {}) {
  KeyProviderEntry e;
  e.name = "t";
  e.cmd = KeyProviderCommand{path, std::move(args)};
  return e;
}

TEST(KeyProviderCmd, EchoesWhatItReads) {
  auto r = call_cmd_key_provider(cmd_entry("/bin/cat"), bytes("hello"), milliseconds(10000));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(str(*r), "hello");
}

TEST(KeyProviderCmd, NonZeroExitNamesProviderAndFirstStderrLine) {
  TempDir d;
  const std::string p = d.file(
      "no.sh", "#!/bin/sh\necho >&2\necho 'key release refused' >&2\necho 2 >&2\nexit 3\n", true);
  auto r = call_cmd_key_provider(cmd_entry(p), bytes("{}"), milliseconds(10000));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  EXPECT_EQ(r.status().message(),
            "key provider t (cmd " + p + "): exit status 3: \"key release refused\"");
}

TEST(KeyProviderCmd, TimeoutKillsTheProviderAndWhatItStarted) {
  TempDir d;
  const std::string pidfile = d.path() + "/child.pid";
  // A child in the background keeps stdout open: the group is killed.
  const std::string p =
      d.file("hang.sh", "#!/bin/sh\nsleep 300 &\necho $! > " + pidfile + "\nsleep 300\n", true);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = call_cmd_key_provider(cmd_entry(p), bytes("{}"), milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("timed out after 300 ms"), std::string::npos)
      << r.status().message();
  EXPECT_LT(took, std::chrono::seconds(5));
  // Killed: gone, or a zombie its new parent has not reaped yet.
  const std::string stat = "/proc/" + slurp(pidfile).substr(0, slurp(pidfile).find('\n')) + "/stat";
  auto running = [&] {
    const std::string s = slurp(stat);
    const size_t paren = s.rfind(')');
    return paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] != 'Z';
  };
  for (int i = 0; i < 100 && running(); ++i) ::usleep(10000);
  EXPECT_FALSE(running()) << "the provider's child still runs";
}

TEST(KeyProviderCmd, MissingProgramAndOversizedReply) {
  auto missing =
      call_cmd_key_provider(cmd_entry("/nonexistent/prov"), bytes("{}"), milliseconds(10000));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(missing.status().message().find("cannot run /nonexistent/prov"), std::string::npos)
      << missing.status().message();
  auto big = call_cmd_key_provider(cmd_entry("/usr/bin/head", {"-c", "2000000", "/dev/zero"}),
                                   bytes("{}"), milliseconds(10000));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kDataError);
}

TEST(KeyProviderCmd, ProviderThatIgnoresStdin) {
  // It answers without reading a large request: no SIGPIPE, no hang.
  const std::string request(4 << 20, 'x');
  auto r =
      call_cmd_key_provider(cmd_entry("/bin/echo", {"{}"}), bytes(request), milliseconds(10000));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(str(*r), "{}\n");
}

// ---- the decrypt-side search with providers

TEST(KeyProviders, FailureOfOneProviderNamesItsCause) {
  TempDir d;
  const std::string no =
      d.file("no.sh", "#!/bin/sh\necho 'identity not allowed' >&2\nexit 1\n", true);
  KeyProviderConfig cfg;
  cfg.source = "kp.json";
  cfg.providers.push_back(cmd_entry(no));
  cfg.providers.back().name = "kms";
  PreparedKeys keys;
  keys.key_providers = std::make_shared<KeyProviders>(cfg);
  Annotations ann;
  ann["org.opencontainers.image.enc.keys.provider.kms"] = base64_encode(bytes("blob"));
  ann["org.opencontainers.image.enc.keys.provider.gone"] = base64_encode(bytes("blob"));
  auto r = unwrap_layer_key(ann, keys);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kKeyError);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("provider.kms blob 1/1"), std::string::npos) << m;
  EXPECT_NE(m.find("\"identity not allowed\""), std::string::npos) << m;
  EXPECT_NE(m.find("provider.gone (no key provider gone in kp.json (it has: kms))"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("1 key provider call"), std::string::npos) << m;
}

TEST(KeyProviders, ProviderRecipientsAndRegistry) {
  Recipients r;
  ASSERT_TRUE(add_recipient("provider:kms:key=eu", &r).ok());
  ASSERT_TRUE(add_recipient("provider:kms", &r).ok());
  ASSERT_TRUE(add_recipient("provider:other:a:b", &r).ok());
  ASSERT_EQ(r.providers.size(), 3u);
  EXPECT_EQ(str(r.providers[0].params), "key=eu");
  EXPECT_EQ(str(r.providers[1].params), "Enabled");
  EXPECT_EQ(str(r.providers[2].params), "a:b");
  EXPECT_EQ(r.sources[0], "provider:kms");
  EXPECT_EQ(add_recipient("provider:", &r).code(), StatusCode::kInvalidArgument);
  KeyProviderConfig cfg;
  cfg.providers.push_back(cmd_entry("/bin/cat"));
  cfg.providers.back().name = "kms";
  const KeyProviders kp(cfg);
  const auto all = key_wrappers(&kp);
  ASSERT_EQ(all.size(), key_wrappers().size() + 1);
  EXPECT_EQ(all.back()->scheme(), "provider.kms");
  EXPECT_EQ(all.back()->recipient_count(r), 1u);  // one call for both kms entries
  EXPECT_EQ(find_key_wrapper("provider.kms", &kp), all.back());
  EXPECT_EQ(find_key_wrapper("provider.kms"), nullptr);
  auto filtered = filter_recipients(
      r, [](std::string_view scheme, size_t) { return scheme != "provider.other"; });
  EXPECT_EQ(filtered.providers.size(), 2u);
}

// A provider's blob is one recipient, named provider:NAME, listed and
// removed without the provider being configured.
TEST(KeyProviders, ListAndRemoveWithoutConfig) {
  Annotations ann;
  ann["org.opencontainers.image.enc.keys.provider.kms"] = base64_encode(bytes("blob"));
  ann["org.opencontainers.image.enc.keys.provider.geo"] = base64_encode(bytes("other"));
  const auto who = layer_recipients(ann);
  ASSERT_EQ(who.size(), 2u);
  EXPECT_EQ(who[1].scheme, "provider.kms");
  EXPECT_EQ(who[1].id, "provider:kms");
  auto removed = remove_layer_recipients(&ann, {"provider:kms"});
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(ann.count("org.opencontainers.image.enc.keys.provider.kms"), 0u);
  EXPECT_EQ(ann.count("org.opencontainers.image.enc.keys.provider.geo"), 1u);
  auto last = remove_layer_recipients(&ann, {"provider:geo"});
  EXPECT_FALSE(last.ok());  // never leaves a layer without a recipient
}

}  // namespace
}  // namespace layercrypt
