// A llama-server on this node, over loopback TCP (see upstream_connector.h).
//
// One connection per request: llama-server frees a slot only when its client leaves, and a
// client that hangs up must free the slot at once (close()).
#pragma once

#include "router/proxy/upstream_connector.h"
#include "router/router_context.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

class LocalUpstream final : public UpstreamConnector {
 public:
  LocalUpstream(Worker& w, RouterContext& context, net::any_io_executor ex);
  ~LocalUpstream() override;

  // TCP_NODELAY is set on success: Nagle plus the peer's delayed ACK would hold small
  // SSE events back by up to 40 ms.
  net::awaitable<error_code> connect(bool fresh) override;
  bool reused() const override { return false; }
  void prepare(UpstreamRequest& req) const override;
  net::awaitable<error_code> send(UpstreamRequest& req) override { return http_.send(req); }
  net::awaitable<error_code> readHeader() override { return http_.readHeader(); }
  const http::response_header<>& header() const override { return http_.header(); }
  net::awaitable<std::pair<error_code, std::size_t>> readSome(char* buf, std::size_t size) override {
    return http_.readSome(buf, size);
  }
  bool done() const override { return http_.done(); }
  void cancelRead() override;
  void close() override;
  void releaseForReuse() override {}
  void markUnreachable() override;
  std::string errorKind(std::string_view what) const override { return std::string(what); }
  std::string route(std::string_view self, std::string_view why) const override;

 private:
  Worker& worker_;
  RouterContext& st_;
  tcp::socket socket_;
  net::steady_timer connectTimer_;
  UpstreamClient<tcp::socket> http_{socket_};
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards late timer handlers
};

}  // namespace qmesh::router
