// One client connection: reads requests (header and body each under a deadline, so a slow
// client cannot hold the connection forever), answers local routes, hands model requests
// to the Forwarder, and honours keep-alive. Owned by shared_from_this through its
// coroutine; one request at a time, one write in flight.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "router/net.h"
#include "router/proxy/routes.h"
#include "router/router_state.h"

namespace qmesh::router {

// One request's identity and outcome, for headers, logs and metrics.
struct RequestCtx {
  std::string id;        // the client's x-request-id, or a new one
  TimePoint start;
  std::string method;
  std::string path;
  std::string model;     // set when forwarded
  std::string route;     // x-qmesh-route value
  int status = 0;
  bool keepAlive = true;
  std::string fromPeer;  // set when another router forwarded it here (a mesh hop)
  uint64_t affinity = 0;
  unsigned version = 11;
};

// Request line and header fields together (Node's default is 16 KiB, nginx's 4 x 8 KiB); over
// it: 431. The request target alone may be kMaxTargetBytes (nginx's 8 KiB line); over it:
// 414, so a long query string is not relayed to a worker.
inline constexpr std::size_t kMaxHeaderBytes = 32 * 1024;
inline constexpr std::size_t kMaxTargetBytes = 8 * 1024;

// Whether a header read failed because of what the client sent (answered 400 or 431), not
// because it went away or was too slow.
bool isMalformedHeader(const error_code& ec);

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, std::shared_ptr<RouterState> state);
  ~HttpSession();
  void start();

  // Graceful stop: an idle keep-alive connection closes now, a busy one after its response.
  void closeIfIdle();
  // Grace is over: the client is told nothing more; a forward in progress sees "client gone".
  void forceClose();
  // At the connection cap, to admit a newcomer (only while idle: RouterState::idleSessions):
  // closes now and stops counting against router.max_connections.
  void evict();

  // For the Forwarder.
  beast::tcp_stream& stream() { return stream_; }
  RouterState& state() { return *state_; }
  net::awaitable<bool> writeError(RequestCtx& ctx, int status, std::string_view code, std::string_view message,
                                  int retryAfterSeconds = 0);
  // Notices the client hanging up while we are not reading from it (queued, or waiting
  // for the next event): onGone runs once, at once. stopWatching() before onGone's
  // captures die.
  void watchClient(std::function<void()> onGone);
  void stopWatching();
  bool clientGone() const { return clientGone_; }

 private:
  net::awaitable<void> run();
  net::awaitable<bool> handle(http::request<http::string_body>& req, RequestCtx& ctx);
  net::awaitable<bool> writeLocal(RequestCtx& ctx, int status, std::string body, std::string_view contentType,
                                  int retryAfterSeconds = 0);
  void finish(RequestCtx& ctx);
  // The routing inputs for this connection: a mesh hop skips keys and Host/Origin checks
  // and sees only our own workers.
  RouteContext routeContext(const RequestCtx& ctx) const;
  // The peer router's name when this connection comes through the mesh data-plane bridge.
  std::string meshPeer() const;
  net::awaitable<void> lingeringClose();
  net::awaitable<void> refuseHeader(const error_code& ec);
  void close();
  // Keeps RouterState::idleSessions in step with idle_.
  void setIdle(bool idle);

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<RouterState> state_;
  bool idle_ = false;
  std::list<HttpSession*>::iterator idlePos_;  // valid while idle_
  bool clientGone_ = false;
  bool watching_ = false;
  uint64_t watchGeneration_ = 0;
  std::function<void()> onGone_;
};

// A fresh request id: 16 hex digits.
std::string newRequestId();

}  // namespace qmesh::router
