// tests/support/rewritten_source.h: a regular file that someone rewrites
// while it is being read, for the tests of reading a layer twice.
#ifndef LAYERCRYPT_TESTS_SUPPORT_REWRITTEN_SOURCE_H_
#define LAYERCRYPT_TESTS_SUPPORT_REWRITTEN_SOURCE_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/core/io.h"

namespace layercrypt::testing {

// RewrittenSource reads as `first` until rewind(), and as `second` after
// it. Like a file, it can be rewound and knows its size (the first one's).
class RewrittenSource final : public ByteSource {
 public:
  RewrittenSource(std::vector<uint8_t> first, std::vector<uint8_t> second)
      : first_(std::move(first)), second_(std::move(second)) {}
  StatusOr<size_t> read(uint8_t* out, size_t cap) override {
    const auto& d = rewound_ ? second_ : first_;
    const size_t n = std::min(cap, d.size() - pos_);
    std::copy_n(d.begin() + static_cast<std::ptrdiff_t>(pos_), n, out);
    pos_ += n;
    return n;
  }
  Status rewind() override {
    rewound_ = true;
    pos_ = 0;
    return Status::Ok();
  }
  bool can_rewind() const override { return true; }
  std::optional<uint64_t> size_hint() const override { return first_.size(); }

 private:
  std::vector<uint8_t> first_, second_;
  bool rewound_ = false;
  size_t pos_ = 0;
};

}  // namespace layercrypt::testing

#endif  // LAYERCRYPT_TESTS_SUPPORT_REWRITTEN_SOURCE_H_
