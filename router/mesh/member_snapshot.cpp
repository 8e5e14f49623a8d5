#include "router/mesh/member_snapshot.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/logging.h"
#include "common/node_config.h"

namespace qmesh::router {

namespace fs = std::filesystem;

namespace {

// A mesh of thousands fits many times over; anything bigger is not a file we wrote.
constexpr std::uintmax_t kMaxFileBytes = 1 << 20;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string normalise(const std::string& address) {
  auto hp = parseHostPort(address);
  return hp ? hp->str() : address;
}

std::string render(const std::vector<std::string>& addresses) {
  std::string out =
      "# qmesh member snapshot: gossip addresses of the mesh members this node last saw alive.\n"
      "# Rewritten by the router as membership changes; read at start to rejoin them (with\n"
      "# mesh.seeds). Safe to delete: the node then joins through its seeds only.\n";
  for (const auto& a : addresses) out += a + "\n";
  return out;
}

}  // namespace

Result<std::vector<std::string>> readMemberSnapshot(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec) && !ec) return std::vector<std::string>{};
  const auto size = fs::file_size(file, ec);
  if (ec) return makeError(file.string() + ": cannot read: " + ec.message());
  if (size > kMaxFileBytes)
    return makeError(file.string() + ": " + std::to_string(size) + " bytes is too large for a member snapshot");
  std::ifstream in(file, std::ios::binary);
  if (!in) return makeError(file.string() + ": cannot open: " + std::strerror(errno));
  std::vector<std::string> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    auto hp = parseHostPort(line);
    if (!hp || hp->port == 0)
      return makeError(file.string() + ":" + std::to_string(n) + ": not a HOST:PORT gossip address");
    if (std::find(out.begin(), out.end(), hp->str()) == out.end()) out.push_back(hp->str());
  }
  if (in.bad()) return makeError(file.string() + ": read error");
  return out;
}

Status writeMemberSnapshot(const fs::path& file, const std::vector<std::string>& addresses) {
  // No fsync: this runs on the router's event loop, and the file is only a hint. After a
  // power cut it may be empty or old, which costs a seedless rejoin, never correctness.
  return replaceFileAtomically(file, render(addresses), Durability::kUnsynced);
}

fs::path defaultMemberSnapshotFile(const fs::path& identityFile) {
  return identityFile.parent_path() / "mesh.members";
}

std::vector<std::string> joinAddresses(const std::vector<std::string>& seeds, const std::vector<std::string>& snapshot,
                                       const std::string& self) {
  const std::string me = normalise(self);
  std::vector<std::string> out;
  for (const auto* list : {&seeds, &snapshot})
    for (const auto& a : *list) {
      const std::string norm = normalise(a);
      if (norm != me && std::find(out.begin(), out.end(), norm) == out.end()) out.push_back(norm);
    }
  return out;
}

MemberSnapshot::MemberSnapshot(fs::path file, const Clock& clock, Duration minInterval)
    : file_(std::move(file)), clock_(clock), minInterval_(minInterval) {}

std::vector<std::string> MemberSnapshot::load() {
  auto read = readMemberSnapshot(file_);
  if (!read) {
    spdlog::warn("mesh: ignoring the member snapshot: {} (it is rewritten from the live membership)",
                 read.error().message);
    onDisk_.reset();  // unknown: the first poll after a change replaces it
    return {};
  }
  std::vector<std::string> sorted = *read;
  std::sort(sorted.begin(), sorted.end());
  onDisk_ = std::move(sorted);
  return std::move(*read);
}

void MemberSnapshot::poll(const std::function<std::vector<std::string>()>& live) {
  if (!dirty_ || clock_.now() - lastCheck_ < minInterval_) return;
  write(live());
}

void MemberSnapshot::flush(const std::function<std::vector<std::string>()>& live) {
  if (dirty_) write(live());
}

void MemberSnapshot::write(std::vector<std::string> addresses) {
  dirty_ = false;
  lastCheck_ = clock_.now();
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  if (onDisk_ && *onDisk_ == addresses) return;  // a meta update, or churn that cancelled out
  if (auto s = writeMemberSnapshot(file_, addresses); !s) {
    if (!writeFailing_) spdlog::warn("mesh: member snapshot not saved: {}", s.error().message);
    writeFailing_ = true;
    dirty_ = true;  // retried after the interval
    return;
  }
  if (writeFailing_) spdlog::info("mesh: member snapshot {} saved again", file_.string());
  writeFailing_ = false;
  onDisk_ = std::move(addresses);
  ++writes_;
}

}  // namespace qmesh::router
