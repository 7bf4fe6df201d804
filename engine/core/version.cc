// engine/core/version.cc
#include "engine/core/version.h"

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/version.h>

#include <sstream>

#include "kernels/cpu.h"

namespace layercrypt {

const char* version_string() { return LAYERCRYPT_VERSION; }

std::string describe_cpu_paths() {
  std::ostringstream out;
  out << kernels::cpu_report();
  out << "onetbb " << TBB_runtime_version() << ": " << oneapi::tbb::info::default_concurrency()
      << " threads by default\n";
#ifdef LAYERCRYPT_SAFE_DATA
  out << "safe-data: on (secrets wiped after use)\n";
#else
  out << "safe-data: off\n";
#endif
  return out.str();
}

}  // namespace layercrypt
