// kernels/cpu.cc: ipsec-mb manager ownership and the CPU path report.
#include "kernels/cpu.h"

#include "kernels/sha256_mb.h"
#include "kernels/zstd.h"

#include <intel-ipsec-mb.h>
#include <isa-l.h>
#include <openssl/crypto.h>

#include <cpuid.h>
#include <array>
#include <fstream>
#include <memory>
#include <sstream>

namespace layercrypt::kernels {
namespace {

struct MgrDeleter {
  void operator()(IMB_MGR* mgr) const { free_mb_mgr(mgr); }
};
using MgrPtr = std::unique_ptr<IMB_MGR, MgrDeleter>;

constexpr std::array<ImbTier, 4> kExplicitTiers = {ImbTier::kSse, ImbTier::kAvx, ImbTier::kAvx2,
                                                   ImbTier::kAvx512};

// CPU feature flags as ipsec-mb detected them (alloc_mb_mgr fills
// `features` from CPUID). Computed once per process.
uint64_t detected_features() {
  static const uint64_t features = [] {
    IMB_MGR* mgr = alloc_mb_mgr(0);
    uint64_t f = mgr ? mgr->features : 0;
    free_mb_mgr(mgr);
    return f;
  }();
  return features;
}

uint64_t required_flags(ImbTier tier) {
  switch (tier) {
    case ImbTier::kSse:
      return IMB_CPUFLAGS_SSE;
    case ImbTier::kAvx:
      return IMB_CPUFLAGS_AVX;
    case ImbTier::kAvx2:
      return IMB_CPUFLAGS_AVX2;
    case ImbTier::kAvx512:
      return IMB_CPUFLAGS_AVX512;
    case ImbTier::kAuto:
      return 0;
  }
  return 0;
}

MgrPtr make_manager(ImbTier tier) {
  MgrPtr mgr(alloc_mb_mgr(0));
  if (!mgr) return nullptr;
  switch (tier) {
    case ImbTier::kAuto:
      init_mb_mgr_auto(mgr.get(), nullptr);
      break;
    case ImbTier::kSse:
      init_mb_mgr_sse(mgr.get());
      break;
    case ImbTier::kAvx:
      init_mb_mgr_avx(mgr.get());
      break;
    case ImbTier::kAvx2:
      init_mb_mgr_avx2(mgr.get());
      break;
    case ImbTier::kAvx512:
      init_mb_mgr_avx512(mgr.get());
      break;
  }
  if (imb_get_errno(mgr.get()) != 0) return nullptr;
  return mgr;
}

bool cpuid_has(unsigned leaf, unsigned subleaf, int reg, unsigned bit) {
  unsigned r[4] = {0, 0, 0, 0};
  if (!__get_cpuid_count(leaf, subleaf, &r[0], &r[1], &r[2], &r[3])) return false;
  return (r[reg] >> bit) & 1u;
}

}  // namespace

const char* imb_tier_name(ImbTier tier) {
  switch (tier) {
    case ImbTier::kAuto:
      return "auto";
    case ImbTier::kSse:
      return "sse";
    case ImbTier::kAvx:
      return "avx";
    case ImbTier::kAvx2:
      return "avx2";
    case ImbTier::kAvx512:
      return "avx512";
  }
  return "?";
}

bool imb_tier_supported(ImbTier tier) {
  const uint64_t need = required_flags(tier);
  return (detected_features() & need) == need;
}

std::vector<ImbTier> imb_supported_tiers() {
  std::vector<ImbTier> out;
  for (ImbTier t : kExplicitTiers)
    if (imb_tier_supported(t)) out.push_back(t);
  return out;
}

IMB_MGR* imb_manager(ImbTier tier) {
  thread_local std::array<MgrPtr, 5> managers;
  thread_local std::array<bool, 5> tried{};
  const auto i = static_cast<size_t>(tier);
  if (!tried[i]) {
    tried[i] = true;
    // kAuto runs everywhere: asking first would allocate (and zero) a whole
    // probe manager just to read CPU flags.
    if (tier == ImbTier::kAuto || imb_tier_supported(tier)) managers[i] = make_manager(tier);
  }
  return managers[i].get();
}

const char* imb_manager_arch_name(const IMB_MGR* mgr) {
  if (!mgr) return "none";
  switch (mgr->used_arch) {
    case IMB_ARCH_NOAESNI:
      return "no-aesni";
    case IMB_ARCH_SSE:
      return "sse";
    case IMB_ARCH_AVX:
      return "avx";
    case IMB_ARCH_AVX2:
      return "avx2";
    case IMB_ARCH_AVX512:
      return "avx512";
    default:
      return "unknown";
  }
}

std::string imb_manager_features(const IMB_MGR* mgr) {
  if (!mgr) return "";
  static constexpr struct {
    uint64_t flag;
    const char* name;
  } kNames[] = {
      {IMB_FEATURE_AESNI, "aesni"},
      {IMB_FEATURE_PCLMULQDQ, "pclmulqdq"},
      {IMB_FEATURE_SHANI, "shani"},
      {IMB_FEATURE_AVX, "avx"},
      {IMB_FEATURE_AVX2, "avx2"},
      {IMB_FEATURE_AVX512F, "avx512f"},
      {IMB_FEATURE_VAES, "vaes"},
      {IMB_FEATURE_VPCLMULQDQ, "vpclmulqdq"},
      {IMB_FEATURE_GFNI, "gfni"},
      {IMB_FEATURE_AVX512_IFMA, "avx512ifma"},
      {IMB_FEATURE_SAFE_DATA, "safe-data"},
      {IMB_FEATURE_SAFE_PARAM, "safe-param"},
      {IMB_FEATURE_SELF_TEST_PASS, "self-test-passed"},
  };
  std::string out;
  for (const auto& n : kNames) {
    if (mgr->features & n.flag) {
      if (!out.empty()) out += ' ';
      out += n.name;
    }
  }
  return out;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? "unknown" : line.substr(start);
      }
    }
  }
  return "unknown";
}

std::string cpu_report() {
  std::ostringstream out;
  out << "cpu: " << cpu_model_name() << "\n";

  IMB_MGR* mgr = imb_manager(ImbTier::kAuto);
  out << "ipsec-mb " << imb_get_version_str() << ": auto manager uses "
      << imb_manager_arch_name(mgr) << " [" << imb_manager_features(mgr) << "]\n";
  out << "ipsec-mb tiers runnable here:";
  for (ImbTier t : imb_supported_tiers()) out << ' ' << imb_tier_name(t);
  out << "\n";

  // ISA-L dispatches each symbol on first call from CPUID; it does not report
  // the variant it picked, so list the extensions its dispatcher keys on.
  // CPUID leaf 1: ECX bit 28 AVX, bit 1 PCLMULQDQ; leaf 7: EBX bit 5 AVX2,
  // bit 16 AVX512F, bit 30 AVX512BW; ECX bit 6 VBMI2, bit 8 GFNI, bit 10
  // VPCLMULQDQ.
  const bool avx512 = cpuid_has(7, 0, 1, 16) && cpuid_has(7, 0, 1, 30);
  const bool avx512_g2 =
      avx512 && cpuid_has(7, 0, 2, 6) && cpuid_has(7, 0, 2, 8) && cpuid_has(7, 0, 2, 10);
  out << "isa-l " << ISAL_MAJOR_VERSION << "." << ISAL_MINOR_VERSION << "." << ISAL_PATCH_VERSION
      << ": multibinary dispatch; CPU offers" << (cpuid_has(1, 0, 2, 1) ? " pclmulqdq" : "")
      << (cpuid_has(1, 0, 2, 28) ? " avx" : "") << (cpuid_has(7, 0, 1, 5) ? " avx2" : "")
      << (avx512 ? " avx512" : "") << (avx512_g2 ? " avx512-vbmi2/gfni/vpclmulqdq" : "") << "\n";

  out << "openssl: " << OpenSSL_version(OPENSSL_VERSION)
      << (cpuid_has(7, 0, 1, 29) ? " (CPU has SHA-NI)" : " (no SHA-NI)")
      << (cpuid_has(1, 0, 2, 25) ? " (CPU has AES-NI)" : " (no AES-NI)") << "\n";
  out << "sha256 lanes (kernels/sha256_mb.h): "
      << sha256_path_name(sha256_resolve_path(Sha256Path::kAuto)) << "\n";
  out << "libzstd " << zstd_version() << ": tar+zstd layers (decoder --decompress)\n";
  return out.str();
}

}  // namespace layercrypt::kernels
