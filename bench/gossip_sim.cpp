// Gossip simulation benchmark: N routers' membership engines on the in-memory network with
// a simulated clock (no sockets, no sleeps; a simulated hour takes seconds), measuring what
// issue 4 asks of the mesh:
//   - failure detection: time from kill -9 until each member marks the node dead
//   - dissemination: time for a state change (new metadata) to reach each member
//   - false positives: suspicions and dead verdicts at 10% packet loss over a long run
//   - bandwidth: bytes sent per node per second in steady state, idle and under loss
// for qmesh's LAN profile beside memberlist's DefaultLANConfig timings run by the same
// engine on the same simulated network (so the difference is the tuning, not the network).
// Every node carries realistic metadata (150 bytes: its workers), claims are Ed25519-signed
// (UnsignedClaims from --unsigned-from nodes up: same bytes, less CPU), datagrams sealed,
// and the full-state sync goes over the reliable channel as it does on UDP+TCP.
//
//   qmesh-bench-gossip-sim --nodes 10,100,1000 --fp-nodes 10,100 --fp-duration 3600
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "router/membership/sealed_transport.h"
#include "router/membership/sim_cluster.h"

using namespace qmesh;
using namespace qmesh::membership;
using namespace std::chrono_literals;

namespace {

struct Options {
  std::vector<std::size_t> nodes{10, 100, 1000};
  std::vector<std::size_t> fpNodes{10, 100};
  double fpDurationS = 3600;
  double lossFp = 0.10;
  double delayMs = 0.2, jitterMs = 0.6;  // one-way LAN latency: 0.2-0.8 ms
  int trials = 3;
  uint64_t seed = 1;
  bool seal = true;
  bool reliable = true;
  std::size_t metaBytes = 150;
  std::size_t unsignedFrom = 1000;
  std::string profiles = "qmesh,memberlist";
};

double secondsOf(Duration d) { return std::chrono::duration<double>(d).count(); }

// The value below which fraction q of the samples lie (nearest rank).
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// A cluster, optionally sealed, with per-observer first-seen times for one subject.
class Bench {
 public:
  Bench(std::size_t n, const GossipConfig& cfg, const Options& o, uint64_t seed) {
    static const MeshKey key = [] { MeshKey k; k.fill(7); return k; }();
    for (std::size_t i = 0; i < n; ++i) keyrings_.push_back(std::make_unique<Keyring>(key));
    SimCluster::TransportWrapper wrap;
    if (o.seal)
      wrap = [this](std::size_t i, const Member& self, std::unique_ptr<Transport> raw) {
        return std::make_unique<SealedTransport>(std::move(raw), *keyrings_[i], self.id, 1);
      };
    SimCluster::Options options;
    options.metaBytes = o.metaBytes;
    options.signedClaims = n < o.unsignedFrom;
    c = std::make_unique<SimCluster>(n, cfg, seed, wrap, options);
    c->network().setReliable(o.reliable);
    c->network().setDelay(std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(o.delayMs)),
                          std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(o.jitterMs)));
    c->setChangeHook([this](std::size_t observer, const Member& m, MemberState) {
      if (!watching_ || m.id != c->id(subject_)) return;
      if (m.state == want_ && m.incarnation >= minIncarnation_ && !seenAt_.count(observer))
        seenAt_[observer] = c->scheduler().now();
      if (m.state == MemberState::kDead) ++deadVerdicts_;
    });
  }

  bool start() {
    c->joinAll(std::chrono::milliseconds(5));
    const Duration joinSpan = 5ms * static_cast<int64_t>(c->size());
    c->scheduler().runFor(joinSpan);
    return c->runUntil([&] { return c->converged(); }, 300s, 500ms);
  }

  // Steady state starts once every node has finished piggybacking the join's records;
  // returns how long that took.
  double drain() {
    const TimePoint joined = c->scheduler().now();
    c->runUntil([&] {
      for (std::size_t i = 0; i < c->size(); ++i)
        if (c->node(i).pendingBroadcasts() > 0) return false;
      return true;
    }, 900s, 1s);
    const double s = secondsOf(c->scheduler().now() - joined);
    c->scheduler().runFor(10s);
    return s;
  }

  void watch(std::size_t subject, MemberState want, uint32_t minIncarnation) {
    watching_ = true;
    subject_ = subject;
    want_ = want;
    minIncarnation_ = minIncarnation;
    seenAt_.clear();
    since_ = c->scheduler().now();
  }
  std::vector<double> seenTimes() const {
    std::vector<double> t;
    for (const auto& [obs, at] : seenAt_) t.push_back(secondsOf(at - since_));
    return t;
  }
  std::size_t seenCount() const { return seenAt_.size(); }
  std::size_t upObservers(std::size_t subject) const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < c->size(); ++i) n += (i != subject && c->up(i));
    return n;
  }

  std::unique_ptr<SimCluster> c;
  uint64_t deadVerdicts_ = 0;

 private:
  std::vector<std::unique_ptr<Keyring>> keyrings_;
  bool watching_ = false;
  std::size_t subject_ = 0;
  MemberState want_ = MemberState::kDead;
  uint32_t minIncarnation_ = 0;
  std::map<std::size_t, TimePoint> seenAt_;
  TimePoint since_{};
};

// Bytes per node per second between two network snapshots. "wire" adds 28 B of IPv4+UDP
// header per datagram and, for push-pull messages, 52 B of IPv4+TCP (timestamps) header per
// 1,448-byte segment plus ~7 header-only segments per message (handshake, close, acks).
struct Rate {
  double payload = 0, wire = 0, packets = 0, pushPullShare = 0;
};
Rate rateOf(const InMemoryNetwork::Stats& a, const InMemoryNetwork::Stats& b, std::size_t n, double seconds) {
  const double per = 1.0 / (static_cast<double>(n) * seconds);
  Rate r;
  const auto bytes = static_cast<double>(b.bytesSent - a.bytesSent);
  const auto datagrams = static_cast<double>(b.sent - a.sent);
  const auto reliableBytes = static_cast<double>(b.reliableBytes - a.reliableBytes);
  const auto messages = static_cast<double>(b.reliableSent - a.reliableSent);
  r.payload = bytes * per;
  r.packets = datagrams * per;
  r.wire = (bytes + 28.0 * datagrams + 52.0 * (std::ceil(reliableBytes / 1448.0) + 7.0 * messages)) * per;
  r.pushPullShare = bytes > 0 ? reliableBytes / bytes : 0;
  return r;
}

struct Row {
  std::string profile;
  std::size_t n = 0;
  std::vector<double> detect, spread;
  Rate idle;
  bool converged = false;
  bool signedClaims = true;
  double drainS = 0;
  std::size_t detectMissing = 0, spreadMissing = 0;
};

Row measure(std::size_t n, const std::string& profile, const GossipConfig& cfg, const Options& o) {
  Row row;
  row.profile = profile;
  row.n = n;
  row.signedClaims = n < o.unsignedFrom;
  Bench b(n, cfg, o, o.seed + n);
  row.converged = b.start();
  SimCluster& c = *b.c;
  row.drainS = b.drain();

  // Bandwidth: a quiet stretch of one scaled sync interval (at least a minute), so that
  // each node's push-pull (randomly phased) is counted about once.
  const auto s0 = c.network().stats();
  const double scale = n <= 32 ? 1.0 : std::ceil(std::log2(static_cast<double>(n)) - 5.0) + 1.0;
  const double idleS = std::max(60.0, scale * std::chrono::duration<double>(cfg.syncInterval).count());
  c.scheduler().runFor(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(idleS)));
  row.idle = rateOf(s0, c.network().stats(), n, idleS);

  for (int t = 0; t < o.trials; ++t) {
    // Dissemination: a member publishes new metadata (its workers changed).
    const std::size_t changer = 1 + static_cast<std::size_t>(t);
    const uint32_t next = c.node(changer).members().self().incarnation + 1;
    b.watch(changer, MemberState::kAlive, next);
    c.node(changer).updateMeta(std::vector<uint8_t>(o.metaBytes, static_cast<uint8_t>(100 + t)));
    c.runUntil([&] { return b.seenCount() >= b.upObservers(changer); }, 60s, 10ms);
    auto spread = b.seenTimes();
    row.spreadMissing += b.upObservers(changer) - spread.size();
    row.spread.insert(row.spread.end(), spread.begin(), spread.end());
    c.scheduler().runFor(10s);

    // Detection: kill -9 a member (mid probe cycle: offset by a fraction of an interval).
    c.scheduler().runFor(cfg.probeInterval * (t + 1) / (o.trials + 1));
    const std::size_t victim = c.size() - 1 - static_cast<std::size_t>(t);
    b.watch(victim, MemberState::kDead, 0);
    c.kill(victim);
    c.runUntil([&] { return b.seenCount() >= b.upObservers(victim); }, 120s, 10ms);
    auto detect = b.seenTimes();
    row.detectMissing += b.upObservers(victim) - detect.size();
    row.detect.insert(row.detect.end(), detect.begin(), detect.end());
    c.scheduler().runFor(10s);
  }
  return row;
}

struct FpRow {
  std::string profile;
  std::size_t n = 0;
  uint64_t suspicions = 0, refutations = 0, deadVerdicts = 0, probes = 0;
  Rate lossy;
  bool signedClaims = true;
};

FpRow falsePositives(std::size_t n, const std::string& profile, const GossipConfig& cfg,
                     const Options& o) {
  FpRow row;
  row.profile = profile;
  row.n = n;
  row.signedClaims = n < o.unsignedFrom;
  Bench b(n, cfg, o, o.seed + 1000 + n);
  b.start();
  SimCluster& c = *b.c;
  b.drain();
  b.deadVerdicts_ = 0;
  b.watch(0, MemberState::kDead, 0);  // counts every dead verdict about anyone
  std::vector<GossipStats> before;
  for (std::size_t i = 0; i < n; ++i) before.push_back(c.node(i).stats());
  c.network().setDropProbability(o.lossFp);
  const auto s0 = c.network().stats();
  c.scheduler().runFor(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.fpDurationS)));
  row.lossy = rateOf(s0, c.network().stats(), n, o.fpDurationS);
  for (std::size_t i = 0; i < n; ++i) {
    row.suspicions += c.node(i).stats().suspicionsRaised - before[i].suspicionsRaised;
    row.refutations += c.node(i).stats().refutations - before[i].refutations;
    row.probes += c.node(i).stats().probes - before[i].probes;
  }
  row.deadVerdicts = b.deadVerdicts_;
  return row;
}

std::vector<std::size_t> parseList(const std::string& s) {
  std::vector<std::size_t> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    if (end > pos) out.push_back(std::stoul(s.substr(pos, end - pos)));
    pos = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string nodes = "10,100,1000", fpNodes = "10,100";
  CLI::App app{"Simulated SWIM/Lifeguard gossip: detection, dissemination, false positives, bandwidth"};
  app.add_option("--nodes", nodes, "cluster sizes for detection/dissemination/bandwidth");
  app.add_option("--fp-nodes", fpNodes, "cluster sizes for the false-positive run (empty: skip)");
  app.add_option("--fp-duration", o.fpDurationS, "simulated seconds of the false-positive run");
  app.add_option("--fp-loss", o.lossFp, "packet loss during the false-positive run");
  app.add_option("--delay-ms", o.delayMs, "fixed one-way delay");
  app.add_option("--jitter-ms", o.jitterMs, "extra uniform one-way delay");
  app.add_option("--trials", o.trials, "kills and state changes per cluster");
  app.add_option("--seed", o.seed, "base seed; same seed, same run");
  app.add_option("--profiles", o.profiles, "qmesh,memberlist");
  GossipConfig qmesh = GossipConfig::lan();
  double gossipMs = -1, probeMs = -1;
  app.add_option("--gossip-interval-ms", gossipMs, "override qmesh profile: gossip interval");
  app.add_option("--probe-interval-ms", probeMs, "override qmesh profile: probe interval (timeout = half)");
  app.add_option("--fanout", qmesh.gossipFanout, "override qmesh profile: gossip fanout");
  app.add_option("--lambda", qmesh.retransmitMult, "override qmesh profile: retransmit mult");
  app.add_option("--indirect-checks", qmesh.indirectChecks, "override qmesh profile: ping-req relays (k)");
  double syncS = -1;
  app.add_option("--sync-interval-s", syncS, "override qmesh profile: base full-state sync interval");
  bool noSeal = false, noReliable = false;
  app.add_flag("--no-seal", noSeal, "skip the AEAD envelope (bytes then exclude its 89 B/packet)");
  app.add_flag("--no-reliable", noReliable, "full-state sync over datagrams (no TCP channel)");
  app.add_option("--meta-bytes", o.metaBytes, "metadata per node (a router's workers: ~150)");
  app.add_option("--unsigned-from", o.unsignedFrom,
                 "clusters this large use UnsignedClaims (same bytes, no Ed25519 CPU)");
  CLI11_PARSE(app, argc, argv);
  auto ms = [](double v) {
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(v));
  };
  if (gossipMs > 0) qmesh.gossipInterval = ms(gossipMs);
  if (syncS > 0) qmesh.syncInterval = ms(syncS * 1000);
  if (probeMs > 0) {
    qmesh.probeInterval = ms(probeMs);
    qmesh.probeTimeout = ms(probeMs / 2);
  }
  if (auto valid = qmesh.validate(); !valid) {
    std::fprintf(stderr, "gossip_sim: %s\n", valid.error().message.c_str());
    return 2;
  }
  o.seal = !noSeal;
  o.reliable = !noReliable;
  o.nodes = parseList(nodes);
  o.fpNodes = parseList(fpNodes);

  std::vector<std::pair<std::string, GossipConfig>> profiles;
  if (o.profiles.find("qmesh") != std::string::npos) profiles.emplace_back("qmesh-lan", qmesh);
  if (o.profiles.find("memberlist") != std::string::npos)
    profiles.emplace_back("memberlist-lan", GossipConfig::memberlistLan());

  std::printf("# gossip_sim seed=%llu sealed=%d reliable=%d meta=%zu B delay=%.2f+U[0,%.2f) ms trials=%d\n",
              static_cast<unsigned long long>(o.seed), o.seal, o.reliable, o.metaBytes, o.delayMs,
              o.jitterMs, o.trials);
  if (!o.nodes.empty()) std::printf("\n| profile | N | claims | converged | dead at every member p50 / p99 / max (s) | state change p50 / p99.9 / max (s) | idle B/s/node payload (wire) | push-pull share | pkts/s/node | join backlog drained (s) |\n");
  if (!o.nodes.empty()) std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t n : o.nodes)
    for (const auto& [name, cfg] : profiles) {
      const Row r = measure(n, name, cfg, o);
      std::printf("| %s | %zu | %s | %s | %.2f / %.2f / %.2f%s | %.3f / %.3f / %.3f%s | %.0f (%.0f) | %.0f%% | %.1f | %.0f |\n",
                  r.profile.c_str(), r.n, r.signedClaims ? "ed25519" : "unsigned",
                  r.converged ? "yes" : "NO",
                  quantile(r.detect, 0.5), quantile(r.detect, 0.99), quantile(r.detect, 1.0),
                  r.detectMissing ? " (MISSED)" : "",
                  quantile(r.spread, 0.5), quantile(r.spread, 0.999), quantile(r.spread, 1.0),
                  r.spreadMissing ? " (MISSED)" : "",
                  r.idle.payload, r.idle.wire, 100.0 * r.idle.pushPullShare, r.idle.packets, r.drainS);
      std::fflush(stdout);
    }
  if (!o.fpNodes.empty()) {
    std::printf("\n| profile | N | claims | loss | simulated | probes | false suspicions | refutations | false dead verdicts | B/s/node payload (wire) |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (std::size_t n : o.fpNodes)
      for (const auto& [name, cfg] : profiles) {
        const FpRow r = falsePositives(n, name, cfg, o);
        std::printf("| %s | %zu | %s | %.0f%% | %.0f s | %llu | %llu | %llu | %llu | %.0f (%.0f) |\n",
                    r.profile.c_str(), r.n, r.signedClaims ? "ed25519" : "unsigned", o.lossFp * 100,
                    o.fpDurationS, static_cast<unsigned long long>(r.probes),
                    static_cast<unsigned long long>(r.suspicions),
                    static_cast<unsigned long long>(r.refutations),
                    static_cast<unsigned long long>(r.deadVerdicts), r.lossy.payload, r.lossy.wire);
        std::fflush(stdout);
      }
  }
  return 0;
}
