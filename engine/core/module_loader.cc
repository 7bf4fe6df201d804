// engine/core/module_loader.cc: find_module and load_module_symbol
// (module_loader.h).
#include "engine/core/module_loader.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#ifndef LAYERCRYPT_MODULE_INSTALL_DIR
#define LAYERCRYPT_MODULE_INSTALL_DIR ""
#endif

namespace layercrypt {
namespace {

// own_directory returns the directory of the file this function is in: the
// executable (read from /proc/self/exe, as dladdr reports only argv[0] for
// it) or the shared library; "" if it cannot tell.
std::string own_directory() {
  Dl_info info{};
  struct link_map* map = nullptr;
  std::string file;
  if (dladdr1(reinterpret_cast<void*>(&own_directory), &info, reinterpret_cast<void**>(&map),
              RTLD_DL_LINKMAP) != 0 &&
      map != nullptr && map->l_name != nullptr && map->l_name[0] == '/') {
    file = map->l_name;
  } else {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    file.assign(buf, static_cast<size_t>(n));
  }
  char* real = realpath(file.c_str(), nullptr);
  if (real != nullptr) {
    file = real;
    free(real);
  }
  auto slash = file.rfind('/');
  return slash == std::string::npos ? "" : file.substr(0, slash);
}

std::vector<std::string> candidates(const char* file) {
  std::vector<std::string> paths;
  const std::string dir = own_directory();
  if (!dir.empty()) {
    paths.push_back(dir + "/layercrypt/" + file);
    paths.push_back(dir + "/../lib/layercrypt/" + file);
  }
  const std::string installed = layercrypt_module_install_dir();
  if (!installed.empty()) paths.push_back(installed + "/" + file);
  return paths;
}

}  // namespace

const char* layercrypt_module_install_dir() { return LAYERCRYPT_MODULE_INSTALL_DIR; }

StatusOr<std::string> find_module(const ModuleLocation& where) {
  const char* env = getenv(where.env);
  if (env != nullptr && *env != '\0') {
    if (access(env, F_OK) != 0) {
      return IoError(std::string(where.what) + " " + env + " (" + where.env + ") does not exist");
    }
    return std::string(env);
  }
  std::string tried;
  for (const std::string& path : candidates(where.file)) {
    if (access(path.c_str(), F_OK) == 0) return path;
    tried += (tried.empty() ? "" : ", ") + path;
  }
  return IoError(std::string(where.what) + " " + where.file + " is not installed (looked for " +
                 tried + "; set " + where.env + " to its path)");
}

StatusOr<void*> load_module_symbol(const ModuleLocation& where, const char* symbol) {
  LC_ASSIGN_OR_RETURN(std::string path, find_module(where));
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return IoError(std::string("cannot load ") + where.what + " " + path + ": " +
                   (why ? why : "dlopen failed"));
  }
  void* address = dlsym(handle, symbol);
  if (address == nullptr) {
    dlclose(handle);
    return IoError(std::string(where.what) + " " + path + " has no " + symbol +
                   " (a module of another layercrypt version?)");
  }
  return address;
}

}  // namespace layercrypt
