// tests/engine/selfcheck_test.cc: the shipped self-check passes on this CPU
// and reports the code paths it used.
#include "engine/stream/selfcheck.h"

#include <gtest/gtest.h>

#include "engine/core/version.h"

namespace layercrypt {
namespace {

TEST(SelfCheck, EveryCheckPasses) {
  const auto results = run_self_check();
  ASSERT_GE(results.size(), 8u);
  for (const auto& r : results) {
    EXPECT_TRUE(r.ok) << r.name << ": " << r.detail;
    EXPECT_FALSE(r.detail.empty()) << r.name;
  }
}

TEST(Version, ReportNamesEveryDependency) {
  const std::string report = describe_cpu_paths();
  for (const char* what : {"cpu:", "ipsec-mb", "isa-l", "openssl", "onetbb", "libzstd"})
    EXPECT_NE(report.find(what), std::string::npos) << what << " missing in:\n" << report;
}

}  // namespace
}  // namespace layercrypt
