// GGUF header reader (common/gguf.h): model files come from downloads and other people.
// readGgufMetadata takes a path, so each input is written to a memfd and read back through
// /proc/self/fd/N: no disk, nothing left behind.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/gguf.h"
#include "fuzz/fuzz_support.h"

using namespace qmesh;

namespace {
int file = -1;
std::string path;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  file = memfd_create("gguf_fuzz", MFD_CLOEXEC);
  if (file < 0) std::abort();
  path = "/proc/self/fd/" + std::to_string(file);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FUZZ_CHECK(ftruncate(file, 0) == 0);
  FUZZ_CHECK(pwrite(file, data, size, 0) == static_cast<ssize_t>(size));
  auto meta = readGgufMetadata(path);
  if (!meta) {
    // One line that starts with the path (the caller adds where the path came from).
    FUZZ_CHECK(meta.error().message.rfind(path, 0) == 0);
    FUZZ_CHECK(meta.error().message.find('\n') == std::string::npos);
    return 0;
  }
  FUZZ_CHECK(meta->file_size == size);
  for (unsigned char c : meta->architecture + meta->name) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  return 0;
}
