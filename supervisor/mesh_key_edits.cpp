#include "supervisor/mesh_key_edits.h"

#include <algorithm>
#include <cctype>

#include "common/key_rotation.h"

namespace qmesh {

namespace {

bool looksLikeFingerprint(const std::string& text) {
  return text.size() == 8 && std::all_of(text.begin(), text.end(),
                                         [](unsigned char c) { return std::isxdigit(c); });
}

std::optional<std::size_t> positionOf(const MeshKeyFile& file, const MeshKeyBytes& key) {
  const auto it = std::find(file.keys.begin(), file.keys.end(), key);
  if (it == file.keys.end()) return std::nullopt;
  return static_cast<std::size_t>(it - file.keys.begin());
}

}  // namespace

Result<MeshKeyBytes> resolveKeyArgument(const MeshKeyFile& file, const std::string& text) {
  if (!looksLikeFingerprint(text)) {
    auto key = decodeMeshKey(text);
    if (!key) return makeError("not a mesh key: " + key.error().message);
    return key;
  }
  std::string fp = text;
  std::transform(fp.begin(), fp.end(), fp.begin(), [](unsigned char c) { return std::tolower(c); });
  std::vector<MeshKeyBytes> matches;
  for (const auto& k : file.keys)
    if (meshKeyFingerprint(k) == fp) matches.push_back(k);
  if (matches.empty())
    return makeError("no installed key has the fingerprint " + fp + " (see `keys list`)");
  if (matches.size() > 1)
    return makeError("two installed keys share the fingerprint " + fp + ": give the whole key");
  return matches.front();
}

bool installKey(MeshKeyFile& file, const MeshKeyBytes& key) {
  if (installVerdict(positionOf(file, key)) != KeyEditVerdict::kApply) return false;
  file.keys.push_back(key);
  return true;
}

Result<bool> useKey(MeshKeyFile& file, const MeshKeyBytes& key) {
  const auto at = positionOf(file, key);
  switch (useVerdict(at)) {
    case KeyEditVerdict::kNotInstalled:
      return makeError("key " + meshKeyFingerprint(key) +
                       " is not installed: `keys install` it first (on every node of the mesh, "
                       "so they all open what this node will seal with it)");
    case KeyEditVerdict::kApply:
      break;
    default:
      return false;
  }
  const auto it = file.keys.begin() + static_cast<std::ptrdiff_t>(*at);
  std::rotate(file.keys.begin(), it, it + 1);
  return true;
}

Result<bool> removeKey(MeshKeyFile& file, const MeshKeyBytes& key) {
  const auto at = positionOf(file, key);
  switch (removeVerdict(at)) {
    case KeyEditVerdict::kNotInstalled:
      return makeError("key " + meshKeyFingerprint(key) + " is not installed (see `keys list`)");
    case KeyEditVerdict::kIsPrimary:
      return makeError("key " + meshKeyFingerprint(key) +
                       " is the primary (this node seals with it): switch with `keys use` first");
    default:
      break;
  }
  file.keys.erase(file.keys.begin() + static_cast<std::ptrdiff_t>(*at));
  return true;
}

std::string describeKeys(const MeshKeyFile& file) {
  std::string out;
  for (std::size_t i = 0; i < file.keys.size(); ++i)
    out += "  " + meshKeyFingerprint(file.keys[i]) +
           (i == 0 ? "  primary (seals and opens)\n" : "  opens only\n");
  return out;
}

}  // namespace qmesh
