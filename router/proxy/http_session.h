// One client connection: reads requests (header and body each under a deadline, so a slow
// client cannot hold the connection forever), answers local routes, hands model requests
// to the Forwarder, and honours keep-alive. Owned by shared_from_this through its
// coroutine; one request at a time, one write in flight.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "router/net.h"
#include "router/proxy/client_link.h"
#include "router/proxy/routes.h"
#include "router/router_state.h"

namespace qmesh::router {

class HttpSession final : public ClientLink, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, std::shared_ptr<RouterState> state);
  ~HttpSession();
  void start();

  // ClientLink
  void closeIfIdle() override;
  void forceClose() override;
  net::any_io_executor executor() override { return stream_.get_executor(); }
  RouterState& state() override { return *state_; }
  net::awaitable<bool> writeError(RequestCtx& ctx, int status, std::string_view code, std::string_view message,
                                  int retryAfterSeconds = 0) override;
  net::awaitable<error_code> writeHeader(http::response_serializer<http::empty_body>& sr) override;
  net::awaitable<error_code> writeBody(const char* data, std::size_t n, bool chunked) override;
  net::awaitable<error_code> writeLastChunk() override;
  void watchClient(std::function<void()> onGone) override;
  void stopWatching() override;
  bool clientGone() const override { return clientGone_; }

 private:
  net::awaitable<void> run();
  net::awaitable<bool> handle(http::request<http::string_body>& req, RequestCtx& ctx);
  net::awaitable<bool> writeLocal(RequestCtx& ctx, int status, std::string body, std::string_view contentType,
                                  int retryAfterSeconds = 0);
  RouteContext routeContext() const;
  net::awaitable<void> lingeringClose();
  void close();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<RouterState> state_;
  bool idle_ = true;
  bool clientGone_ = false;
  bool watching_ = false;
  uint64_t watchGeneration_ = 0;
  std::function<void()> onGone_;
};

}  // namespace qmesh::router
