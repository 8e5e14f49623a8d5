#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qmesh {

namespace fs = std::filesystem;

namespace {

Status writeAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError(std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  return Ok{};
}

}  // namespace

Status replaceFileAtomically(const fs::path& path, const std::string& data, Durability durability) {
  const bool sync = durability == Durability::kSynced;
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return makeError("cannot create " + tmp.string() + ": " + std::strerror(errno));
  Status s = ::fchmod(fd, 0600) == 0 ? writeAll(fd, data) : makeError(std::strerror(errno));
  if (s && sync && ::fsync(fd) != 0) s = makeError(std::strerror(errno));
  if (::close(fd) != 0 && s) s = makeError(std::strerror(errno));
  if (s && ::rename(tmp.c_str(), path.c_str()) != 0) s = makeError(std::strerror(errno));
  if (!s) {
    ::unlink(tmp.c_str());
    return makeError("cannot write " + path.string() + ": " + s.error().message);
  }
  if (!sync) return Ok{};
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Ok{};
}

}  // namespace qmesh
