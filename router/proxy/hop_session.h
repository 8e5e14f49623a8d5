// A mesh hop: requests another router forwards to this one, served on the authenticated
// data-plane channel itself (no loopback connection, no second HTTP listener pass).
//
//   peer router ──SecureChannel (handshake proved `peer`)──▶ HopSession ──▶ Forwarder ──▶ local worker
//
// What the hop's facts rest on:
//   - who sent it: the channel's authenticated peer id (its member name for logs), never a
//     header or an address. A plain HTTP connection that carries hop headers is an ordinary
//     client: it needs the API key like any other.
//   - why no API key: the forwarding router checked its client's key; the handshake proved
//     the forwarder is a member.
//   - a load request (POST /qmesh/load/NAME, issue 10 part 3; proxy/hop_load.h) is a hop
//     too: the sender found the model loaded nowhere and chose this node to load it.
//   - why it cannot loop: a hop is served only by this node's own workers, never forwarded
//     again, and it must say it is the first hop (kHopCountHeader = 1). A request for a
//     model this node has no worker of its own for (the sender's directory was stale) gets
//     a 503, which the sender retries elsewhere; any other hop count is refused with 508.
//
// HTTP/1.1 keep-alive as on a client connection: the sender pools the channel
// (ChannelPool) and sends the next request on it after the response is complete. Reads have
// the same deadlines as an HttpSession (router.header_timeout between requests, body_timeout
// for a body); when the sender closes the channel mid-response (its client hung up), the
// Forwarder closes the worker connection at once so the slot frees. A member of the
// SessionRegistry, so a graceful stop drains hops like client connections.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "router/dataplane/secure_channel.h"
#include "router/net.h"
#include "router/proxy/client_link.h"
#include "router/proxy/client_watch.h"
#include "router/proxy/routes.h"
#include "router/proxy/session_registry.h"
#include "router/router_services.h"

namespace qmesh::router {

// "1" on every hop: the sending router forwards only its own clients' requests.
inline constexpr const char* kHopCountHeader = "x-qmesh-hops";

class HopSession final : public ClientLink, public std::enable_shared_from_this<HopSession> {
 public:
  // `peerName`: the member name of the channel's authenticated peer.
  HopSession(dataplane::SecureChannel channel, std::string peerName, std::shared_ptr<RouterServices> services);
  ~HopSession() override;
  void start();

  // ClientLink
  net::any_io_executor executor() override { return channel_.get_executor(); }
  RouterServices& services() override { return *services_; }
  net::awaitable<bool> writeError(RequestCtx& ctx, int status, std::string_view code, std::string_view message,
                                  int retryAfterSeconds = 0) override;
  net::awaitable<error_code> writeHeader(http::response_serializer<http::empty_body>& sr) override;
  net::awaitable<error_code> writeBody(const char* data, std::size_t n, bool chunked) override;
  net::awaitable<error_code> writeLastChunk() override;
  void watchClient(std::function<void()> onGone) override;
  void stopWatching() override;
  bool clientGone() const override { return watch_.clientGone(); }
  void closeIfIdle() override;
  void forceClose() override;

 private:
  net::awaitable<void> run();
  net::awaitable<bool> serve(http::request<http::string_body>& req, RequestCtx& ctx);
  // Only our own workers: a hop is never forwarded again.
  RouteContext routeContext() const;
  net::awaitable<bool> writeResponse(RequestCtx& ctx, http::response<http::string_body>& res);
  // Closes the channel after `d` unless disarmed: the channel has no timeouts of its own.
  void armDeadline(std::chrono::milliseconds d);
  void disarmDeadline();
  void close();

  dataplane::SecureChannel channel_;
  std::string peer_;
  std::shared_ptr<RouterServices> services_;
  RouterContext& context_;
  SessionRegistry::Membership membership_;  // idle between requests
  beast::flat_buffer buffer_;
  net::steady_timer deadline_;
  ClientWatch watch_{ClientWatch::Readable::MeansGone};
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards late timer handlers
};

}  // namespace qmesh::router
