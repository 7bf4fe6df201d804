// tests/support/vector_file.h: reader for the known-answer files in
// tests/vectors/.
//
// Grammar (after BoringSSL's FileTest): a file is a list of cases separated by
// blank lines; each case is `NAME = VALUE` or `NAME: VALUE` lines. `#` starts
// a comment line. Values are hex unless a test reads them with str(). Every
// attribute a case has must be read by the test (check_all_consumed), so a
// typo in a vector file cannot silently skip a check.
#ifndef LAYERCRYPT_TESTS_SUPPORT_VECTOR_FILE_H_
#define LAYERCRYPT_TESTS_SUPPORT_VECTOR_FILE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace layercrypt::testing {

inline std::vector<uint8_t> from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) throw std::runtime_error("odd-length hex: " + hex);
  auto nib = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("bad hex digit in: " + hex);
  };
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
  return out;
}

inline std::string to_hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}
inline std::string to_hex(const std::vector<uint8_t>& v) { return to_hex(v.data(), v.size()); }

class VectorCase {
 public:
  VectorCase(std::string where, std::map<std::string, std::string> attrs)
      : where_(std::move(where)), attrs_(std::move(attrs)) {}

  bool has(const std::string& name) const { return attrs_.count(name) != 0; }
  const std::string& str(const std::string& name) const {
    auto it = attrs_.find(name);
    if (it == attrs_.end()) throw std::runtime_error(where_ + ": missing " + name);
    used_.insert(name);
    return it->second;
  }
  std::vector<uint8_t> bytes(const std::string& name) const { return from_hex(str(name)); }
  uint64_t number(const std::string& name) const { return std::stoull(str(name), nullptr, 0); }
  const std::string& where() const { return where_; }

  // check_all_consumed fails the current test if an attribute was never read.
  void check_all_consumed() const {
    for (const auto& [k, v] : attrs_)
      EXPECT_TRUE(used_.count(k)) << where_ << ": attribute " << k << " not checked";
  }

 private:
  std::string where_;
  std::map<std::string, std::string> attrs_;
  mutable std::set<std::string> used_;
};

// load_vectors parses tests/vectors/`file`. Throws on a malformed file.
inline std::vector<VectorCase> load_vectors(const std::string& file) {
  const std::string path = std::string(LAYERCRYPT_TEST_VECTORS_DIR) + "/" + file;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open vector file " + path);
  std::vector<VectorCase> cases;
  std::map<std::string, std::string> cur;
  size_t line_no = 0, start = 0;
  auto flush = [&] {
    if (!cur.empty()) cases.emplace_back(file + ":" + std::to_string(start), std::move(cur));
    cur.clear();
  };
  auto trim = [](std::string s) {
    const char* ws = " \t\r";
    s.erase(0, s.find_first_not_of(ws));
    s.erase(s.find_last_not_of(ws) + 1);
    return s;
  };
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    line = trim(line);
    if (line.empty()) {
      flush();
      continue;
    }
    if (line[0] == '#') continue;
    auto sep = line.find_first_of("=:");
    if (sep == std::string::npos)
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": expected NAME = VALUE");
    if (cur.empty()) start = line_no;
    std::string name = trim(line.substr(0, sep));
    if (cur.count(name))
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": duplicate " + name);
    cur[name] = trim(line.substr(sep + 1));
  }
  flush();
  if (cases.empty()) throw std::runtime_error("no cases in " + path);
  return cases;
}

}  // namespace layercrypt::testing

#endif  // LAYERCRYPT_TESTS_SUPPORT_VECTOR_FILE_H_
