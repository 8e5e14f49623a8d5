// A llama-server on this node, over loopback TCP (see upstream_connector.h).
//
// Connections are kept alive and pooled (RouterServices::localConnections, upstream_pool.h)
// after a complete response. llama-server frees a slot only when its client leaves, so a
// client that hangs up still closes the connection at once (close()): only a finished
// exchange goes back to the pool.
#pragma once

#include "router/proxy/upstream_connector.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

struct RouterServices;

class LocalUpstream final : public UpstreamConnector {
 public:
  LocalUpstream(Worker& w, RouterServices& services, net::any_io_executor ex);
  ~LocalUpstream() override;

  // A pooled connection unless `fresh`, else a new one. TCP_NODELAY is set on it: Nagle
  // plus the peer's delayed ACK would hold small SSE events back by up to 40 ms.
  net::awaitable<error_code> connect(bool fresh) override;
  bool reused() const override { return reused_; }
  void prepare(UpstreamRequest& req) const override;
  net::awaitable<error_code> send(UpstreamRequest& req) override { return http_.send(req); }
  bool sentAny() const override { return http_.sentAny(); }
  net::awaitable<error_code> readHeader() override { return http_.readHeader(); }
  const http::response_header<>& header() const override { return http_.header(); }
  net::awaitable<std::pair<error_code, std::size_t>> readSome(char* buf, std::size_t size) override {
    return http_.readSome(buf, size);
  }
  bool done() const override { return http_.done(); }
  void cancelRead() override;
  void close() override;
  // Back to the pool if the exchange ended cleanly (UpstreamClient::reusable).
  void releaseForReuse() override;
  void markUnreachable() override;
  std::string errorKind(std::string_view what) const override { return std::string(what); }
  std::string route(std::string_view self, std::string_view why) const override;

 private:
  Worker& worker_;
  RouterServices& services_;
  tcp::endpoint endpoint_;
  tcp::socket socket_;
  net::steady_timer connectTimer_;
  UpstreamClient<tcp::socket> http_{socket_};
  bool reused_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards late timer handlers
};

}  // namespace qmesh::router
