#include "router/mesh/node_meta.h"

#include <algorithm>

#include "common/names.h"
#include "router/membership/messages.h"
#include "router/membership/wire.h"

namespace qmesh::router {

namespace wire = membership::wire;

namespace {

constexpr uint8_t kFormat = 1;

uint8_t stateCode(WorkerState s) { return static_cast<uint8_t>(s); }
WorkerState stateFromCode(uint8_t c) {
  return c <= static_cast<uint8_t>(WorkerState::Unloaded) ? static_cast<WorkerState>(c) : WorkerState::Unknown;
}
uint16_t clamp16(int64_t v) { return static_cast<uint16_t>(std::clamp<int64_t>(v, 0, 65535)); }
uint8_t clampPct(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 100)); }
std::string cut(const std::string& s) { return s.substr(0, 255); }

void encodeWorker(wire::Writer& w, const WorkerMeta& m) {
  w.str8(cut(m.model));
  w.u8(stateCode(m.state));
  w.u16(clamp16(m.slots));
  w.u16(clamp16(m.inFlight));
  w.u16(clamp16(m.queued));
  w.u8(clampPct(m.health));
  w.u8((m.embeddings ? 1 : 0) | (m.draining ? 2 : 0));
}

bool isHexDigest(const std::string& d) {
  return d.size() == 64 && d.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The digests of the first n workers, after all of them, so a decoder that predates them
// reads the rest unchanged.
void encodeDigests(wire::Writer& w, const std::vector<WorkerMeta>& workers, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& d = workers[i].digest;
    if (!isHexDigest(d)) {
      w.u8(0);
      continue;
    }
    w.u8(1);
    std::vector<uint8_t> raw(32);
    for (std::size_t b = 0; b < 32; ++b)
      raw[b] = static_cast<uint8_t>((std::string_view(kHex).find(d[2 * b]) << 4) | std::string_view(kHex).find(d[2 * b + 1]));
    w.bytes(raw);
  }
}

// false: the section was cut short (a truncated meta, not an older node's).
bool decodeDigests(wire::Reader& r, std::vector<WorkerMeta>& workers) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (r.atEnd()) return true;  // an older node: no digests
  for (auto& wm : workers) {
    const uint8_t has = r.u8();
    if (!r.ok()) return false;
    if (has != 1) continue;
    const auto raw = r.bytes(32);
    if (!r.ok()) return false;
    wm.digest.clear();
    for (const uint8_t b : raw) {
      wm.digest += kHex[b >> 4];
      wm.digest += kHex[b & 15];
    }
  }
  return true;
}

// One u16 per worker (tokens/s x 10, restarts, load percent), after the budget; 0xffff: unknown.
constexpr uint16_t kU16Unknown = 0xffff;
void encodePerWorker(wire::Writer& w, const std::vector<WorkerMeta>& workers, std::size_t n,
                     int64_t WorkerMeta::*field) {
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t v = workers[i].*field;
    w.u16(v < 0 ? kU16Unknown : static_cast<uint16_t>(std::min<int64_t>(v, kU16Unknown - 1)));
  }
}

// false: the section was cut short.
bool decodePerWorker(wire::Reader& r, std::vector<WorkerMeta>& workers, int64_t WorkerMeta::*field) {
  if (r.atEnd()) return true;  // an older node, or no room: unknown
  for (auto& wm : workers) {
    const uint16_t v = r.u16();
    if (!r.ok()) return false;
    wm.*field = v == kU16Unknown ? -1 : v;
  }
  return true;
}

}  // namespace

int healthScore(int cpuPercent, int memPercent, int64_t slots, int64_t inFlight, int64_t queued) {
  const double cpu = std::clamp(cpuPercent, 0, 100), mem = std::clamp(memPercent, 0, 100);
  double queueFree = 100.0;
  if (slots > 0) queueFree = 100.0 * static_cast<double>(std::max<int64_t>(0, slots - inFlight - queued)) / slots;
  const double score = (100 - cpu) * 0.4 + (100 - mem) * 0.4 + queueFree * 0.2;
  return static_cast<int>(std::clamp(score + 0.5, 0.0, 100.0));
}

std::vector<uint8_t> encodeNodeMeta(const NodeMeta& meta, std::size_t maxBytes, std::size_t* dropped) {
  std::vector<uint8_t> out;
  wire::Writer w(out);
  w.u8(kFormat);
  w.str8(cut(meta.version));
  w.str8(cut(meta.dataAddress));
  w.u8(clampPct(meta.cpuPercent));
  w.u8(clampPct(meta.memPercent));
  const std::size_t countAt = out.size();
  w.u8(0);
  std::size_t n = 0;
  constexpr std::size_t kTail = 2 + 4;  // load and boot time, after the workers
  for (const auto& worker : meta.workers) {
    if (n == 255) break;
    std::vector<uint8_t> one;
    wire::Writer ow(one);
    encodeWorker(ow, worker);
    if (out.size() + one.size() + kTail > maxBytes) break;
    w.bytes(one);
    ++n;
  }
  out[countAt] = static_cast<uint8_t>(n);
  w.u16(clamp16(meta.loadTenths));
  w.u32(static_cast<uint32_t>(std::clamp<int64_t>(meta.bootUnix, 0, 0xffffffff)));
  // Digests only when all of them fit: without them this node's streams just do not
  // continue elsewhere, while a dropped worker would not be routed to at all.
  std::vector<uint8_t> digests;
  wire::Writer dw(digests);
  encodeDigests(dw, meta.workers, n);
  // The budget and loads follow the digests (an older decoder reads whatever follows the boot
  // time as digests): when the digests do not fit, a "no digest" byte per worker stands in.
  if (out.size() + digests.size() > maxBytes) digests.assign(n, 0);
  constexpr std::size_t kBudgetBytes = 4 + 1;
  if (out.size() + digests.size() + kBudgetBytes <= maxBytes) {
    w.bytes(digests);
    w.u32(meta.freeMemoryMiB);
    w.u8(static_cast<uint8_t>(std::clamp(meta.loadsInProgress, 0, 255)));
    // For the console only: last, and each only when it fits.
    for (auto field : {&WorkerMeta::tokenRateTenths, &WorkerMeta::restarts, &WorkerMeta::loadPercent}) {
      std::vector<uint8_t> section;
      wire::Writer sw(section);
      encodePerWorker(sw, meta.workers, n, field);
      if (out.size() + section.size() > maxBytes) break;
      w.bytes(section);
    }
  } else if (out.size() + digests.size() <= maxBytes) {
    w.bytes(digests);
  }
  if (dropped) *dropped = meta.workers.size() - n;
  return out;
}

Result<NodeMeta> decodeNodeMeta(std::span<const uint8_t> bytes) {
  wire::Reader r(bytes);
  NodeMeta m;
  const uint8_t format = r.u8();
  if (r.ok() && format != kFormat)
    return makeError("node meta format " + std::to_string(format) + " is newer than this router understands");
  m.version = r.str8();
  m.dataAddress = r.str8();
  m.cpuPercent = r.u8();
  m.memPercent = r.u8();
  const std::size_t count = r.u8();
  for (std::size_t i = 0; i < count && r.ok(); ++i) {
    WorkerMeta w;
    w.model = r.str8();
    w.state = stateFromCode(r.u8());
    w.slots = r.u16();
    w.inFlight = r.u16();
    w.queued = r.u16();
    w.health = r.u8();
    const uint8_t flags = r.u8();
    w.embeddings = (flags & 1) != 0;
    w.draining = (flags & 2) != 0;
    m.workers.push_back(std::move(w));
  }
  if (!r.ok()) return makeError("node meta is truncated");
  // Appended later, so absent from an older node's meta: load and boot time (then 0,
  // "unknown", never an error), and after them the digests.
  wire::Reader tail = r;
  m.loadTenths = tail.u16();
  m.bootUnix = tail.u32();
  if (!tail.ok()) m.loadTenths = 0, m.bootUnix = 0;
  else if (!decodeDigests(tail, m.workers)) return makeError("node meta is truncated");
  else if (!tail.atEnd()) {  // absent from a node older than issue 10's mesh loading
    m.freeMemoryMiB = tail.u32();
    m.loadsInProgress = tail.u8();
    // Then the tokens/s (absent from a node older than the console's rates).
    if (!tail.ok() || !decodePerWorker(tail, m.workers, &WorkerMeta::tokenRateTenths) ||
        !decodePerWorker(tail, m.workers, &WorkerMeta::restarts) ||
        !decodePerWorker(tail, m.workers, &WorkerMeta::loadPercent))
      return makeError("node meta is truncated");
  }
  // Signed by the node, but the node may be hostile: what it says reaches logs, JSON,
  // metrics labels and sockets, so it is held to the config's rules. The message never
  // repeats the offending text.
  if (!isValidName(m.version)) return makeError("node meta: the version is not a valid name");
  if (!membership::isNumericAddress(m.dataAddress))
    return makeError("node meta: the data address is not a numeric IP:PORT");
  for (std::size_t i = 0; i < m.workers.size(); ++i)
    if (!isValidName(m.workers[i].model))
      return makeError("node meta: worker " + std::to_string(i) + "'s model name is not a valid name");
  return m;  // trailing bytes: fields of a newer format revision, ignored
}

}  // namespace qmesh::router
