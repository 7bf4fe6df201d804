// engine/core/go_json.cc: Go encoding/json primitives on top of nlohmann's SAX
// parser (see go_json.h for why a SAX-built tree and not nlohmann's DOM).
#include "engine/core/go_json.h"

#include <charconv>
#include <cstddef>
#include <iterator>
#include <map>
#include <new>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/core/base64.h"

namespace layercrypt::gojson {
namespace {

// InputByte is the character type nlohmann's lexer reads. The lexer keeps a
// copy of every token's raw bytes in a std::vector<char_type> (token_string,
// for error messages), which with plain `char` would leave the raw text of
// base64 keys in freed heap memory. InputByte is our own type, so we may
// (and below do) specialise std::allocator for it to wipe on deallocation;
// the string_t of the basic_json (gojson::String) covers the lexer's other
// buffer, the unescaped token.
enum class InputByte : unsigned char {};

}  // namespace
}  // namespace layercrypt::gojson

// std::char_traits for InputByte: only what the lexer and its input adapter
// use (int_type, eof, to_int_type, to_char_type and comparisons).
template <>
struct std::char_traits<layercrypt::gojson::InputByte> {
  using char_type = layercrypt::gojson::InputByte;
  using int_type = int;
  static constexpr int_type eof() noexcept { return -1; }
  static constexpr int_type not_eof(int_type c) noexcept { return c == eof() ? 0 : c; }
  static constexpr int_type to_int_type(char_type c) noexcept {
    return static_cast<unsigned char>(c);
  }
  static constexpr char_type to_char_type(int_type c) noexcept { return static_cast<char_type>(c); }
  static constexpr bool eq_int_type(int_type a, int_type b) noexcept { return a == b; }
  static constexpr bool eq(char_type a, char_type b) noexcept { return a == b; }
  static constexpr bool lt(char_type a, char_type b) noexcept { return a < b; }
  static constexpr void assign(char_type& r, const char_type& a) noexcept { r = a; }
};

// std::allocator for InputByte wipes every block before freeing it, so the
// lexer's raw token copies never outlive the parse.
template <>
struct std::allocator<layercrypt::gojson::InputByte> {
  using value_type = layercrypt::gojson::InputByte;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_move_assignment = std::true_type;
  using is_always_equal = std::true_type;
  constexpr allocator() noexcept = default;
  template <typename U>
  constexpr allocator(const allocator<U>&) noexcept {}
  value_type* allocate(std::size_t n) { return static_cast<value_type*>(::operator new(n)); }
  void deallocate(value_type* p, std::size_t n) noexcept {
    layercrypt::kernels::secure_wipe(p, n);
    ::operator delete(p, n);
  }
  friend constexpr bool operator==(const allocator&, const allocator&) noexcept { return true; }
};

namespace layercrypt::gojson {
namespace {

// Json is the nlohmann instantiation whose lexer buffer (string_t) is a
// wiping gojson::String. Only its SAX parser is used; no DOM is built.
using Json = nlohmann::basic_json<std::map, std::vector, String, bool, std::int64_t, std::uint64_t,
                                  double, kernels::WipingAllocator>;
static_assert(std::is_same_v<Json::string_t, String>);

// Input iterates over the document as InputBytes and counts the bytes the
// lexer has read, so the SAX handler knows where the current token ends.
class Input {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = InputByte;
  using difference_type = std::ptrdiff_t;
  using pointer = const InputByte*;
  using reference = InputByte;

  Input(const char* p, size_t* consumed) : p_(p), consumed_(consumed) {}
  InputByte operator*() const { return static_cast<InputByte>(*p_); }
  Input& operator++() {
    ++p_;
    ++*consumed_;
    return *this;
  }
  Input operator++(int) {
    Input old = *this;
    ++*this;
    return old;
  }
  bool operator==(const Input& o) const { return p_ == o.p_; }

 private:
  const char* p_;
  size_t* consumed_;
};

Status syntax_error(size_t offset, std::string_view reason) {
  return DataError("invalid JSON at offset " + std::to_string(offset) + ": " + std::string(reason));
}

// describe maps an nlohmann parse error to a fixed phrase. nlohmann's
// messages quote the input ("last read: '…'", "number overflow parsing '…'"),
// which may be key material, so only the fixed phrases here are ever shown.
// The needles follow nlohmann 3.11.2's wording; an unknown wording falls
// back to "syntax error".
const char* describe(const Json::exception& ex) {
  if (ex.id == 406) return "number out of range";  // not finite as a double
  std::string_view what = ex.what();
  what = what.substr(0, what.find("; last read:"));
  static constexpr std::pair<std::string_view, const char*> kReasons[] = {
      {"ill-formed UTF-8", "invalid UTF-8 in a string"},
      {"surrogate U+", "unpaired UTF-16 surrogate escape in a string"},
      {"control character", "control character in a string"},
      {"after backslash", "invalid escape in a string"},
      {"4 hex digits", "invalid \\u escape in a string"},
      {"missing closing quote", "unexpected end of input in a string"},
      {"invalid number", "invalid number"},
      {"invalid literal", "invalid literal"},
      {"invalid BOM", "invalid character looking for the beginning of a value"},
      {"unexpected end of input", "unexpected end of input"},
      {"expected end of input", "unexpected data after the top-level value"},
      {"while parsing object key", "expected a string object key"},
      {"while parsing object separator", "expected ':' after an object key"},
      {"while parsing object", "expected ',' or '}' after an object member"},
      {"while parsing array", "expected ',' or ']' after an array element"},
  };
  for (const auto& [needle, reason] : kReasons)
    if (what.find(needle) != std::string_view::npos) return reason;
  return "syntax error";
}

// TreeBuilder is the nlohmann SAX handler that builds a Value tree in
// document order, keeping duplicate members and number literals as written.
class TreeBuilder {
 public:
  explicit TreeBuilder(const size_t* consumed) : consumed_(consumed) {}

  bool null() {
    slot()->kind = Value::Kind::kNull;
    return true;
  }
  bool boolean(bool b) {
    Value* v = slot();
    v->kind = Value::Kind::kBool;
    v->boolean = b;
    return true;
  }
  // nlohmann reports an integer literal with a '-' as number_integer and one
  // without as number_unsigned (out-of-range ones come as number_float with
  // their text). JSON allows one spelling per integer (no '+', no leading
  // zeros), so the literal is rebuilt exactly, "-0" included.
  bool number_integer(Json::number_integer_t n) {
    return number(true, 0 - static_cast<std::uint64_t>(n));
  }
  bool number_unsigned(Json::number_unsigned_t n) { return number(false, n); }
  bool number_float(Json::number_float_t, const String& literal) {
    Value* v = slot();
    v->kind = Value::Kind::kNumber;
    v->text = literal;
    // The lexer swaps '.' for the C locale's decimal point; undo that (the
    // only other characters of a JSON number are digits, signs and e/E).
    for (char& c : v->text)
      if ((c < '0' || c > '9') && c != '-' && c != '+' && c != 'e' && c != 'E') c = '.';
    return true;
  }
  // sax_parse also instantiates nlohmann's binary readers, whose UBJSON path
  // passes a std::string literal; it is never called for JSON text.
  template <typename S>
  requires std::is_same_v<S, std::string>
  bool number_float(Json::number_float_t, const S&) { return false; }
  bool string(String& s) {
    Value* v = slot();
    v->kind = Value::Kind::kString;
    v->text = std::move(s);
    return true;
  }
  bool binary(Json::binary_t&) { return false; }  // JSON text has no binary values
  bool start_object(std::size_t) { return open(Value::Kind::kObject); }
  bool key(String& k) {
    stack_.back()->members.emplace_back().name = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) { return open(Value::Kind::kArray); }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  // `position` counts the bytes read, including the offending one (or the
  // end of input); the token text and ex's message are never shown.
  bool parse_error(std::size_t position, const std::string&, const Json::exception& ex) {
    error_ = syntax_error(position == 0 ? 0 : position - 1, describe(ex));
    return false;
  }

  Value& root() { return root_; }
  const Status& error() const { return error_; }

 private:
  // slot returns where the next value goes: the root, a new array element,
  // or the value of the member key() just added.
  Value* slot() {
    if (stack_.empty()) return &root_;
    Value* top = stack_.back();
    if (top->kind == Value::Kind::kArray) return &top->items.emplace_back();
    return &top->members.back().value;
  }
  // A parent's vector only grows while the parent is on top of the stack,
  // so the pointers kept in stack_ stay valid.
  bool open(Value::Kind kind) {
    if (stack_.size() >= static_cast<size_t>(kMaxDepth)) {
      // The lexer has just read the '[' or '{'.
      error_ = syntax_error(*consumed_ - 1, "nesting too deep (more than 512 levels)");
      return false;
    }
    Value* v = slot();
    v->kind = kind;
    stack_.push_back(v);
    return true;
  }
  bool number(bool negative, std::uint64_t magnitude) {
    char buf[24];
    char* p = buf;
    if (negative) *p++ = '-';
    p = std::to_chars(p, buf + sizeof(buf), magnitude).ptr;
    Value* v = slot();
    v->kind = Value::Kind::kNumber;
    v->text.assign(buf, p);
    return true;
  }

  const size_t* consumed_;
  Value root_;
  std::vector<Value*> stack_;
  Status error_ = DataError("invalid JSON");
};

// utf8_rune_len mirrors Go's utf8.DecodeRune: returns the length of the
// valid UTF-8 sequence at s[i], or 0 if it is invalid (Go: RuneError, 1).
// If `rune` is non-null the decoded code point is stored there.
size_t utf8_rune_len(std::string_view s, size_t i, uint32_t* rune = nullptr) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const size_t avail = s.size() - i;
  const uint8_t c = b(0);
  auto cont = [&](size_t k, uint8_t lo = 0x80, uint8_t hi = 0xBF) {
    return k < avail && b(k) >= lo && b(k) <= hi;
  };
  size_t n = 0;
  if (c < 0x80) {
    n = 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    n = cont(1) ? 2 : 0;
  } else if (c == 0xE0) {
    n = cont(1, 0xA0) && cont(2) ? 3 : 0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    n = cont(1) && cont(2) ? 3 : 0;
  } else if (c == 0xED) {
    n = cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
  } else if (c == 0xF0) {
    n = cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  } else if (c >= 0xF1 && c <= 0xF3) {
    n = cont(1) && cont(2) && cont(3) ? 4 : 0;
  } else if (c == 0xF4) {
    n = cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  }
  if (rune != nullptr && n != 0) {
    static constexpr uint8_t kLeadMask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t r = c & kLeadMask[n];
    for (size_t k = 1; k < n; ++k) r = (r << 6) | (b(k) & 0x3F);
    *rune = r;
  }
  return n;
}

// fold_at returns Go's folded form of the rune at key[i] if it folds to
// ASCII, storing its byte length in *len; 0 if it does not fold to ASCII.
char fold_at(std::string_view key, size_t i, size_t* len) {
  const auto c = static_cast<uint8_t>(key[i]);
  if (c < 0x80) {
    *len = 1;
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : static_cast<char>(c);
  }
  uint32_t r = 0;
  const size_t n = utf8_rune_len(key, i, &r);
  *len = n == 0 ? 1 : n;
  // Go folds each rune to the smallest rune of its unicode.SimpleFold orbit;
  // only these two non-ASCII runes share an orbit with an ASCII letter
  // (U+0130/U+0131, the Turkish i's, are single-rune orbits in Go).
  switch (r) {
    case 0x017F:
      return n ? 'S' : 0;  // LATIN SMALL LETTER LONG S
    case 0x212A:
      return n ? 'K' : 0;  // KELVIN SIGN
    default:
      return 0;
  }
}

template <typename Out>
void append_string_impl(Out& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto put = [&](std::string_view t) { out.insert(out.end(), t.begin(), t.end()); };
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          put("\\\"");
          break;
        case '\\':
          put("\\\\");
          break;
        case '\b':
          put("\\b");
          break;
        case '\f':
          put("\\f");
          break;
        case '\n':
          put("\\n");
          break;
        case '\r':
          put("\\r");
          break;
        case '\t':
          put("\\t");
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
            put(std::string_view(esc, 6));
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    uint32_t r = 0;
    const size_t n = utf8_rune_len(s, i, &r);
    if (n == 0) {
      put("\\ufffd");
      ++i;
    } else if (r == 0x2028 || r == 0x2029) {
      put(r == 0x2028 ? "\\u2028" : "\\u2029");
      i += n;
    } else {
      put(s.substr(i, n));
      i += n;
    }
  }
  out.push_back('"');
}

}  // namespace

StatusOr<Value> parse(std::string_view json) {
  // nlohmann skips a UTF-8 byte order mark; Go rejects it.
  if (json.starts_with("\xEF\xBB\xBF"))
    return syntax_error(0, "invalid character looking for the beginning of a value");
  size_t consumed = 0;
  TreeBuilder builder(&consumed);
  const Input first(json.data(), &consumed);
  const Input last(json.data() + json.size(), &consumed);
  if (!Json::sax_parse(first, last, &builder, Json::input_format_t::json, /*strict=*/true,
                       /*ignore_comments=*/false))
    return builder.error();
  return std::move(builder.root());
}

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::kNull:
      return "null";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kNumber:
      return "number";
    case Value::Kind::kString:
      return "string";
    case Value::Kind::kArray:
      return "array";
    case Value::Kind::kObject:
      return "object";
  }
  return "?";
}

bool name_matches(std::string_view key, std::string_view field) {
  if (key == field) return true;
  size_t i = 0, j = 0;
  while (i < key.size() && j < field.size()) {
    size_t kl = 0, fl = 0;
    const char a = fold_at(key, i, &kl);
    const char b = fold_at(field, j, &fl);
    if (a == 0 || b == 0 || a != b) return false;
    i += kl;
    j += fl;
  }
  return i == key.size() && j == field.size();
}

StatusOr<kernels::SecretBytes> decode_bytes(const Value& v, std::string_view what) {
  switch (v.kind) {
    case Value::Kind::kNull:
      return kernels::SecretBytes();
    case Value::Kind::kString: {
      auto r = base64_decode_secret(std::string_view(v.text.data(), v.text.size()));
      if (!r.ok()) return r.status().with_context(std::string(what));
      return r;
    }
    case Value::Kind::kArray: {
      // Go decodes a JSON array into []byte element by element
      // (strconv.ParseUint(lit, 10, 8)); null elements leave a zero byte.
      kernels::SecretBytes out;
      out.reserve(v.items.size());
      for (size_t k = 0; k < v.items.size(); ++k) {
        const Value& e = v.items[k];
        if (e.kind == Value::Kind::kNull) {
          out.push_back(0);
          continue;
        }
        bool ok = e.kind == Value::Kind::kNumber && !e.text.empty() && e.text.size() <= 3;
        unsigned n = 0;
        for (char c : e.text) {
          if (c < '0' || c > '9') {
            ok = false;
            break;
          }
          n = n * 10 + static_cast<unsigned>(c - '0');
        }
        if (!ok || n > 255)
          return DataError(std::string(what) + ": element " + std::to_string(k) +
                           " of the byte array is not an integer 0..255");
        out.push_back(static_cast<uint8_t>(n));
      }
      return out;
    }
    default:
      return DataError(std::string(what) +
                       ": expected a base64 string, null or a byte array, got " +
                       kind_name(v.kind));
  }
}

Status decode_string(const Value& v, std::string_view what, std::string* out) {
  if (v.kind == Value::Kind::kNull) return Status::Ok();
  if (v.kind != Value::Kind::kString)
    return DataError(std::string(what) + ": expected a string, got " + kind_name(v.kind));
  out->assign(v.text.data(), v.text.size());
  return Status::Ok();
}

void append_string(std::string& out, std::string_view s) { append_string_impl(out, s); }
void append_string(kernels::SecretBytes& out, std::string_view s) { append_string_impl(out, s); }

}  // namespace layercrypt::gojson
