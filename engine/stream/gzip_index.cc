// engine/stream/gzip_index.cc: see gzip_index.h.
#include "engine/stream/gzip_index.h"

#include <charconv>

#include "engine/core/base64.h"
#include "kernels/deflate.h"

namespace layercrypt {
namespace {

constexpr std::string_view kMagic = "gzip-chunks/1";
constexpr uint64_t kMinChunk = uint64_t{64} << 10;
constexpr uint64_t kMaxChunk = kernels::kMaxDeflateChunk;
constexpr uint64_t kFraming = kernels::kGzipHeaderSize + kernels::kGzipTrailerSize;

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// field parses "<name>=<decimal>" exactly (no sign, no leading zeros but "0").
bool parse_number_field(std::string_view field, std::string_view name, uint64_t* out) {
  if (field.size() <= name.size() + 1 || field.substr(0, name.size()) != name ||
      field[name.size()] != '=')
    return false;
  const std::string_view digits = field.substr(name.size() + 1);
  if (digits.size() > 1 && digits[0] == '0') return false;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  return ec == std::errc() && end == digits.data() + digits.size();
}

}  // namespace

uint64_t GzipIndex::chunk_count() const {
  if (chunk_size == 0) return 0;
  const uint64_t n = uncompressed_size / chunk_size + (uncompressed_size % chunk_size != 0);
  return n == 0 ? 1 : n;
}

uint64_t GzipIndex::chunk_uncompressed_size(uint64_t i) const {
  const uint64_t start = i * chunk_size;
  if (start >= uncompressed_size) return 0;
  return std::min(chunk_size, uncompressed_size - start);
}

uint64_t GzipIndex::blob_size() const {
  uint64_t sum = kFraming;
  for (uint64_t d : deflate_sizes) sum += d;
  return sum;
}

std::string format_gzip_index(const GzipIndex& index) {
  std::vector<uint8_t> varints;
  varints.reserve(index.deflate_sizes.size() * 3);
  for (uint64_t d : index.deflate_sizes) put_varint(varints, d);
  return std::string(kMagic) + " chunk=" + std::to_string(index.chunk_size) +
         " size=" + std::to_string(index.uncompressed_size) + " deflate=" + base64_encode(varints);
}

StatusOr<GzipIndex> parse_gzip_index(std::string_view text, uint64_t blob_size) {
  auto bad = [](const std::string& why) {
    return DataError(std::string("bad ") + kGzipIndexAnnotation + " annotation: " + why);
  };
  if (text.size() > kGzipIndexMaxText) return bad("longer than 1 MiB");
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t sp = text.find(' ', pos);
    const size_t end = sp == std::string_view::npos ? text.size() : sp;
    fields.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  if (fields.size() != 4 || fields[0] != kMagic)
    return bad("expected \"gzip-chunks/1 chunk=N size=N deflate=BASE64\"");
  GzipIndex index;
  if (!parse_number_field(fields[1], "chunk", &index.chunk_size))
    return bad("chunk= is not a number");
  if (!parse_number_field(fields[2], "size", &index.uncompressed_size))
    return bad("size= is not a number");
  if (index.chunk_size < kMinChunk || index.chunk_size > kMaxChunk)
    return bad("chunk size " + std::to_string(index.chunk_size) + " is outside 64 KiB..256 MiB");
  constexpr std::string_view kDeflate = "deflate=";
  if (fields[3].substr(0, kDeflate.size()) != kDeflate) return bad("no deflate= sizes");
  auto raw = base64_decode(fields[3].substr(kDeflate.size()));
  if (!raw.ok()) return bad("deflate= " + raw.status().message());

  const uint64_t n = index.chunk_count();
  // Every chunk takes at least 2 bytes, so a blob bounds the chunk count
  // before anything is allocated.
  if (blob_size < kFraming || n > (blob_size - kFraming) / 2 + 1)
    return bad("a " + std::to_string(blob_size) + "-byte blob cannot hold " + std::to_string(n) +
               " chunks");
  index.deflate_sizes.reserve(n);
  uint64_t sum = 0;
  size_t i = 0;
  while (i < raw->size()) {
    uint64_t v = 0;
    int shift = 0;
    for (;;) {
      if (i == raw->size()) return bad("a size is cut off");
      const uint8_t b = (*raw)[i++];
      if (shift == 63 && b > 1) return bad("a size does not fit 64 bits");
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) break;
      shift += 7;
    }
    const uint64_t k = index.deflate_sizes.size();
    if (k == n) return bad("more sizes than the " + std::to_string(n) + " chunks");
    const uint64_t plain = index.chunk_uncompressed_size(k);
    const bool last = k + 1 == n;
    // Non-last chunks end with a 5-byte empty stored block; the last with a
    // final block of at least 2 bytes. None is larger than its stored form.
    const uint64_t min = last ? 2 : 5;
    const uint64_t max = kernels::deflate_chunk_bound(plain);
    if (v < min || v > max)
      return bad("chunk " + std::to_string(k) + " cannot be " + std::to_string(v) + " bytes for " +
                 std::to_string(plain) + " uncompressed");
    sum += v;
    if (sum > blob_size) return bad("the chunks are longer than the blob");
    index.deflate_sizes.push_back(v);
  }
  if (index.deflate_sizes.size() != n)
    return bad(std::to_string(index.deflate_sizes.size()) + " sizes for " + std::to_string(n) +
               " chunks");
  if (sum + kFraming != blob_size)
    return bad("the chunks add up to a " + std::to_string(sum + kFraming) +
               "-byte gzip member, the blob has " + std::to_string(blob_size) + " bytes");
  return index;
}

}  // namespace layercrypt
