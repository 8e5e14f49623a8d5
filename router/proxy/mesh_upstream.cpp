#include "router/proxy/mesh_upstream.h"

#include <algorithm>

#include "common/node_config.h"
#include "router/dataplane/tcp_liveness.h"
#include "router/mesh/mesh_link.h"
#include "router/proxy/hop_session.h"
#include "router/router_services.h"

namespace qmesh::router {

MeshUpstream::MeshUpstream(Worker& w, RouterServices& services, net::any_io_executor ex)
    : worker_(w), st_(services) {
  attach(std::make_unique<dataplane::SecureChannel>(ex));
}

MeshUpstream::~MeshUpstream() {
  http_.reset();
  inFlight_.release();
  if (channel_) channel_->close();
}

void MeshUpstream::attach(std::unique_ptr<dataplane::SecureChannel> channel) {
  http_.reset();
  channel_ = std::move(channel);
  http_ = std::make_unique<UpstreamClient<dataplane::SecureChannel>>(*channel_);
}

net::awaitable<error_code> connectMeshChannel(dataplane::SecureChannel& channel, const std::string& address,
                                              const membership::NodeId& peer, const membership::Identity& self,
                                              std::chrono::milliseconds connectTimeout,
                                              std::chrono::milliseconds silentPeerLimit) {
  auto hp = parseHostPort(address);
  if (!hp) co_return make_error_code(net::error::invalid_argument);
  if (error_code ec = co_await channel.connect(hp->host, hp->port, self, peer, connectTimeout)) co_return ec;
  co_return dataplane::applyTcpLiveness(channel.socket(), dataplane::tcpLivenessFor(silentPeerLimit));
}

bool MeshUpstream::takePooled() {
  auto pooled = st_.meshChannels.take(worker_.info.peer, st_.context.clock.now());
  if (!pooled) return false;
  attach(std::move(pooled));
  return true;
}

net::awaitable<error_code> MeshUpstream::connect(bool fresh) {
  if (!st_.mesh) co_return make_error_code(net::error::not_connected);
  const auto& peer = worker_.info.peer;
  reused_ = !fresh && takePooled();
  if (!reused_) {
    const auto deadline = std::chrono::steady_clock::now() + st_.context.config.connect_timeout;
    const auto turn = co_await st_.meshOpens.enter(peer, deadline);
    if (!turn) co_return make_error_code(net::error::timed_out);
    // A channel may have come back to the pool while this open waited for its turn.
    reused_ = !fresh && takePooled();
    if (!reused_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (error_code ec = co_await connectMeshChannel(*channel_, worker_.info.dataAddress, peer, st_.mesh->identity(),
                                                      std::max(left, std::chrono::milliseconds(1)),
                                                      st_.context.config.header_timeout))
        co_return ec;
    }
  }
  inFlight_ = st_.meshChannels.trackInFlight(peer, *channel_);
  co_return error_code{};
}

net::awaitable<error_code> MeshUpstream::readHeader() {
  const error_code ec = co_await http_->readHeader();
  answered_ = !ec;
  co_return ec;
}

void MeshUpstream::prepare(UpstreamRequest& req) const {
  req.set(http::field::host, worker_.info.node);
  req.set(kHopCountHeader, "1");  // the peer serves it with its own workers only
  req.keep_alive(true);  // the channel goes back to the pool for the next request there
}

void MeshUpstream::releaseForReuse() {
  if (st_.sessions.draining() || !http_->reusable()) return;
  inFlight_.release();  // idle now: the pool's own rules (dropPeer) take over
  st_.meshChannels.put(std::move(channel_), st_.context.clock.now());
}

void MeshUpstream::markUnreachable() {
  // A refused connect is local evidence of death, acted on at once; gossip confirms it.
  st_.context.directory.markPeerUnreachable(peerKey(worker_.info.peer), st_.context.clock.now(),
                                             st_.context.config.unreachable_hold);
}

std::string MeshUpstream::route(std::string_view self, std::string_view why) const {
  // A hop names this node and the next; the next router's own route replaces the node name
  // once its answer arrives, so x-qmesh-route shows every hop.
  std::string next = worker_.info.node;
  if (answered_)
    if (const auto r = http_->header()["x-qmesh-route"]; !r.empty()) next = std::string(r);
  return std::string(self) + " (" + std::string(why) + ") > " + next;
}

}  // namespace qmesh::router
