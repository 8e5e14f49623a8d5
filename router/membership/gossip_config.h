// Tunables of the SWIM engine. Each is a trade-off between detection speed, false
// positives and bandwidth; the named profiles are the supported starting points.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace qmesh::membership {

using namespace std::chrono_literals;

struct GossipConfig {
  using Duration = std::chrono::steady_clock::duration;

  // One member probed per interval. Shorter detects sooner; costs ~2 small datagrams per
  // interval per node regardless of cluster size.
  Duration probeInterval = 200ms;
  // Wait for a direct ack before asking others to probe. Must exceed the network RTT with
  // margin; the whole probe still has until the end of the interval.
  Duration probeTimeout = 100ms;
  // Members asked to probe indirectly (k) when the direct probe gets no ack. More tolerates
  // more loss: a probe of a healthy member fails when its direct round trip and all k
  // relayed ones (4 datagrams each) lose a packet, 0.19 x 0.344^k at 10% loss: 0.8% with
  // memberlist's 3, 0.09% with 5. Every false suspicion is then gossiped to all members
  // with its signed refutation (~360 bytes x lambda x log10(N+1) transmissions each), so
  // at 100 nodes and 10% loss 5 relays cut bytes from ~25 to ~7 KB/s per node
  // (bench/gossip_sim.md). The price is 8 more datagrams per failed direct probe, which
  // only happen under loss; an idle mesh sends the same.
  int indirectChecks = 5;
  // Lifeguard suspicion: min = alpha * log10(N) * probeInterval, max = beta * min. A higher
  // alpha gives a suspect longer to refute (fewer false deaths), detection slower.
  double suspicionAlpha = 4.0;
  double suspicionBeta = 6.0;
  // Each claim is piggybacked lambda * ceil(log10(N+1)) times. memberlist uses 4; at 10%
  // loss that let a refutation miss one member for a whole suspicion timeout in about 1 of
  // 7,000 false suspicions (a false dead verdict every few cluster-hours at 10 nodes).
  // 6 costs bytes only while there is news, and gave none in 10 simulated cluster-hours
  // (60 seeds x 10 min x 10 nodes; see bench/gossip_sim.md).
  int retransmitMult = 6;
  // Pending claims are also pushed to `gossipFanout` random members this often, so news
  // does not wait for probes. Only sent when there is something to say.
  Duration gossipInterval = 100ms;
  int gossipFanout = 3;
  // Full-state exchange with one random member (scaled up past 32 members to bound
  // bandwidth), so partitions and lost joins converge. Zero disables.
  Duration syncInterval = 30s;
  // While we know nobody, resend the join to the seeds this often.
  Duration joinRetryInterval = 1s;
  // For deadRetryWindow after a member is declared dead, one such member is also sent a
  // push-pull every deadRetryInterval (on top of the sync's one dead member per
  // syncInterval): a node that crashed and came straight back, even with fresh state and
  // no seeds that are up, is found in seconds instead of up to a sync interval. Costs at
  // most window / interval attempts per death per node (a refused TCP connect while it is
  // still down). Zero window disables.
  Duration deadRetryInterval = 3s;
  Duration deadRetryWindow = 60s;
  // How long a dead or left member stays in the table before it is forgotten (and the
  // owner told, so the router drops its workers for good). While kept, its record outranks
  // stale alive gossip about it, and the periodic sync keeps reaching out to it, which is
  // how the two sides of a healed partition find each other. Longer: longer partitions heal
  // on their own and fewer zombie rejoins from lagging peers, but memory, sync bytes and
  // probes of dead addresses grow with churn. memberlist forgets after 30 s
  // (GossipToTheDeadTime); Serf keeps failed members 24 h to reconnect. 5 min outlives any
  // dissemination by two orders of magnitude and several sync rounds; the seeds are retried
  // by the sync too, for partitions that outlast it. Zero keeps them forever.
  Duration deadRetention = 5min;

  // Startup check: the engine's timing assumptions, in words an operator can act on.
  Status validate() const {
    if (probeInterval <= Duration::zero()) return makeError("gossip probe interval must be positive");
    if (probeTimeout <= Duration::zero() || probeTimeout >= probeInterval)
      return makeError("gossip probe timeout must be positive and shorter than the probe "
                       "interval (indirect probes need the rest of the interval)");
    if (gossipInterval <= Duration::zero()) return makeError("gossip interval must be positive");
    if (indirectChecks < 0 || gossipFanout < 1 || retransmitMult < 1)
      return makeError("gossip indirect checks must be >= 0, fanout and retransmit mult >= 1");
    if (suspicionAlpha < 1.0 || suspicionBeta < 1.0)
      return makeError("suspicion alpha and beta must be >= 1");
    if (syncInterval < Duration::zero() || joinRetryInterval <= Duration::zero())
      return makeError("sync interval must be >= 0 (0 disables) and join retry positive");
    if (deadRetryWindow < Duration::zero() ||
        (deadRetryWindow > Duration::zero() && deadRetryInterval <= Duration::zero()))
      return makeError("dead retry window must be >= 0 (0 disables), and its interval positive");
    if (deadRetention < Duration::zero() ||
        (deadRetention > Duration::zero() && deadRetention < 10 * probeInterval))
      return makeError("dead member retention must be 0 (keep forever) or at least 10 probe "
                       "intervals: a verdict must finish spreading before it is forgotten");
    return Ok{};
  }

  // qmesh's LAN profile: five probes a second and Lifeguard timeouts, aiming at a dead
  // verdict within ~2 s at 10 nodes with no false deaths at 10% loss.
  static GossipConfig lan() { return GossipConfig{}; }

  // HashiCorp memberlist DefaultLANConfig, for side-by-side comparison in the simulator:
  // probe 1 s, timeout 500 ms, suspicion mult 4, max mult 6, gossip 200 ms to 3 nodes.
  static GossipConfig memberlistLan() {
    GossipConfig c;
    c.probeInterval = 1s;
    c.probeTimeout = 500ms;
    c.indirectChecks = 3;
    c.suspicionAlpha = 4.0;
    c.suspicionBeta = 6.0;
    c.retransmitMult = 4;
    c.gossipInterval = 200ms;
    c.gossipFanout = 3;
    c.syncInterval = 30s;
    c.deadRetention = 30s;  // GossipToTheDeadTime
    c.deadRetryWindow = Duration::zero();  // memberlist has no such retry
    return c;
  }
};

}  // namespace qmesh::membership
