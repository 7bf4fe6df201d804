// tests/fuzz/tar_index_fuzz.cc: hostile OCI archives through the tar index
// that reads them in place (engine/image/oci_archive.h TarIndex::scan).
//
// Property: for any bytes as a tar file, TarIndex::scan never crashes,
// trips a sanitizer, leaks or hangs, and fails with a non-empty one-line
// message. Every member of an index it returns lies inside the file
// (offset + size <= file size) and has a name without a leading "./" or
// "/", and find() returns each of them by its name.
//
// Input: the bytes, written to an anonymous file. The corpus holds an OCI
// archive made by `tar` and GNU long-name, pax and truncated archives.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/image/oci_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = ::memfd_create("tar_index_fuzz", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  for (size_t off = 0; off < size;) {
    const ssize_t w = ::write(fd, data + off, size - off);
    if (w <= 0) std::abort();
    off += static_cast<size_t>(w);
  }
  ::lseek(fd, 0, SEEK_SET);
  auto index = layercrypt::TarIndex::scan(fd, "input.tar");
  ::close(fd);
  if (!index.ok()) {
    const std::string& m = index.status().message();
    if (m.empty() || m.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  for (const auto& [name, member] : index->members()) {
    if (member.offset + member.size > size || member.offset > size) std::abort();
    if (name.rfind("./", 0) == 0 || name.rfind("/", 0) == 0) std::abort();
    if (index->find(name) != &member) std::abort();
  }
  return 0;
}
