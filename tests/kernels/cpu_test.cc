// Tests for kernels/cpu.h: per-thread ipsec-mb managers.
#include "kernels/cpu.h"

#include <gtest/gtest.h>
#include <intel-ipsec-mb.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kernels/aes_ctr.h"

namespace layercrypt::kernels {
namespace {

// CtrMatchesOpenSsl encrypts 4 KiB on the calling thread (through its
// imb_manager) and compares with OpenSSL's AES-256-CTR.
bool CtrMatchesOpenSsl() {
  std::array<uint8_t, 32> key{};
  std::array<uint8_t, 16> iv{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<uint8_t>(0xf0 + i);
  std::vector<uint8_t> in(4096), ours(in.size()), theirs(in.size());
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i);
  AesCtr256 ctr(key.data(), key.size(), iv.data(), iv.size());
  if (!ctr.ok() || !ctr.xor_at(0, in.data(), ours.data(), in.size())) return false;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr, key.data(), iv.data()) == 1 &&
      EVP_EncryptUpdate(ctx, theirs.data(), &len, in.data(), static_cast<int>(in.size())) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok && ours == theirs;
}

// The kAuto manager is built on a thread's first call, without first asking
// whether the tier is supported, and it works.
TEST(ImbManager, AutoManagerOnePerThread) {
  IMB_MGR* mine = imb_manager(ImbTier::kAuto);
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(imb_manager(ImbTier::kAuto), mine);
  EXPECT_TRUE(CtrMatchesOpenSsl());
  IMB_MGR* other = nullptr;
  std::string other_arch;
  bool other_ctr = false;
  std::thread([&] {
    other = imb_manager(ImbTier::kAuto);
    other_arch = imb_manager_arch_name(other);
    other_ctr = CtrMatchesOpenSsl();
  }).join();
  EXPECT_NE(other, nullptr);
  EXPECT_NE(other, mine);  // `mine` is alive, so the address cannot be reused
  EXPECT_EQ(other_arch, imb_manager_arch_name(mine));
  EXPECT_TRUE(other_ctr);
}

}  // namespace
}  // namespace layercrypt::kernels
