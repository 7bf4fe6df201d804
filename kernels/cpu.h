// kernels/cpu.h: the one place that chooses CPU code paths.
//
// layercrypt does not dispatch on its own: ipsec-mb picks an implementation
// per manager (init_mb_mgr_auto or a forced tier), ISA-L resolves its
// "multibinary" symbols on first call and OpenSSL reads the CPU capability
// vector at start-up. This header owns the ipsec-mb managers (one per thread
// per tier, as ipsec-mb requires: a manager is not thread-safe) and reports
// what every dependency chose, for `layercrypt --version --verbose`.
//
// Tests and benchmarks loop over imb_supported_tiers() so that every ipsec-mb
// path this CPU can run is exercised, not only the one `kAuto` picks.
#ifndef LAYERCRYPT_KERNELS_CPU_H_
#define LAYERCRYPT_KERNELS_CPU_H_

#include <cstdint>
#include <string>
#include <vector>

typedef struct IMB_MGR IMB_MGR;

namespace layercrypt::kernels {

// ImbTier names an ipsec-mb manager flavour. kAuto is whatever
// init_mb_mgr_auto picks (the widest vectors the CPU has); the others force
// init_mb_mgr_sse/avx/avx2/avx512. Each tier picks its own sub-tier inside
// (e.g. the avx2 manager uses VAES and SHA-NI where present).
enum class ImbTier : uint8_t { kAuto, kSse, kAvx, kAvx2, kAvx512 };

// imb_tier_name returns "auto", "sse", "avx", "avx2" or "avx512".
const char* imb_tier_name(ImbTier tier);

// imb_tier_supported returns true if this CPU can run `tier`. kAuto is always
// supported (ipsec-mb falls back to its no-AES-NI code at worst).
bool imb_tier_supported(ImbTier tier);

// imb_supported_tiers returns every explicit tier (not kAuto) this CPU can
// run, narrowest first.
std::vector<ImbTier> imb_supported_tiers();

// imb_manager returns the calling thread's ipsec-mb manager for `tier`,
// allocating and initialising it on first use; it is freed when the thread
// exits. Returns nullptr if the CPU cannot run `tier` or initialisation
// failed. The pointer must not be used from another thread.
IMB_MGR* imb_manager(ImbTier tier = ImbTier::kAuto);

// imb_manager_arch_name returns the architecture a manager runs ("sse",
// "avx", "avx2", "avx512", "no-aesni"), from its `used_arch` field.
const char* imb_manager_arch_name(const IMB_MGR* mgr);

// imb_manager_features returns a space-separated list of the ipsec-mb
// feature flags a manager was initialised with ("aesni vaes shani ...").
std::string imb_manager_features(const IMB_MGR* mgr);

// cpu_report returns a multi-line, human-readable description of the CPU and
// the code paths each dependency uses on it: the ipsec-mb tier init_mb_mgr_auto
// picked and its features, the ISA-L version and the vector extensions its
// dispatcher can use, and the OpenSSL version. Thread-safe.
std::string cpu_report();

// cpu_model_name returns the CPU model string from /proc/cpuinfo (or
// "unknown"), for benchmark reports.
std::string cpu_model_name();

}  // namespace layercrypt::kernels

#endif  // LAYERCRYPT_KERNELS_CPU_H_
