// tests/support/softhsm.h: a SoftHSM2 token made for one test, in a
// temporary directory: a softhsm2.conf there, SOFTHSM2_CONF pointing at it,
// and `softhsm2-util --init-token --free` with the given label and user PIN
// (SO PIN 1234).
#ifndef LAYERCRYPT_TESTS_SUPPORT_SOFTHSM_H_
#define LAYERCRYPT_TESTS_SUPPORT_SOFTHSM_H_

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/support/test_util.h"

namespace layercrypt::testing {

// kSoftHsmModule is where Debian's softhsm2 package puts the module.
inline constexpr const char* kSoftHsmModule = "/usr/lib/softhsm/libsofthsm2.so";

// have_softhsm says whether softhsm2-util and the module are installed.
inline bool have_softhsm() {
  return have_tool("softhsm2-util") && ::access(kSoftHsmModule, R_OK) == 0;
}

// make_softhsm_token creates the token under `dir` (tokens/ and
// softhsm2.conf), sets SOFTHSM2_CONF and returns the config's path, or ""
// if a step failed.
inline std::string make_softhsm_token(const TempDir& dir, const std::string& label,
                                      const std::string& pin) {
  if (::mkdir(dir.file("tokens").c_str(), 0700) != 0) return "";
  const std::string conf = dir.file("softhsm2.conf");
  {
    std::ofstream f(conf);
    f << "directories.tokendir = " << dir.file("tokens")
      << "\nobjectstore.backend = file\nlog.level = ERROR\n";
    if (!f) return "";
  }
  ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  const std::string init = "softhsm2-util --init-token --free --label " + label +
                           " --so-pin 1234 --pin " + pin + " >/dev/null";
  return std::system(init.c_str()) == 0 ? conf : "";
}

}  // namespace layercrypt::testing

#endif  // LAYERCRYPT_TESTS_SUPPORT_SOFTHSM_H_
