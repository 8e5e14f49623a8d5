// The SWIM membership engine (Das et al. 2002, with memberlist's and Lifeguard's
// refinements). No sockets, threads or wall time: datagrams go through a Transport, time
// comes from a Clock and the owner calls tick() at (or after) nextWakeup().
//
//   every probeInterval:  probe the next member of a shuffled round-robin list
//        ping ──ack within probeTimeout──▶ fine
//          └─ no ack ─▶ ping-req to k members, which ping it and relay the ack
//                          └─ no ack by the end of the interval ─▶ suspect it
//   suspect ──Lifeguard timeout (shrinks with confirmations)──▶ dead
//   suspect ──member refutes (alive, higher incarnation)──────▶ alive
//   claims (alive/suspect/dead/leave) ride piggybacked on every packet and on periodic
//   gossip to `gossipFanout` members, each a bounded number of times; a periodic full-state
//   sync (and the join) repairs what gossip missed: one push-pull message each way over the
//   transport's reliable channel where it has one, else a burst of datagrams.
//   dead ──every deadRetryInterval for deadRetryWindow──▶ push-pull to it (a quick restart)
//   dead/left ──deadRetention──▶ forgotten (reap listener told)
//
// A member's claims about itself (alive records, leave) are signed with its identity and
// checked before they are merged (ClaimAuthority); failures are dropped and counted. What a
// member holding the mesh key may say about others is bounded too: no suspect or dead
// above the subject's signed incarnation (member_table.h), an accuser counts only when it
// is the packet's sealed sender, a push-pull is answered only at the sender's signed
// address, and records with names or addresses unfit for logs and sockets are dropped.
//
// Concurrency: none. All methods, and the transport's receive handler, run on one loop.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "router/membership/broadcast_queue.h"
#include "router/membership/claim_authority.h"
#include "router/membership/gossip_config.h"
#include "router/membership/member_table.h"
#include "router/membership/suspicion.h"
#include "router/membership/transport.h"

namespace qmesh::membership {

struct GossipStats {
  uint64_t packetsIn = 0;
  uint64_t malformed = 0;          // failed to decode: dropped, counted
  uint64_t unknownMessages = 0;    // frames of newer types, skipped
  uint64_t misdirectedPings = 0;   // ping for another node id at our address
  uint64_t probes = 0;
  uint64_t indirectProbes = 0;     // probes that needed ping-req
  uint64_t suspicionsRaised = 0;   // by this node's own failed probes
  uint64_t deadDeclared = 0;       // by this node's own suspicion timeouts
  uint64_t refutations = 0;
  uint64_t badSignature = 0;       // alive/sync record or leave whose signature failed: dropped
  uint64_t unusableRecords = 0;    // alive/sync record with an invalid name or a non-numeric
                                   // address (isUsableRecord): dropped with its claim
  uint64_t relayedAccusations = 0; // suspect claims whose accuser did not send them to us:
                                   // they may start a suspicion, never confirm one
  uint64_t syncRepliesRefused = 0; // sync requests from a sender we hold no record of
  uint64_t pushPulls = 0;          // full-state messages sent over the reliable channel
  uint64_t syncDatagrams = 0;      // full-state datagrams sent (no reliable channel)
  uint64_t reaped = 0;             // dead/left members forgotten after deadRetention
};

class Gossip {
 public:
  // Called after our view of a member changed (including members first heard of).
  using Listener = std::function<void(const Member& now, MemberState previous, bool isNew)>;
  // Called when a dead or left member is forgotten, with its last record: drop everything
  // kept about it (its workers; SealedTransport::forgetPeer).
  using ReapListener = std::function<void(const Member& last)>;

  // `config` must pass validate() and `self` validateMember(): check both at startup and
  // report the error there; an invalid one here is a programming error and aborts. `claims`
  // signs our record and checks others' (Ed25519Claims over the node's Identity, whose id
  // must be self.id: a mismatch aborts too); it, the transport, clock and random must
  // outlive the engine.
  Gossip(GossipConfig config, Member self, ClaimAuthority& claims, Transport& transport,
         const Clock& clock, Random& random);
  ~Gossip();
  Gossip(const Gossip&) = delete;
  Gossip& operator=(const Gossip&) = delete;

  // Pushes our state to each seed and asks for theirs; retried while we know nobody.
  void join(std::vector<Address> seeds);
  // Announces a graceful leave and stops probing; keep ticking until leaveDone().
  void leave();
  bool leaveDone() const;
  // New metadata for ourselves (the router's workers): a new incarnation, gossiped.
  // Refused (nothing changes) if over kMaxMetaBytes.
  Status updateMeta(std::vector<uint8_t> meta);

  void tick();
  TimePoint nextWakeup() const;

  const MemberTable& members() const { return table_; }
  const GossipStats& stats() const { return stats_; }
  // Claims still waiting to be piggybacked: a gauge of dissemination backlog (a mass join
  // queues every newcomer's record lambda * log10(N+1) times on every node).
  std::size_t pendingBroadcasts() const { return queue_.size(); }
  const GossipConfig& config() const { return config_; }
  void setListener(Listener listener) { listener_ = std::move(listener); }
  void setReapListener(ReapListener listener) { reapListener_ = std::move(listener); }

 private:
  struct Probe {
    uint32_t seq;
    NodeId target;
    TimePoint indirectAt;
    bool indirectSent = false;
  };
  struct Relay {
    Address origin;
    uint32_t originSeq;
    TimePoint expires;
  };

  void onDatagram(const Address& from, std::span<const uint8_t> data);
  void handle(const Address& from, const NodeId* sender, const Message& m);
  void replyState(const Address& from, const NodeId* sender);

  void startProbe();
  void finishProbe();  // end of interval: suspect the target if it never answered
  void sendIndirect();
  std::optional<NodeId> nextProbeTarget();
  void addProbeTarget(const NodeId& id);
  std::vector<NodeId> randomLiveOthers(std::size_t k, const NodeId* exclude);
  void gossipRound();
  void syncRound();
  void retryRecentDead();
  void updateRecentDead(const Member& m);
  void sendState(const Address& to, bool wantReply);
  void expireSuspicions();
  void reapDead();
  std::optional<TimePoint> nextReap() const;

  // Signature gates: true if the claim may be merged (checked, or unable to change anything).
  bool admitRecord(const Member& record);
  bool admitLeave(const Leave& leave);
  void signSelf();

  void onAlive(const Member& m);
  // `sender`: the member the transport authenticated as the packet's sender, or nullptr
  // (our own claims; transports that authenticate nobody). A claim whose accuser is not its
  // sender (relayed, or forged in another's name) may start a suspicion but never counts
  // as that accuser's confirmation.
  void onSuspect(const Suspect& s, const NodeId* sender = nullptr);
  void onDead(const Dead& d);
  void onLeave(const Leave& l);
  void onSyncState(const Member& m, const NodeId* sender);
  void afterMerge(const NodeId& subject, const MergeResult& r, const Message& claim);
  void announceSelf();
  void broadcast(const NodeId& subject, const Message& claim);

  void send(const Address& to, std::vector<uint8_t> packet, bool piggyback);
  void notify(const NodeId& id, MemberState previous, bool isNew);
  void updateGraveyard(const Member& m);
  Duration syncIntervalScaled() const;

  GossipConfig config_;
  ClaimAuthority& claims_;
  Transport& transport_;
  const Clock& clock_;
  Random& random_;
  MemberTable table_;
  BroadcastQueue queue_;
  std::map<NodeId, Suspicion> suspicions_;
  std::map<NodeId, TimePoint> graveyard_;  // dead/left members: when to forget them
  std::map<NodeId, TimePoint> recentDead_;  // just declared dead: retried until then
  std::map<uint32_t, Relay> relays_;
  std::optional<Probe> probe_;
  std::vector<NodeId> probeOrder_;
  std::size_t probeIndex_ = 0;
  uint32_t nextSeq_ = 1;
  std::vector<Address> seeds_;
  TimePoint nextProbe_, nextGossip_, nextSync_, nextJoin_, nextDeadRetry_;
  GossipStats stats_;
  Listener listener_;
  ReapListener reapListener_;
};

}  // namespace qmesh::membership
