#include "common/file_digest.h"

#include <sodium.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace qmesh {

namespace fs = std::filesystem;

Result<std::string> sha256File(const fs::path& file, const std::function<bool()>& cancelled) {
  if (sodium_init() < 0) std::abort();  // libsodium unusable: nothing safe to do
  std::ifstream in(file, std::ios::binary);
  if (!in) return makeError("cannot read " + file.string() + " to hash it: " + std::strerror(errno));
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::vector<char> buf(1 << 20);
  while (in) {
    if (cancelled && cancelled()) return makeError("hashing " + file.string() + " was cancelled");
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = in.gcount();
    if (n > 0) crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(buf.data()), static_cast<unsigned long long>(n));
  }
  if (in.bad()) return makeError("reading " + file.string() + " failed while hashing it");
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  std::string hex(2 * sizeof out + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), out, sizeof out);
  hex.pop_back();
  return hex;
}

std::optional<FileDigestCache::Entry> FileDigestCache::stat(const fs::path& file) const {
  std::error_code ec;
  Entry e;
  e.size = fs::file_size(file, ec);
  if (ec) return std::nullopt;
  e.mtime = fs::last_write_time(file, ec);
  if (ec) return std::nullopt;
  return e;
}

std::optional<std::string> FileDigestCache::known(const fs::path& file) const {
  const auto now = stat(file);
  std::lock_guard lock(mu_);
  const auto it = entries_.find(file);
  if (!now || it == entries_.end() || it->second.size != now->size || it->second.mtime != now->mtime)
    return std::nullopt;
  return it->second.digest;
}

Result<std::string> FileDigestCache::digest(const fs::path& file, const std::function<bool()>& cancelled) {
  if (auto d = known(file)) return *d;
  auto before = stat(file);
  auto d = sha256File(file, cancelled);
  if (!d) return d;
  // Changed while it was read: the digest is of neither version, so it is not remembered.
  const auto after = stat(file);
  if (before && after && before->size == after->size && before->mtime == after->mtime) {
    before->digest = *d;
    std::lock_guard lock(mu_);
    entries_[file] = *before;
  }
  return d;
}

}  // namespace qmesh
