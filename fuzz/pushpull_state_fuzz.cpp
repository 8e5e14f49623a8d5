// Push-pull state (the reliable channel's opened plaintext): a SyncRequest and one SyncState
// record per member, each carrying the member's node meta (router/mesh/node_meta.h), which
// the router turns into remote workers. Fuzzed past the MAC and the signatures: this is what
// a member with the key can put in its own signed record. Checks that the packet and every
// meta decode without harm, that a decoded meta is stable after one encode (clamped fields
// settle), and feeds the workers to a WorkerDirectory as MeshNode::onMember does.
#include <algorithm>
#include <variant>

#include "fuzz/fuzz_support.h"
#include "router/membership/envelope.h"
#include "router/membership/messages.h"
#include "router/mesh/node_meta.h"
#include "router/routing/worker_directory.h"

using namespace qmesh::membership;
using namespace qmesh::router;

namespace {

void checkMetaStable(const NodeMeta& meta) {
  auto once = decodeNodeMeta(encodeNodeMeta(meta, kMaxMetaBytes * 4));
  FUZZ_CHECK(once.ok());
  auto twice = decodeNodeMeta(encodeNodeMeta(*once, kMaxMetaBytes * 4));
  FUZZ_CHECK(twice.ok());
  FUZZ_CHECK(*twice == *once);
}

void applyMember(WorkerDirectory& dir, const Member& m) {
  auto meta = decodeNodeMeta(m.meta);
  const std::string key = m.id.shortHex();
  if (!meta) {
    dir.removeRemote(key);
    return;
  }
  checkMetaStable(*meta);
  std::vector<WorkerInfo> workers;
  for (const auto& wm : meta->workers) {
    WorkerInfo w;
    w.model = wm.model;
    w.state = m.state == MemberState::kSuspect ? WorkerState::Unknown : wm.state;
    w.slots = std::max<int64_t>(1, wm.slots);
    w.embeddings = wm.embeddings;
    w.remote = true;
    w.node = m.name;
    w.peer = m.id;
    w.dataAddress = meta->dataAddress;
    w.inFlight = wm.inFlight;
    w.queued = wm.queued;
    w.health = wm.health;
    workers.push_back(std::move(w));
  }
  dir.applyRemote(key, std::move(workers));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > Envelope::kMaxReliablePlaintext) return 0;
  auto packet = decodePacket({data, size});
  if (!packet) return 0;
  WorkerDirectory dir;
  for (const Message& msg : packet->messages) {
    const Member* m = nullptr;
    if (const auto* s = std::get_if<SyncState>(&msg)) m = &s->member;
    if (const auto* a = std::get_if<Alive>(&msg)) m = &a->member;
    if (!m) continue;
    FUZZ_CHECK(validateMember(*m).ok());
    if (m->state == MemberState::kAlive || m->state == MemberState::kSuspect)
      applyMember(dir, *m);
    else
      dir.removeRemote(m->id.shortHex());
  }
  const auto models = dir.models();
  FUZZ_CHECK(std::is_sorted(models.begin(), models.end()));
  FUZZ_CHECK(std::adjacent_find(models.begin(), models.end()) == models.end());
  for (const auto& model : models) FUZZ_CHECK(dir.knows(model));
  return 0;
}
