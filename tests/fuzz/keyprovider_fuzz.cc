// tests/fuzz/keyprovider_fuzz.cc: hostile key-provider config files,
// provider replies and provider requests.
//
// Property: for any bytes, parse_keyprovider_config, parse_keywrap_reply,
// parse_keyunwrap_reply and parse_keyprovider_request never crash, trip a
// sanitizer or leak, and every failure is a non-empty one-line message. A
// config that parses has unique, non-empty, sorted names and a transport for
// every entry (cmd with an absolute path, or grpc). A request that parses
// is rebuilt by keywrap_request/keyunwrap_request for each provider it names
// and parses again to the same op, data and that provider's parameters; a
// reply that parses survives keywrap_reply/keyunwrap_reply unchanged.
//
// Input: the bytes, given to every parser. The corpus holds config files
// (cmd, grpc, grpc-tls, the documentation's broken shape) and skopeo 1.22's
// real requests and replies (tests/vectors/keyprovider/).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "engine/keywrap/provider/keyprovider_config.h"
#include "engine/keywrap/provider/keyprovider_protocol.h"

namespace {

using layercrypt::KeyProviderOp;
using layercrypt::Status;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "keyprovider_fuzz: %s\n", what);
  std::abort();
}

void check_message(const Status& s) {
  if (s.ok()) fail("a failure without an error");
  if (s.message().empty()) fail("an empty error message");
  if (s.message().find('\n') != std::string::npos) fail("a message of several lines");
}

template <typename A, typename B>
bool same(const A& a, const B& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

void config(std::string_view text) {
  auto c = layercrypt::parse_keyprovider_config(text, "fuzz.json");
  if (!c.ok()) return check_message(c.status());
  std::string last;
  for (size_t i = 0; i < c->providers.size(); ++i) {
    const auto& p = c->providers[i];
    if (p.name.empty()) fail("an empty provider name");
    if (i > 0 && !(last < p.name)) fail("provider names not unique and sorted");
    last = p.name;
    if (p.cmd ? p.cmd->path.empty() || p.cmd->path[0] != '/' : p.grpc.empty())
      fail("a provider without a usable transport");
    if (c->find(p.name) != &p) fail("find does not return the entry");
  }
}

void request(std::span<const uint8_t> data) {
  auto r = layercrypt::parse_keyprovider_request(data);
  if (!r.ok()) return check_message(r.status());
  for (const auto& [name, list] : r->params) {
    const auto again = r->op == KeyProviderOp::kWrap
                           ? layercrypt::keywrap_request(name, r->params, r->optsdata)
                           : layercrypt::keyunwrap_request(name, r->params, r->annotation);
    auto back = layercrypt::parse_keyprovider_request(again);
    if (!back.ok()) fail("a rebuilt request does not parse");
    if (back->op != r->op) fail("op changed");
    if (!same(back->optsdata, r->optsdata) || !same(back->annotation, r->annotation))
      fail("data changed");
    if (back->params.size() != 1 || back->params.begin()->first != name)
      fail("a rebuilt request carries other providers' parameters");
    const auto& got = back->params.begin()->second;
    if (got.size() != list.size()) fail("parameters changed");
    for (size_t i = 0; i < got.size(); ++i)
      if (!same(got[i], list[i])) fail("a parameter changed");
  }
}

void replies(std::span<const uint8_t> data) {
  auto a = layercrypt::parse_keywrap_reply(data);
  if (!a.ok()) {
    check_message(a.status());
  } else {
    auto back = layercrypt::parse_keywrap_reply(layercrypt::keywrap_reply(*a));
    if (!back.ok() || !same(*back, *a)) fail("a wrap reply does not survive re-encoding");
  }
  auto o = layercrypt::parse_keyunwrap_reply(data);
  if (!o.ok()) {
    check_message(o.status());
  } else {
    auto back = layercrypt::parse_keyunwrap_reply(layercrypt::keyunwrap_reply(*o));
    if (!back.ok() || !same(*back, *o)) fail("an unwrap reply does not survive re-encoding");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  config(std::string_view(reinterpret_cast<const char*>(data), size));
  request(in);
  replies(in);
  return 0;
}
