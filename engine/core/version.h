// engine/core/version.h: what this build is and which CPU paths it runs.
#ifndef LAYERCRYPT_ENGINE_CORE_VERSION_H_
#define LAYERCRYPT_ENGINE_CORE_VERSION_H_

#include <string>

namespace layercrypt {

// version_string returns the project version ("0.1.0").
const char* version_string();

// describe_cpu_paths returns a multi-line report of the CPU and the code path
// each dependency takes on it (ipsec-mb tier, ISA-L, OpenSSL, oneTBB), as
// printed by `--version --verbose`. Thread-safe.
std::string describe_cpu_paths();

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_VERSION_H_
