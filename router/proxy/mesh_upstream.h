// Another node's router, over the encrypted data plane (see upstream_connector.h and
// dataplane/secure_channel.h).
//
// Channels are kept alive and pooled (RouterServices::meshChannels): a fresh one costs a TCP
// connect and a signed handshake. While a request uses one, it is registered with the pool
// so that the peer's death closes it (ChannelPool::abortInFlight) instead of leaving the
// client waiting on a silent peer.
#pragma once

#include <memory>

#include "router/dataplane/channel_pool.h"
#include "router/dataplane/secure_channel.h"
#include "router/proxy/upstream_connector.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {
struct RouterServices;
}

namespace qmesh::router {

// TCP to a peer's data-plane address and the handshake that proves it is `peer`; then a peer
// silent for silentPeerLimit (router.header_timeout) breaks the channel (timed_out), whether
// a request waits on it or it idles in the pool (dataplane/tcp_liveness.h).
net::awaitable<error_code> connectMeshChannel(dataplane::SecureChannel& channel, const std::string& address,
                                              const membership::NodeId& peer, const membership::Identity& self,
                                              std::chrono::milliseconds connectTimeout,
                                              std::chrono::milliseconds silentPeerLimit);

class MeshUpstream final : public UpstreamConnector {
 public:
  MeshUpstream(Worker& w, RouterServices& services, net::any_io_executor ex);
  ~MeshUpstream() override;

  // TCP to the peer's data-plane address, then the handshake that proves it is the peer
  // the gossip named; or a pooled channel to it unless `fresh`.
  net::awaitable<error_code> connect(bool fresh) override;
  bool reused() const override { return reused_; }
  void prepare(UpstreamRequest& req) const override;
  net::awaitable<error_code> send(UpstreamRequest& req) override { return http_->send(req); }
  bool sentAny() const override { return http_->sentAny(); }
  net::awaitable<error_code> readHeader() override;
  const http::response_header<>& header() const override { return http_->header(); }
  net::awaitable<std::pair<error_code, std::size_t>> readSome(char* buf, std::size_t size) override {
    return http_->readSome(buf, size);
  }
  bool done() const override { return http_->done(); }
  void cancelRead() override {
    if (channel_) channel_->cancel();
  }
  void close() override {
    if (channel_) channel_->close();
  }
  // Back to the pool if the exchange ended cleanly (UpstreamClient::reusable).
  void releaseForReuse() override;
  void markUnreachable() override;
  std::string errorKind(std::string_view what) const override { return "mesh_" + std::string(what); }
  std::string route(std::string_view self, std::string_view why) const override;

 private:
  void attach(std::unique_ptr<dataplane::SecureChannel> channel);
  bool takePooled();  // a pooled channel to the worker's peer, attached; false if none

  Worker& worker_;
  RouterServices& st_;
  std::unique_ptr<dataplane::SecureChannel> channel_;
  dataplane::ChannelPool::InFlight inFlight_;  // after channel_: released before it is destroyed
  std::unique_ptr<UpstreamClient<dataplane::SecureChannel>> http_;
  bool reused_ = false;
  bool answered_ = false;  // the peer's response header was read
};

}  // namespace qmesh::router
