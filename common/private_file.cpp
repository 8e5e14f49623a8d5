#include "common/private_file.h"

#include <sys/stat.h>

#include <cstdio>

namespace qmesh {

Status requireOwnerOnly(const std::filesystem::path& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) == 0) return Ok{};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return makeError(path.string() + ": the " + std::string(what) + " is readable by other users (mode " +
                   mode + "): run `chmod 600 " + path.string() + "` (and, if someone else may have "
                   "read it, replace the key)");
}

}  // namespace qmesh
