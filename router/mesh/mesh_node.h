// The mesh side of one router: its identity, the sealed gossip (SWIM engine on UDP, with
// TCP push-pull), the encrypted data-plane listener other routers forward through, and the
// glue both ways between gossip and routing:
//
//   local workers + load ──(node_meta, signed, rate-limited)──▶ gossip ──▶ other routers
//   other routers' gossip ──▶ WorkerDirectory remote entries ──▶ admission
//   suspect / dead / left ──▶ the node's workers removed at once (no new requests)
//   membership changes ──▶ the member snapshot (member_snapshot.h), rejoined at the next start
//
// Single-threaded: everything runs on the router's io_context.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/clock.h"
#include "common/random.h"
#include "router/membership/identity.h"
#include "router/mesh/mesh_link.h"
#include "router/mesh/node_meta.h"
#include "router/mesh/system_load.h"
#include "router/net.h"
#include "router/router_config.h"
#include "router/start_error.h"

namespace qmesh::membership {
class Gossip;
class Keyring;
class SealedTransport;
class UdpTransport;
class ClaimAuthority;
struct Member;
enum class MemberState : uint8_t;
}  // namespace qmesh::membership

namespace qmesh::dataplane {
class ChannelPool;
class DataPlaneListener;
class SecureChannel;
}

namespace qmesh::router {

struct ConsoleState;

class Admission;
class MemberSnapshot;
class SeedResolver;
class WorkerDirectory;

// What the mesh side reads and feeds on this router; mesh/ knows nothing of sessions or HTTP.
struct MeshDeps {
  const RouterConfig& config;
  WorkerDirectory& directory;            // other nodes' workers go in here
  Admission& admission;                  // told when they change; its queue lengths are published
  dataplane::ChannelPool& meshChannels;  // idle channels to other routers: dropped when their node fails
  const Clock& clock;
  ConsoleState& console;                 // member and remote-worker changes become /api/events
};

class MeshNode final : public MeshLink {
 public:
  MeshNode(net::io_context& io, MeshDeps deps, membership::Identity identity);
  ~MeshNode() override;
  MeshNode(const MeshNode&) = delete;
  MeshNode& operator=(const MeshNode&) = delete;

  // Serves one authenticated channel from another router (`peerName`: its member name).
  using HopServer = std::function<void(dataplane::SecureChannel channel, std::string peerName)>;

  // Binds gossip and data plane (address in use: exit 4), joins the seeds and the members of
  // the snapshot file (mesh.members beside the identity file). Channels other routers open
  // to this one go to `serveHops` once their handshake proved a live member.
  std::optional<StartError> start(HopServer serveHops);
  // Graceful leave: announces it, keeps gossiping until it has spread (or a deadline), then
  // closes every socket and calls done.
  void stop(std::function<void()> done);
  // After the router's last session closed (or its grace ran out): no more channels.
  void closeDataPlane();

  // The local directory or load changed: publish (structure at once, load rate-limited).
  void localChanged();
  // SIGHUP: re-read mesh.key_file; install every key listed, seal with the first, drop the rest.
  Status reloadKeys();

  std::string gossipAddress() const;
  std::string dataAddress() const;

  // MeshLink
  const membership::Identity& identity() const override { return identity_; }
  nlohmann::json statusJson(int64_t hopSessions) const override;
  void renderMetrics(std::string& out) const override;

 private:
  void armTimer();
  void onTimer();
  void publish(bool force);
  NodeMeta buildMeta() const;
  static std::vector<uint8_t> encodeMeta(const NodeMeta& meta);
  void onMember(const membership::Member& m, membership::MemberState previous, bool isNew);
  bool acceptPeer(const membership::NodeId& id) const;
  std::vector<std::string> liveMemberAddresses() const;
  void joinResolvingNames(const std::vector<std::string>& addresses);

  net::io_context& io_;
  MeshDeps st_;
  membership::Identity identity_;
  const Clock& clock_;
  SeededRandom random_;
  SystemLoad load_;
  SystemLoad::Sample lastLoad_;
  std::unique_ptr<membership::Keyring> keyring_;
  std::unique_ptr<membership::ClaimAuthority> claims_;
  membership::SealedTransport* sealed_ = nullptr;  // owned by gossipTransport_
  membership::UdpTransport* udp_ = nullptr;        // owned by sealed_
  std::unique_ptr<membership::SealedTransport> gossipTransport_;
  std::unique_ptr<membership::Gossip> gossip_;
  std::unique_ptr<dataplane::DataPlaneListener> dataPlane_;
  std::unique_ptr<MemberSnapshot> snapshot_;
  net::steady_timer timer_;
  std::unique_ptr<SeedResolver> seeds_;  // mesh.seeds given as host names
  NodeMeta published_;  // what our gossip record last said
  TimePoint lastPublish_{};
  TimePoint lastLoadSample_{};
  bool publishPending_ = false;
  uint64_t invalidMeta_ = 0;  // members' worker info that failed decodeNodeMeta: ignored
  bool stopping_ = false;
  std::function<void()> onStopped_;
  TimePoint stopDeadline_{};
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace qmesh::router
