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
#include "router/proxy/client_watch.h"
#include "router/proxy/routes.h"
#include "router/proxy/session_registry.h"
#include "router/router_services.h"

namespace qmesh::router {

// Request line and header fields together (Node's default is 16 KiB, nginx's 4 x 8 KiB); over
// it: 431. The request target alone may be kMaxTargetBytes (nginx's 8 KiB line); over it:
// 414, so a long query string is not relayed to a worker.
inline constexpr std::size_t kMaxHeaderBytes = 32 * 1024;
inline constexpr std::size_t kMaxTargetBytes = 8 * 1024;

// Whether a header read failed because of what the client sent (answered 400 or 431), not
// because it went away or was too slow.
bool isMalformedHeader(const error_code& ec);

class HttpSession final : public ClientLink, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, std::shared_ptr<RouterServices> services);
  ~HttpSession();
  void start();

  // ClientLink
  void closeIfIdle() override;
  void forceClose() override;
  net::any_io_executor executor() override { return stream_.get_executor(); }
  RouterServices& services() override { return *services_; }
  net::awaitable<bool> writeError(RequestCtx& ctx, int status, std::string_view code, std::string_view message,
                                  int retryAfterSeconds = 0) override;
  net::awaitable<error_code> writeHeader(http::response_serializer<http::empty_body>& sr) override;
  net::awaitable<error_code> writeBody(const char* data, std::size_t n, bool chunked) override;
  net::awaitable<error_code> writeLastChunk() override;
  void watchClient(std::function<void()> onGone) override;
  void stopWatching() override;
  bool clientGone() const override { return watch_.clientGone(); }

 private:
  net::awaitable<void> run();
  net::awaitable<bool> handle(http::request<http::string_body>& req, RequestCtx& ctx);
  net::awaitable<bool> writeLocal(RequestCtx& ctx, int status, std::string body, std::string_view contentType,
                                  int retryAfterSeconds = 0);
  RouteContext routeContext() const;
  net::awaitable<void> lingeringClose();
  net::awaitable<void> refuseHeader(const error_code& ec);
  void close();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<RouterServices> services_;
  RouterContext& context_;
  // Idle while waiting for a request header: evictable at the connection cap.
  SessionRegistry::Membership membership_;
  ClientWatch watch_{ClientWatch::Readable::MayBePipelined};
};

}  // namespace qmesh::router
