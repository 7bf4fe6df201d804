// engine/core/go_json.h: the Go encoding/json primitives that the layer options
// (layer_options.h) and the fd-3 payload (payload.h) need (namespace gojson).
//
// Why not nlohmann's DOM: Go's decoder walks object members in document
// order, matches names case-insensitively and lets a later duplicate win; a
// std::map DOM (or ordered_json, which keeps the first position of a
// duplicate) loses exactly that, and it rounds number literals to
// double/int64. So parse() runs nlohmann's SAX parser (the well-kept lexer)
// and builds its own Value tree that keeps members in document order with
// duplicates, and number literals as written, leaving Go's leniency rules
// (name folding, later-wins, null handling, []byte from base64 or integer
// arrays) to the decoders here and in the callers.
//
// Wiping memory: the private options and payload parameters carry key
// material (base64 of keys). Every string parse() produces, and every buffer
// nlohmann's lexer holds input in on a successful parse, is in wiping memory
// (kernels::WipingAllocator). On malformed input nlohmann's error path
// builds a message that may contain one token of the input in ordinary heap
// memory; parse() never copies that message into its result.
//
// Serialisation: nlohmann's dump() does not escape like Go (HTML-safe
// <, >, & and U+2028/U+2029), so append_string() is Go's writer by hand.
//
// Everything here is pure and thread-safe (no shared state).
#ifndef LAYERCRYPT_ENGINE_CORE_GO_JSON_H_
#define LAYERCRYPT_ENGINE_CORE_GO_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "kernels/secure_memory.h"

namespace layercrypt {
namespace gojson {

// String holds parsed JSON text in wiping memory.
using String = std::basic_string<char, std::char_traits<char>, kernels::WipingAllocator<char>>;

// kMaxDepth is the deepest nesting of arrays and objects parse() accepts.
inline constexpr int kMaxDepth = 512;

struct Member;

// Value is a parsed JSON value that keeps what Go's decoder needs and
// nlohmann's DOM loses: object members in document order with duplicates,
// and number literals as written.
struct Value {
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  String text;                  // kString: unescaped UTF-8; kNumber: the literal
  std::vector<Value> items;     // kArray
  std::vector<Member> members;  // kObject, document order, duplicates kept
};

struct Member {
  String name;
  Value value;
};

// parse parses one JSON document (RFC 8259: whitespace around the value,
// nothing after it; no comments, no byte order mark, as in Go). Stricter
// than Go in two deliberate ways: a string holding invalid UTF-8 or an
// unpaired \uD800-\uDFFF escape is rejected (Go substitutes U+FFFD; no
// conforming producer writes either), and so is a number literal too large
// for a double, such as 1e400 (Go accepts it in a member it ignores).
// Nesting deeper than kMaxDepth is rejected (Go allows 10000). Returns the
// value, or a kDataError "invalid JSON at offset N: <reason>" whose reason is
// a fixed phrase that never quotes the input.
StatusOr<Value> parse(std::string_view json);

// kind_name returns "null", "bool", "number", "string", "array" or "object".
const char* kind_name(Value::Kind kind);

// name_matches returns true if JSON member `key` selects the struct field
// named `field` in Go's encoding/json: an exact match, or equal under Go's
// case folding (ASCII case, plus U+017F→'s' and U+212A→'k').
bool name_matches(std::string_view key, std::string_view field);

// decode_bytes decodes a Go []byte member: a padded std base64 string, null
// (→ empty), or an array of integers 0..255 written without sign, fraction or
// exponent (null elements → 0). Returns the bytes in wiping memory, or a
// kDataError naming `what`.
StatusOr<kernels::SecretBytes> decode_bytes(const Value& v, std::string_view what);

// decode_string decodes a Go string member into *out: a string replaces
// it, null leaves it unchanged (Go ignores null for a string). Returns OK, or
// a kDataError naming `what` for any other JSON type.
Status decode_string(const Value& v, std::string_view what, std::string* out);

// append_string appends `s` as a JSON string the way Go's json.Marshal
// writes it (HTML-safe: <, >, & as \u003c \u003e \u0026; U+2028/U+2029
// escaped; invalid UTF-8 as \ufffd; \b \f \n \r \t short forms as Go ≥ 1.22).
// Never fails.
void append_string(std::string& out, std::string_view s);
void append_string(kernels::SecretBytes& out, std::string_view s);

}  // namespace gojson
}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_GO_JSON_H_
