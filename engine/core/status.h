// engine/core/status.h: the engine's error model.
//
// Engine functions return Status (or StatusOr<T>); no exception crosses an
// engine API. A Status carries a code, for callers that must branch (the C
// ABI maps it to an enum), and a one-line message for humans that names the
// cause and, where there is one, the way out. Messages never contain key
// material. Callers should not parse messages.
#ifndef LAYERCRYPT_ENGINE_CORE_STATUS_H_
#define LAYERCRYPT_ENGINE_CORE_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace layercrypt {

// StatusCode classifies failures coarsely; the message says the rest.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,  // the caller passed something unusable
  kDataError,        // malformed input data (JSON, base64, gzip, JWE, ...)
  kIntegrityError,   // a MAC, tag, CRC or digest did not verify
  kKeyError,         // no usable key, or a key that opens nothing
  kUnsupported,      // a valid but unsupported format or algorithm
  kIoError,          // read/write/open failed
  kInternal,         // a bug or a dependency failed unexpectedly
};

// status_code_name returns a stable lower-case name for `code` ("integrity").
const char* status_code_name(StatusCode code);

// quoted_for_message returns untrusted text as a message may show it: in
// double quotes, every byte outside printable ASCII replaced by '?', cut
// after 96 bytes (then "..." follows), so the message stays one line.
std::string quoted_for_message(std::string_view untrusted);

// Status is a code plus message; default-constructed it is OK.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // with_context returns a copy whose message is prefixed by "`context`: ".
  Status with_context(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status DataError(std::string m) { return {StatusCode::kDataError, std::move(m)}; }
inline Status IntegrityError(std::string m) { return {StatusCode::kIntegrityError, std::move(m)}; }
inline Status KeyError(std::string m) { return {StatusCode::kKeyError, std::move(m)}; }
inline Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// StatusOr holds either a value or a non-OK Status. Made from an OK Status
// (a bug: there is no value to return) it holds kInternal instead, as
// Abseil's does, so that ok() is false and value() is never reached; debug
// builds abort at the spot.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) {
      assert(!"StatusOr made from an OK Status");
      status_ = Status(StatusCode::kInternal, "StatusOr made from an OK Status (a bug)");
    }
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace layercrypt

// LC_RETURN_IF_ERROR(expr) returns the Status of `expr` from the enclosing
// function if it is not OK.
#define LC_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::layercrypt::Status lc_status_ = (expr); \
    if (!lc_status_.ok()) return lc_status_;  \
  } while (0)

#define LC_CONCAT_INNER_(a, b) a##b
#define LC_CONCAT_(a, b) LC_CONCAT_INNER_(a, b)
// LC_ASSIGN_OR_RETURN(lhs, expr) evaluates the StatusOr `expr`; on error it
// returns the Status, otherwise moves the value into `lhs`.
#define LC_ASSIGN_OR_RETURN(lhs, expr)                                                  \
  auto LC_CONCAT_(lc_or_, __LINE__) = (expr);                                           \
  if (!LC_CONCAT_(lc_or_, __LINE__).ok()) return LC_CONCAT_(lc_or_, __LINE__).status(); \
  lhs = std::move(LC_CONCAT_(lc_or_, __LINE__)).value()

#endif  // LAYERCRYPT_ENGINE_CORE_STATUS_H_
