#include "common/mesh_keys.h"

#include <sodium.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/private_file.h"
#include "common/sodium_init.h"

namespace qmesh {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kAppliedPrefix = "# invite-applied ";
constexpr std::size_t kEncodedKeyChars = 44;

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string hashHex(const MeshKeyBytes& key, std::size_t bytes) {
  ensureSodium();
  std::array<uint8_t, crypto_generichash_BYTES> hash{};
  crypto_generichash(hash.data(), hash.size(), key.data(), key.size(), nullptr, 0);
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), hash.data(), bytes);
  hex.pop_back();
  return hex;
}

bool isLowerHex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string render(const MeshKeyFile& file) {
  std::ostringstream out;
  out << "# qmesh mesh keys. SECRET: whoever has a key can join the mesh and read its traffic.\n"
         "# The first key seals (primary); every key opens. Managed by `qmesh-supervisor keys`,\n"
         "# which rewrites this file (comments other than these are not kept).\n";
  for (const auto& k : file.keys) out << encodeMeshKey(k) << "\n";
  for (const auto& fp : file.applied_invites) out << kAppliedPrefix << fp << "\n";
  return out.str();
}

}  // namespace

MeshKeyFile::~MeshKeyFile() {
  if (!keys.empty()) sodium_memzero(keys.data(), keys.size() * sizeof(MeshKeyBytes));
}

MeshKeyBytes generateMeshKey() {
  ensureSodium();
  MeshKeyBytes key;
  randombytes_buf(key.data(), key.size());
  return key;
}

std::string encodeMeshKey(const MeshKeyBytes& key) {
  ensureSodium();
  std::string out(sodium_base64_ENCODED_LEN(key.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<MeshKeyBytes> decodeMeshKey(std::string_view text) {
  ensureSodium();
  text = trim(text);
  if (text.empty()) return makeError("the key is empty");
  if (text.rfind("qmesh", 0) == 0 && text.find('.') != std::string_view::npos)
    return makeError("this is an invite token, not a key: start the node with --join-file FILE (the token in FILE) instead");
  if (text.size() != kEncodedKeyChars)
    return makeError("a mesh key is " + std::to_string(kEncodedKeyChars) +
                     " base64 characters, this one has " + std::to_string(text.size()));
  std::array<uint8_t, 64> buf{};
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(buf.data(), buf.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size())
    return makeError("the key is not valid base64 (A-Z a-z 0-9 + / with '=' padding)");
  if (len != 32)
    return makeError("the key decodes to " + std::to_string(len) + " bytes, a mesh key is 32");
  MeshKeyBytes key;
  std::memcpy(key.data(), buf.data(), key.size());
  sodium_memzero(buf.data(), buf.size());
  return key;
}

std::string meshKeyFingerprint(const MeshKeyBytes& key) { return hashHex(key, 4); }
std::string meshKeyLongFingerprint(const MeshKeyBytes& key) { return hashHex(key, 8); }

namespace {

Result<MeshKeyFile> readUnchecked(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return makeError(path.string() + ": is a directory, expected the mesh key file (mesh.key_file)");
  std::ifstream in(path);
  if (!in) return makeError(path.string() + ": cannot read the mesh key file (" + std::strerror(errno) + ")");
  MeshKeyFile file;
  std::vector<int> keyLines;
  std::string raw;
  file.keys.reserve(16);  // pushes below this count do not leave a freed copy of the keys
  struct ZeroLine {
    std::string& s;
    ~ZeroLine() { sodium_memzero(s.data(), s.size()); }
  } zeroLine{raw};
  for (int lineNo = 1; std::getline(in, raw); ++lineNo) {
    const std::string where = path.string() + ":" + std::to_string(lineNo) + ": ";
    const std::string_view line = trim(raw);
    if (line.empty()) continue;
    if (line.rfind(kAppliedPrefix, 0) == 0) {
      const std::string_view fp = trim(line.substr(kAppliedPrefix.size()));
      if (fp.size() == 16 && isLowerHex(fp)) file.applied_invites.emplace_back(fp);
      continue;
    }
    if (line[0] == '#') continue;
    auto key = decodeMeshKey(line);
    if (!key)
      return makeError(where + key.error().message +
                       ": fix the line or delete it (a key is one line of 44 base64 characters, "
                       "as `qmesh-supervisor keys generate` prints)");
    for (std::size_t i = 0; i < file.keys.size(); ++i)
      if (file.keys[i] == *key)
        return makeError(where + "the same key as line " + std::to_string(keyLines[i]) +
                         ": delete one of the two lines");
    file.keys.push_back(*key);
    keyLines.push_back(lineNo);
  }
  if (file.keys.empty())
    return makeError(path.string() + ": the mesh key file has no key (only blank lines or "
                     "comments): add one with `qmesh-supervisor keys install KEY`, or delete the "
                     "file so the next start creates a new mesh");
  return file;
}

}  // namespace

Result<MeshKeyFile> readMeshKeyFile(const fs::path& path) {
  if (auto s = requireOwnerOnly(path, "mesh key file"); !s) return s.error();
  return readUnchecked(path);
}

Status writeMeshKeyFile(const fs::path& path, const MeshKeyFile& file) {
  if (file.keys.empty())
    return makeError(path.string() + ": refusing to write a mesh key file without keys: a node "
                     "always needs a key to seal with");
  std::error_code ec;
  if (const fs::path dir = path.parent_path(); !dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return makeError("cannot create " + dir.string() + " for the mesh key file: " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, ec);
  }
  return replaceFileAtomically(path, render(file), Durability::kSynced);
}

Result<std::vector<MeshKeyBytes>> readMeshKeys(const fs::path& path) {
  auto file = readMeshKeyFile(path);
  if (!file) return file.error();
  return std::move(file->keys);
}

Status writeMeshKeys(const fs::path& path, const std::vector<MeshKeyBytes>& keys) {
  MeshKeyFile file;
  std::error_code ec;
  if (fs::exists(path, ec))
    // Unchecked: the rewrite makes the file 0600 again, and must not drop the records.
    if (auto old = readUnchecked(path)) file.applied_invites = std::move(old->applied_invites);
  file.keys = keys;
  return writeMeshKeyFile(path, file);
}

}  // namespace qmesh
