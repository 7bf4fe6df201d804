// kernels/secure_memory.h: wiping and constant-time comparison for secrets.
//
// Keys, key schedules, HMAC states and unwrapped private options live in
// SecretBytes (a byte vector whose allocator wipes memory before freeing it,
// like Tink's SecretData) and are compared with constant_time_equal. Wiping
// uses glibc's explicit_bzero and comparison OpenSSL's CRYPTO_memcmp, neither
// of which the compiler can optimise away.
#ifndef LAYERCRYPT_KERNELS_SECURE_MEMORY_H_
#define LAYERCRYPT_KERNELS_SECURE_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace layercrypt::kernels {

// secure_wipe overwrites `len` bytes at `p` with zeros in a way the optimiser
// keeps. `p` may be null when `len` is 0. Thread-safe.
void secure_wipe(void* p, size_t len);

// constant_time_equal returns true if the `len` bytes at `a` and `b` are
// equal. Its running time depends on `len` only, not on the contents.
bool constant_time_equal(const void* a, const void* b, size_t len);

// WipingAllocator wipes every block before returning it to the heap.
template <typename T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() noexcept = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) noexcept {
    secure_wipe(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

// SecretBytes holds key material. Note: resizing reallocates through the
// wiping allocator, so no copy of the old contents is left behind.
using SecretBytes = std::vector<uint8_t, WipingAllocator<uint8_t>>;

// ScopedWipe wipes a fixed object (a key schedule, a stack buffer) when it
// goes out of scope.
class ScopedWipe {
 public:
  ScopedWipe(void* p, size_t len) : p_(p), len_(len) {}
  ~ScopedWipe() { secure_wipe(p_, len_); }
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;

 private:
  void* p_;
  size_t len_;
};

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_SECURE_MEMORY_H_
