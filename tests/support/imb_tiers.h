// tests/support/imb_tiers.h: running a test on every ipsec-mb tier.
//
// Suites derive from ImbTierTest and are instantiated with
//   INSTANTIATE_TEST_SUITE_P(Tiers, Suite, ::testing::ValuesIn(all_imb_tiers()),
//                            imb_tier_param_name);
// so every tier is listed by name and a tier this CPU cannot run is skipped
// with a message, never silently dropped.
#ifndef LAYERCRYPT_TESTS_SUPPORT_IMB_TIERS_H_
#define LAYERCRYPT_TESTS_SUPPORT_IMB_TIERS_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/cpu.h"

namespace layercrypt::testing {

// all_imb_tiers returns kAuto and every explicit tier, whatever this CPU has.
inline const std::vector<kernels::ImbTier>& all_imb_tiers() {
  static const std::vector<kernels::ImbTier> tiers = {
      kernels::ImbTier::kAuto, kernels::ImbTier::kSse, kernels::ImbTier::kAvx,
      kernels::ImbTier::kAvx2, kernels::ImbTier::kAvx512};
  return tiers;
}

// imb_tier_param_name names a test instance after its tier ("avx512").
inline std::string imb_tier_param_name(const ::testing::TestParamInfo<kernels::ImbTier>& info) {
  return kernels::imb_tier_name(info.param);
}

// ImbTierTest skips a tier this CPU cannot run.
class ImbTierTest : public ::testing::TestWithParam<kernels::ImbTier> {
 protected:
  void SetUp() override {
    if (!kernels::imb_tier_supported(GetParam()))
      GTEST_SKIP() << "ipsec-mb tier " << kernels::imb_tier_name(GetParam())
                   << " not supported here";
  }
  kernels::ImbTier tier() const { return GetParam(); }
};

}  // namespace layercrypt::testing

#endif  // LAYERCRYPT_TESTS_SUPPORT_IMB_TIERS_H_
