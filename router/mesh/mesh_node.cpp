#include "router/mesh/mesh_node.h"

#include <sodium.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "common/mesh_keys.h"
#include "common/names.h"
#include "router/console/console_state.h"
#include "router/console/mesh_events.h"
#include "router/dataplane/channel_pool.h"
#include "router/dataplane/listener.h"
#include "router/membership/boot_epoch.h"
#include "router/membership/claim_authority.h"
#include "router/membership/gossip.h"
#include "router/membership/keyring.h"
#include "router/membership/messages.h"
#include "router/membership/sealed_transport.h"
#include "router/membership/udp_transport.h"
#include "router/mesh/member_snapshot.h"
#include "router/mesh/node_meta.h"
#include "router/mesh/remote_workers.h"
#include "router/mesh/seed_resolver.h"
#include "router/routing/admission.h"
#include "router/routing/load_placement.h"
#include "router/routing/worker_directory.h"
#include "router/start_error.h"

namespace qmesh::router {

using membership::Member;
using membership::MemberState;
using nlohmann::json;

namespace {

// Load figures change with every request; gossiping each change would cost every member
// bandwidth for little routing benefit (our own outstanding count is exact for what we
// send). Structure (models, states, slots) is published at once.
constexpr auto kLoadPublishInterval = std::chrono::milliseconds(500);
constexpr auto kLoadSampleInterval = std::chrono::seconds(5);
// The engine asks to be ticked at nextWakeup(); datagrams arriving in between can move
// that earlier, so never sleep longer than this.
constexpr auto kMaxTickGap = std::chrono::milliseconds(20);
constexpr auto kLeaveDeadline = std::chrono::milliseconds(1000);

std::string hostOf(const std::string& address) {
  const auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

bool sameStructure(const NodeMeta& a, const NodeMeta& b) {
  if (a.dataAddress != b.dataAddress || a.workers.size() != b.workers.size()) return false;
  for (std::size_t i = 0; i < a.workers.size(); ++i) {
    const auto &x = a.workers[i], &y = b.workers[i];
    if (x.model != y.model || x.state != y.state || x.slots != y.slots || x.draining != y.draining) return false;
  }
  return true;
}


}  // namespace

std::string peerKey(const membership::NodeId& id) {
  char hex[membership::NodeId::kSize * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, id.bytes.data(), id.bytes.size());
  return hex;
}

MeshNode::MeshNode(net::io_context& io, MeshDeps deps, membership::Identity identity)
    : io_(io),
      st_(deps),
      identity_(std::move(identity)),
      clock_(deps.clock),
      timer_(io),
      seeds_(std::make_unique<SeedResolver>(io)) {}

MeshNode::~MeshNode() {
  timer_.cancel();
  seeds_.reset();  // cancels lookups still running
  if (gossip_) {
    gossip_->setListener(nullptr);
    gossip_->setReapListener(nullptr);
  }
}

std::optional<StartError> MeshNode::start(HopServer serveHops) {
  const MeshSettings& cfg = st_.config.mesh;
  if (cfg.keys.empty()) return StartError{2, "mesh: no mesh key (mesh.key_file " + cfg.key_file.string() + ")"};
  keyring_ = std::make_unique<membership::Keyring>(cfg.keys.front());
  for (std::size_t i = 1; i < cfg.keys.size(); ++i) keyring_->install(cfg.keys[i]);

  auto advertise = resolveAdvertisedAddress(io_, cfg.advertise);
  if (!advertise) return StartError{2, advertise.error().message};
  auto failure = membership::UdpTransport::OpenFailure::kNone;
  auto udp = membership::UdpTransport::open(io_, cfg.gossip, *advertise, {}, &failure);
  if (!udp)
    return StartError{failure == membership::UdpTransport::OpenFailure::kAddressInUse ? 4 : 2,
                      "mesh.gossip: " + udp.error().message};
  udp_ = udp->get();

  dataplane::DataPlaneListenerOptions dp;
  dp.silentPeerLimit = st_.config.header_timeout;
  dp.accept = [this](const membership::NodeId& id) { return acceptPeer(id); };
  dp.onChannel = [this, serve = std::move(serveHops)](dataplane::SecureChannel channel) {
    const Member* m = gossip_ ? gossip_->members().find(channel.peer()) : nullptr;
    std::string name = m ? m->name : peerKey(channel.peer()).substr(0, 16);
    if (serve) serve(std::move(channel), std::move(name));
  };
  dataPlane_ = std::make_unique<dataplane::DataPlaneListener>(io_.get_executor(), identity_, std::move(dp));
  if (const error_code err = dataPlane_->open(cfg.data)) {
    const bool inUse = err == net::error::address_in_use;
    return StartError{inUse ? 4 : 2, "mesh.data " + cfg.data.str() + " cannot be opened: " + err.message() +
                                         (inUse ? " (another program listens there; pick another port)" : "")};
  }
  dataPlane_->start();

  const auto wallMicros = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const auto bootEpoch = membership::nextBootEpoch(membership::bootEpochFileFor(cfg.identity_file), wallMicros);
  if (!bootEpoch) return StartError{2, "mesh: " + bootEpoch.error().message};
  gossipTransport_ = std::make_unique<membership::SealedTransport>(std::move(*udp), *keyring_, identity_.id(), *bootEpoch,
                                                                  &clock_);
  sealed_ = gossipTransport_.get();
  claims_ = std::make_unique<membership::Ed25519Claims>(identity_);

  lastLoad_ = load_.sample();
  lastLoadSample_ = clock_.now();
  Member self;
  self.id = identity_.id();
  self.name = st_.config.node_name.substr(0, membership::kMaxNameBytes);
  self.address = sealed_->localAddress();
  // Peers drop records that break these rules (isUsableRecord): say so here, not by silence.
  if (!isValidName(self.name))
    return StartError{2, "mesh: node name '" + self.name + "' is not a valid name (letters, digits, . _ : / -, " +
                             "starting with a letter or digit): other nodes would ignore this one; set node.name " +
                             "(or --node-name)"};
  if (!membership::isNumericAddress(self.address))
    return StartError{2, "mesh: this node's gossip address '" + self.address + "' is not a numeric IP:PORT; set " +
                             "mesh.advertise to the IP address other nodes reach it at"};
  published_ = buildMeta();
  self.meta = encodeMeta(published_);
  gossip_ = std::make_unique<membership::Gossip>(membership::GossipConfig::lan(), self, *claims_, *sealed_, clock_,
                                                 random_);
  gossip_->setListener([this](const Member& m, MemberState prev, bool isNew) { onMember(m, prev, isNew); });
  gossip_->setReapListener([this](const Member& last) {
    st_.directory.removeRemote(peerKey(last.id));
    sealed_->forgetPeer(last.id);
    spdlog::info("mesh: forgot node {} ({}), {} long gone", last.name, last.id.shortHex(), membership::toString(last.state));
  });
  // Serf's snapshot rejoin: the members alive when we last ran are tried like seeds, so a
  // node with no seeds (or only dead ones) finds the mesh again after a restart.
  snapshot_ = std::make_unique<MemberSnapshot>(cfg.members_file, clock_);
  const std::vector<std::string> remembered = snapshot_->load();
  joinResolvingNames(joinAddresses(cfg.seeds, remembered, gossipAddress()));
  armTimer();
  spdlog::info("mesh: node {} gossiping on {} (udp+tcp), data plane on {}, {} seed(s), {} remembered member(s) "
               "from {}, {} key(s)",
               identity_.id().shortHex(), gossipAddress(), dataAddress(), cfg.seeds.size(), remembered.size(),
               cfg.members_file.string(), cfg.keys.size());
  return std::nullopt;
}

// Numeric seeds are joined at once, host names when their lookups are done (seed_resolver.h).
void MeshNode::joinResolvingNames(const std::vector<std::string>& addresses) {
  seeds_->resolve(addresses, [this](std::vector<std::string> numeric, bool final) {
    if (gossip_ && !stopping_ && (!numeric.empty() || final)) gossip_->join(std::move(numeric));
  });
}

std::string MeshNode::gossipAddress() const { return sealed_ ? sealed_->localAddress() : ""; }

std::string MeshNode::dataAddress() const {
  if (!dataPlane_ || !udp_) return "";
  return hostOf(udp_->localAddress()) + ":" + std::to_string(dataPlane_->port());
}

bool MeshNode::acceptPeer(const membership::NodeId& id) const {
  if (!gossip_ || id == identity_.id()) return false;
  const Member* m = gossip_->members().find(id);
  return m && (m->state == MemberState::kAlive || m->state == MemberState::kSuspect);
}

NodeMeta MeshNode::buildMeta() const {
  NodeMeta meta;
  meta.version = QMESH_VERSION;
  meta.dataAddress = dataAddress();
  // Whole tens: the exact figure is noise and every change would be a gossip update.
  meta.cpuPercent = (lastLoad_.cpuPercent + 5) / 10 * 10;
  meta.memPercent = (lastLoad_.memPercent + 5) / 10 * 10;
  meta.loadTenths = (lastLoad_.loadTenths + 2) / 5 * 5;  // half units: the console's figure, not noise
  meta.bootUnix = lastLoad_.bootUnix;
  // Where the mesh loads a model that is loaded nowhere (routing/load_placement.h).
  meta.freeMemoryMiB = static_cast<uint32_t>(localFreeMemoryMiB(st_.directory));
  meta.loadsInProgress = localLoadsInProgress(st_.directory);
  for (const auto& w : st_.directory.all()) {
    if (w->info.remote) continue;
    WorkerMeta wm;
    wm.model = w->info.model;
    wm.state = w->info.state;
    wm.slots = w->info.slots;
    wm.inFlight = w->outstanding;
    wm.queued = static_cast<int64_t>(st_.admission.queued(w->info.model));
    wm.health = healthScore(meta.cpuPercent, meta.memPercent, wm.slots, wm.inFlight, wm.queued);
    wm.embeddings = w->info.embeddings;
    wm.digest = w->info.digest;
    wm.restarts = w->info.restarts;
    wm.loadPercent = w->info.loadProgress >= 0 ? std::llround(w->info.loadProgress * 100) : -1;
    // Whole tokens/s: tenths would change with every stream, each change a gossip update. The
    // router's clock, which the rates were recorded on (console/live_requests.cpp).
    wm.tokenRateTenths = std::llround(st_.console.localRates.perSecond(wm.model, clock_.now())) * 10;
    wm.draining = w->info.draining;
    meta.workers.push_back(std::move(wm));
  }
  return meta;
}

std::vector<uint8_t> MeshNode::encodeMeta(const NodeMeta& meta) {
  std::size_t dropped = 0;
  auto bytes = encodeNodeMeta(meta, membership::kMaxMetaBytes, &dropped);
  if (dropped) spdlog::warn("mesh: {} worker(s) do not fit in the gossip record and are not announced", dropped);
  return bytes;
}

void MeshNode::localChanged() {
  if (!gossip_ || stopping_) return;
  publish(false);
}

void MeshNode::publish(bool force) {
  // Runs on every slot grant and release: compare structs, encode only what is published.
  NodeMeta meta = buildMeta();
  if (meta == published_) {
    publishPending_ = false;
    return;
  }
  const bool structural = !sameStructure(published_, meta);
  const TimePoint now = clock_.now();
  if (!force && !structural && now - lastPublish_ < kLoadPublishInterval) {
    publishPending_ = true;  // the timer publishes it when the interval is over
    return;
  }
  if (auto st = gossip_->updateMeta(encodeMeta(meta)); !st) {
    spdlog::warn("mesh: cannot publish this node's workers: {}", st.error().message);
    return;
  }
  published_ = std::move(meta);
  lastPublish_ = now;
  publishPending_ = false;
}

void MeshNode::armTimer() {
  const TimePoint now = clock_.now();
  TimePoint at = std::min(gossip_->nextWakeup(), now + kMaxTickGap);
  timer_.expires_at(std::max(at, now));
  timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](error_code ec) {
    if (!ec && !alive.expired()) onTimer();
  });
}

void MeshNode::onTimer() {
  gossip_->tick();
  const TimePoint now = clock_.now();
  if (stopping_) {
    if (gossip_->leaveDone() || now >= stopDeadline_) {
      // The data plane stays up: requests other routers sent before our leave finish
      // within the router's grace (closeDataPlane).
      if (udp_) udp_->close();
      if (auto done = std::move(onStopped_)) done();
      return;
    }
  } else {
    if (now - lastLoadSample_ >= kLoadSampleInterval) {
      lastLoad_ = load_.sample();
      lastLoadSample_ = now;
      publish(false);
    }
    if (publishPending_ && now - lastPublish_ >= kLoadPublishInterval) publish(true);
    snapshot_->poll([this] { return liveMemberAddresses(); });
  }
  armTimer();
}

void MeshNode::stop(std::function<void()> done) {
  if (!gossip_ || stopping_) {
    if (done) done();
    return;
  }
  stopping_ = true;
  // What we saw last is what the next start should rejoin: a graceful restart rejoins too.
  snapshot_->flush([this] { return liveMemberAddresses(); });
  onStopped_ = std::move(done);
  stopDeadline_ = clock_.now() + kLeaveDeadline;
  gossip_->leave();
  spdlog::info("mesh: leaving the mesh");
}

void MeshNode::closeDataPlane() {
  if (dataPlane_) dataPlane_->stop();
}

// Suspects too: most turn out fine, and leaving them out would rewrite the file on every
// false suspicion and its refutation.
std::vector<std::string> MeshNode::liveMemberAddresses() const {
  std::vector<std::string> out;
  for (const auto& [id, m] : gossip_->members().all())
    if (id != identity_.id() && (m.state == MemberState::kAlive || m.state == MemberState::kSuspect))
      out.push_back(m.address);
  return out;
}

void MeshNode::onMember(const Member& m, MemberState previous, bool isNew) {
  if (m.id == identity_.id()) return;
  if (snapshot_) snapshot_->changed();  // cheap; the file is compared and written at most once a second
  const std::string key = peerKey(m.id);
  std::string models;
  std::vector<WorkerMeta> workers;  // what the console hears of this node's workers
  // Over a silent partition a pooled channel would hang where a fresh connect times out.
  if (m.state != MemberState::kAlive) st_.meshChannels.dropPeer(m.id);
  // Requests in flight to a dead node would wait on it until TCP gives up: fail them now.
  // (A suspect may refute, and a node that left drains its requests: both keep theirs.)
  if (m.state == MemberState::kDead)
    if (const std::size_t n = st_.meshChannels.abortInFlight(m.id))
      spdlog::warn("mesh: node {} ({}) is dead: closed {} request channel(s) in flight to it", m.name,
                   m.id.shortHex(), n);
  if (m.state == MemberState::kAlive || m.state == MemberState::kSuspect) {
    // A suspect keeps its models known but none of its workers is routable until it
    // refutes (remote_workers.h); dead or left, it is gone.
    auto meta = decodeNodeMeta(m.meta);
    if (!meta) {
      ++invalidMeta_;
      spdlog::warn("mesh: node {} ({}) sent unreadable worker info: {}", m.name, m.id.shortHex(), meta.error().message);
      st_.directory.removeRemote(key);
    } else {
      for (const auto& wm : meta->workers)
        models += (models.empty() ? "" : ",") + wm.model + "(" + std::string(toString(wm.state)) +
                  (wm.draining ? ", draining" : "") + ")";
      st_.directory.applyRemote(key, remoteWorkersOf(m, *meta));
      workers = meta->workers;
    }
  } else {
    st_.directory.removeRemote(key);
  }
  publishRemoteWorkers(st_.console, m.name, workers);
  if (isNew || previous != m.state) {
    publishMemberChange(st_.console, m.name, m.id.shortHex(), m.address, membership::toString(m.state),
                        membership::toString(previous), isNew);
    spdlog::info("mesh: node {} ({} at {}) is {}{}{}", m.name, m.id.shortHex(), m.address,
                 membership::toString(m.state), models.empty() ? "" : ", serving ", models);
  } else
    spdlog::debug("mesh: node {} updated (incarnation {}) {}", m.name, m.incarnation, models);
  st_.admission.onDirectoryChanged();
}

Status MeshNode::reloadKeys() {
  if (!keyring_) return makeError("the mesh is not enabled on this node");
  auto keys = readMeshKeys(st_.config.mesh.key_file);
  if (!keys) return makeError(keys.error().message);
  if (keys->empty()) return makeError(st_.config.mesh.key_file.string() + ": no key left; keeping the current keys");
  for (const auto& k : *keys) keyring_->install(k);
  if (auto s = keyring_->use(keys->front()); !s) return s;
  std::vector<membership::MeshKey> stale;
  for (const auto& e : keyring_->entries())
    if (std::find(keys->begin(), keys->end(), e.key) == keys->end()) stale.push_back(e.key);
  for (const auto& k : stale) (void)keyring_->remove(k);
  spdlog::info("mesh: keys reloaded from {}: {} installed, sealing with {}", st_.config.mesh.key_file.string(),
               keyring_->entries().size(), meshKeyFingerprint(keys->front()));
  return Ok{};
}

}  // namespace qmesh::router
