// engine/keywrap/provider/keyprovider_protocol.cc: see keyprovider_protocol.h.
#include "engine/keywrap/provider/keyprovider_protocol.h"

#include <string_view>

#include "engine/core/base64.h"
#include "engine/core/go_json.h"

namespace layercrypt {
namespace {

using gojson::Value;

void put(kernels::SecretBytes& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

void put_b64(kernels::SecretBytes& out, std::span<const uint8_t> data) {
  const kernels::SecretBytes b = base64_encode_secret(data);
  put(out, "\"");
  out.insert(out.end(), b.begin(), b.end());
  put(out, "\"");
}

// put_params writes {"NAME":[b64,...]} with only `name`'s entry, or {}.
void put_params(kernels::SecretBytes& out, const std::string& name, const ProviderParams& params) {
  put(out, "{");
  const auto it = params.find(name);
  if (it != params.end()) {
    gojson::append_string(out, name);
    put(out, ":[");
    for (size_t i = 0; i < it->second.size(); ++i) {
      if (i) put(out, ",");
      put_b64(out, it->second[i]);
    }
    put(out, "]");
  }
  put(out, "}");
}

void put_int_array(kernels::SecretBytes& out, std::span<const uint8_t> data) {
  put(out, "[");
  char buf[4];
  kernels::ScopedWipe wipe(buf, sizeof(buf));
  for (size_t i = 0; i < data.size(); ++i) {
    if (i) put(out, ",");
    const unsigned v = data[i];
    size_t n = 0;
    if (v >= 100) buf[n++] = static_cast<char>('0' + v / 100);
    if (v >= 10) buf[n++] = static_cast<char>('0' + v / 10 % 10);
    buf[n++] = static_cast<char>('0' + v % 10);
    put(out, std::string_view(buf, n));
  }
  put(out, "]");
}

std::string_view text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// member finds the last member of object `v` whose name Go matches to
// `field` (Go lets a later duplicate win), or nullptr.
const Value* member(const Value& v, std::string_view field) {
  const Value* found = nullptr;
  for (const auto& m : v.members)
    if (gojson::name_matches(std::string_view(m.name.data(), m.name.size()), field))
      found = &m.value;
  return found;
}

StatusOr<Value> parse_object(std::span<const uint8_t> json, const char* what) {
  if (json.size() > kMaxKeyProviderMessage)
    return DataError(std::string(what) + ": larger than " + std::to_string(kMaxKeyProviderMessage) +
                     " bytes");
  auto doc = gojson::parse(text(json));
  if (!doc.ok()) return DataError(std::string(what) + ": " + doc.status().message());
  if (doc->kind != Value::Kind::kObject)
    return DataError(std::string(what) + ": want a JSON object, got " +
                     gojson::kind_name(doc->kind));
  return doc;
}

// results returns member `field` of the reply, which must be an object or
// null/absent (nullptr then).
StatusOr<const Value*> results(const Value& doc, std::string_view field) {
  const Value* r = member(doc, field);
  if (r == nullptr || r->kind == Value::Kind::kNull) return static_cast<const Value*>(nullptr);
  if (r->kind != Value::Kind::kObject)
    return DataError("invalid reply: " + std::string(field) + ": want an object, got " +
                     gojson::kind_name(r->kind));
  return r;
}

Status read_params(const Value* v, const std::string& what, ProviderParams* out) {
  if (v == nullptr || v->kind == Value::Kind::kNull) return Status::Ok();
  if (v->kind != Value::Kind::kObject)
    return DataError("invalid request: " + what + ": want an object, got " +
                     gojson::kind_name(v->kind));
  const Value* p = member(*v, "Parameters");
  if (p == nullptr || p->kind == Value::Kind::kNull) return Status::Ok();
  if (p->kind != Value::Kind::kObject)
    return DataError("invalid request: " + what + ".Parameters: want an object, got " +
                     gojson::kind_name(p->kind));
  for (const auto& m : p->members) {
    const std::string name(m.name.data(), m.name.size());
    const std::string where = what + ".Parameters." + name;
    std::vector<kernels::SecretBytes> list;
    if (m.value.kind == Value::Kind::kArray) {
      for (size_t i = 0; i < m.value.items.size(); ++i) {
        auto b = gojson::decode_bytes(m.value.items[i], where + "[" + std::to_string(i) + "]");
        if (!b.ok()) return DataError("invalid request: " + b.status().message());
        list.push_back(std::move(b).value());
      }
    } else if (m.value.kind != Value::Kind::kNull) {
      return DataError("invalid request: " + where + ": want an array, got " +
                       gojson::kind_name(m.value.kind));
    }
    (*out)[name] = std::move(list);  // a later duplicate replaces, as in Go
  }
  return Status::Ok();
}

}  // namespace

kernels::SecretBytes keywrap_request(const std::string& name, const ProviderParams& params,
                                     std::span<const uint8_t> optsdata) {
  kernels::SecretBytes out;
  put(out, R"({"op":"keywrap","keywrapparams":{"ec":{"Parameters":)");
  put_params(out, name, params);
  put(out, R"(,"DecryptConfig":{"Parameters":{}}},"optsdata":)");
  put_b64(out, optsdata);
  put(out, R"(},"keyunwrapparams":{"dc":null,"annotation":null}})");
  return out;
}

kernels::SecretBytes keyunwrap_request(const std::string& name, const ProviderParams& params,
                                       std::span<const uint8_t> annotation) {
  kernels::SecretBytes out;
  put(out, R"({"op":"keyunwrap","keywrapparams":{"ec":null,"optsdata":null},)");
  put(out, R"("keyunwrapparams":{"dc":{"Parameters":)");
  put_params(out, name, params);
  put(out, R"(},"annotation":)");
  put_b64(out, annotation);
  put(out, "}}");
  return out;
}

StatusOr<std::vector<uint8_t>> parse_keywrap_reply(std::span<const uint8_t> reply) {
  LC_ASSIGN_OR_RETURN(Value doc, parse_object(reply, "invalid reply"));
  LC_ASSIGN_OR_RETURN(const Value* r, results(doc, "keywrapresults"));
  if (r == nullptr) return std::vector<uint8_t>{};
  const Value* a = member(*r, "annotation");
  if (a == nullptr) return std::vector<uint8_t>{};
  auto b = gojson::decode_bytes(*a, "keywrapresults.annotation");
  if (!b.ok()) return DataError("invalid reply: " + b.status().message());
  return std::vector<uint8_t>(b->begin(), b->end());
}

StatusOr<kernels::SecretBytes> parse_keyunwrap_reply(std::span<const uint8_t> reply) {
  LC_ASSIGN_OR_RETURN(Value doc, parse_object(reply, "invalid reply"));
  LC_ASSIGN_OR_RETURN(const Value* r, results(doc, "keyunwrapresults"));
  if (r == nullptr) return kernels::SecretBytes{};
  const Value* o = member(*r, "optsdata");
  if (o == nullptr) return kernels::SecretBytes{};
  auto b = gojson::decode_bytes(*o, "keyunwrapresults.optsdata");
  if (!b.ok()) return DataError("invalid reply: " + b.status().message());
  return b;
}

StatusOr<KeyProviderRequest> parse_keyprovider_request(std::span<const uint8_t> request) {
  LC_ASSIGN_OR_RETURN(Value doc, parse_object(request, "invalid request"));
  KeyProviderRequest out;
  std::string op;
  if (const Value* v = member(doc, "op")) {
    const Status s = gojson::decode_string(*v, "op", &op);
    if (!s.ok()) return DataError("invalid request: " + s.message());
  }
  if (op == "keywrap") {
    out.op = KeyProviderOp::kWrap;
    const Value* p = member(doc, "keywrapparams");
    if (p == nullptr || p->kind != Value::Kind::kObject)
      return DataError("invalid request: keywrap without keywrapparams");
    LC_RETURN_IF_ERROR(read_params(member(*p, "ec"), "keywrapparams.ec", &out.params));
    const Value* o = member(*p, "optsdata");
    if (o == nullptr) return DataError("invalid request: keywrap without optsdata");
    auto b = gojson::decode_bytes(*o, "keywrapparams.optsdata");
    if (!b.ok()) return DataError("invalid request: " + b.status().message());
    if (b->empty()) return DataError("invalid request: keywrap with empty optsdata");
    out.optsdata = std::move(b).value();
  } else if (op == "keyunwrap") {
    out.op = KeyProviderOp::kUnwrap;
    const Value* p = member(doc, "keyunwrapparams");
    if (p == nullptr || p->kind != Value::Kind::kObject)
      return DataError("invalid request: keyunwrap without keyunwrapparams");
    LC_RETURN_IF_ERROR(read_params(member(*p, "dc"), "keyunwrapparams.dc", &out.params));
    const Value* a = member(*p, "annotation");
    if (a == nullptr) return DataError("invalid request: keyunwrap without annotation");
    auto b = gojson::decode_bytes(*a, "keyunwrapparams.annotation");
    if (!b.ok()) return DataError("invalid request: " + b.status().message());
    if (b->empty()) return DataError("invalid request: keyunwrap with empty annotation");
    out.annotation.assign(b->begin(), b->end());
  } else {
    return DataError("invalid request: op " + quoted_for_message(op) +
                     " is neither keywrap nor keyunwrap");
  }
  return out;
}

std::vector<uint8_t> keywrap_reply(std::span<const uint8_t> annotation) {
  kernels::SecretBytes out;
  put(out, R"({"keywrapresults":{"annotation":)");
  put_int_array(out, annotation);
  put(out, R"(},"keyunwrapresults":{"optsdata":null}})");
  return std::vector<uint8_t>(out.begin(), out.end());
}

kernels::SecretBytes keyunwrap_reply(std::span<const uint8_t> optsdata) {
  kernels::SecretBytes out;
  put(out, R"({"keywrapresults":{"annotation":null},"keyunwrapresults":{"optsdata":)");
  put_int_array(out, optsdata);
  put(out, "}}");
  return out;
}

}  // namespace layercrypt
