#include "router/proxy/http_session.h"

#include <algorithm>
#include "common/logging.h"

#include "router/console/console_api.h"
#include "router/proxy/forwarder.h"
#include "router/proxy/probes.h"
#include "router/proxy/local_pages.h"

namespace qmesh::router {

HttpSession::HttpSession(tcp::socket socket, std::shared_ptr<RouterServices> services)
    : stream_(std::move(socket)),
      services_(std::move(services)),
      context_(services_->context),
      membership_(services_->sessions, *this, SessionRegistry::Kind::Client) {}

HttpSession::~HttpSession() = default;

void HttpSession::start() {
  error_code ignored;
  stream_.socket().set_option(tcp::no_delay(true), ignored);  // see UpstreamClient::connect
  net::co_spawn(stream_.get_executor(), [self = shared_from_this()] { return self->run(); },
                logExceptions("client connection"));
}

void HttpSession::close() {
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void HttpSession::closeIfIdle() {
  if (membership_.idle()) close();
}

void HttpSession::forceClose() {
  watch_.closing();
  close();
}

void HttpSession::watchClient(std::function<void()> onGone) {
  watch_.watch(stream_.socket(), shared_from_this(), std::move(onGone));
}

void HttpSession::stopWatching() {
  error_code ignored;
  if (watch_.stop()) stream_.socket().cancel(ignored);
}

net::awaitable<void> HttpSession::run() {
  const RouterConfig& cfg = context_.config;
  for (bool first = true;; first = false) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(static_cast<std::uint64_t>(cfg.max_body_bytes));
    membership_.setIdle(true);
    // Draining: no next request on a kept-alive connection, but a new one still gets its
    // answer (a probe's, or 503 "draining") rather than a silent close.
    if (services_->sessions.draining() && !first) break;
    stream_.expires_after(cfg.header_timeout);
    error_code ec;
    co_await http::async_read_header(stream_, buffer_, parser, awaitEc(ec));
    membership_.setIdle(false);
    // Beast's stream timeout closes the socket, so a slow client is simply cut off (no
    // 408 can be written any more); a quiet keep-alive connection ends the same way.
    // Beast reports a Content-Length over body_limit already while parsing the header.
    const bool tooLarge = ec == http::error::body_limit;
    if (ec && !tooLarge) {
      if (isMalformedHeader(ec)) co_await refuseHeader(ec);
      break;
    }
    auto& h = parser.get();
    RequestCtx ctx;
    const auto clientId = h["x-request-id"];
    ctx.id = acceptableRequestId(sv(clientId)) ? std::string(clientId) : newRequestId();
    ctx.start = context_.clock.now();
    ctx.method = std::string(h.method_string());
    ctx.path = std::string(pathOf(sv(h.target())));
    ctx.version = h.version();
    ctx.keepAlive = h.keep_alive();
    ctx.route = context_.config.node_name + "/router (local)";  // until a worker is chosen
    context_.metrics.requestStarted();
    if (h.target().size() > kMaxTargetBytes) {
      ctx.keepAlive = false;  // a body may follow unread
      co_await writeError(ctx, 414, "uri_too_long",
                          "the request target is longer than " + std::to_string(kMaxTargetBytes) + " bytes");
      finishRequest(context_, ctx);
      co_await lingeringClose();
      break;
    }
    if (tooLarge ||
        (parser.content_length() && *parser.content_length() > static_cast<std::uint64_t>(cfg.max_body_bytes))) {
      ctx.keepAlive = false;  // the unread body is still on the wire
      co_await writeError(ctx, 413, "request_too_large",
                          "the request body is larger than router.max_body_bytes (" +
                              std::to_string(cfg.max_body_bytes) + " bytes)");
      finishRequest(context_, ctx);
      co_await lingeringClose();
      break;
    }
    // A wrong key, foreign Host, unknown path or wrong method is answered now, before a body
    // (and before "100 Continue"): a stranger cannot make us read megabytes first.
    const RouteContext rc = routeContext();
    const IncomingRequest early{sv(h.method_string()), sv(h.target()), sv(h[http::field::authorization]), {},
                                sv(h[http::field::host]), sv(h[http::field::origin])};
    if (auto refused = refuseBeforeBody(early, rc)) {
      const bool bodyPending = !parser.is_done();
      if (bodyPending) ctx.keepAlive = false;  // the unread body is still on the wire
      const bool keep = co_await writeLocal(ctx, refused->status, std::move(refused->body), "application/json");
      finishRequest(context_, ctx);
      if (bodyPending) co_await lingeringClose();
      if (bodyPending || !keep || watch_.clientGone()) break;
      continue;
    }
    if (beast::iequals(h[http::field::expect], "100-continue")) {
      stream_.expires_after(cfg.body_timeout);
      static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await net::async_write(stream_, net::buffer(cont), awaitEc(ec));
      if (ec) {
        finishRequest(context_, ctx);
        break;
      }
    }
    stream_.expires_after(cfg.body_timeout);
    co_await http::async_read(stream_, buffer_, parser, awaitEc(ec));
    if (ec) {
      ctx.keepAlive = false;
      if (ec == http::error::body_limit)
        co_await writeError(ctx, 413, "request_too_large",
                            "the request body is larger than router.max_body_bytes (" +
                                std::to_string(cfg.max_body_bytes) + " bytes)");
      else
        ctx.status = 408;  // too slow (the stream timeout closed it) or gone: nobody to answer
      finishRequest(context_, ctx);
      if (ec == http::error::body_limit) co_await lingeringClose();
      break;
    }
    context_.metrics.bytesFromClient(parser.get().body().size());
    auto req = parser.release();
    const bool keep = co_await handle(req, ctx);
    finishRequest(context_, ctx);
    if (!keep || !ctx.keepAlive || watch_.clientGone()) break;
  }
  close();
}

bool isMalformedHeader(const error_code& ec) {
  // Not malformed: the client went away (before or in the middle of a header), or our own
  // buffer needs (which async_read_header handles itself).
  static const auto& category = make_error_code(http::error::bad_method).category();
  return ec.category() == category && ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer;
}

// A header Beast refused: over kMaxHeaderBytes, or not HTTP/1.1 as RFC 9112 frames it (e.g.
// Content-Length together with Transfer-Encoding, the request-smuggling shape, or a bare CR).
// The client hears why; then the connection closes, since nothing after that point on it
// can be framed: a "second request" hidden in the first's body is never read as one.
net::awaitable<void> HttpSession::refuseHeader(const error_code& ec) {
  RequestCtx ctx;
  ctx.id = newRequestId();
  ctx.start = context_.clock.now();
  ctx.method = "-";
  ctx.path = "-";
  ctx.keepAlive = false;
  ctx.route = context_.config.node_name + "/router (local)";
  context_.metrics.requestStarted();
  if (ec == http::error::header_limit)
    co_await writeError(ctx, 431, "request_header_too_large",
                        "the request header is larger than " + std::to_string(kMaxHeaderBytes) + " bytes");
  else
    co_await writeError(ctx, 400, "invalid_request", "malformed HTTP request: " + ec.message());
  finishRequest(context_, ctx);
  co_await lingeringClose();
}

// After answering before the body was read (413), the client is still sending: closing at
// once would reset the connection and destroy our answer in its receive buffer. Stop
// sending, swallow what arrives for a moment, then close.
net::awaitable<void> HttpSession::lingeringClose() {
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.expires_after(std::chrono::seconds(2));
  std::array<char, 16384> sink;
  std::size_t total = 0;
  while (!ec && total < (64u << 20)) total += co_await stream_.async_read_some(net::buffer(sink), awaitEc(ec));
}

RouteContext HttpSession::routeContext() const {
  RouteContext rc;
  rc.api_keys = &context_.config.api_keys;
  rc.admin_keys = &context_.config.admin_keys;
  rc.models = context_.directory.models();
  rc.origins = &context_.origins;
  return rc;
}

net::awaitable<bool> HttpSession::handle(http::request<http::string_body>& req, RequestCtx& ctx) {
  const RouteContext rc = routeContext();
  IncomingRequest in{sv(req.method_string()), sv(req.target()), sv(req[http::field::authorization]), req.body(),
                     sv(req[http::field::host]), sv(req[http::field::origin])};
  Decision d = route(in, rc);
  // Before the first supervisor status every model looks unknown: say "not yet", not 404.
  if (!context_.directoryLoaded && (d.action == Action::Forward || d.code == "model_not_found"))
    co_return co_await writeError(ctx, 503, "no_ready_worker",
                                  "the router has not heard from its supervisor yet (" + context_.supervisorError +
                                      "); retry shortly",
                                  1);
  const SessionRegistry& sessions = services_->sessions;
  switch (d.action) {
    case Action::Respond: co_return co_await writeLocal(ctx, d.status, std::move(d.body), "application/json");
    case Action::Health:
      co_return co_await writeLocal(ctx, 200, healthJson(context_, sessions.draining()), "application/json");
    case Action::Models: co_return co_await writeLocal(ctx, 200, modelsJson(context_), "application/json");
    case Action::ApiStatus:
      co_return co_await writeLocal(ctx, 200, apiStatusJson(context_, sessions.draining()), "application/json");
    case Action::ApiMesh:
      co_return co_await writeLocal(ctx, 200, apiMeshJson(context_, services_->mesh, sessions.hopSessions()),
                                    "application/json");
    case Action::Livez:
    case Action::Readyz: {
      auto [status, body] =
          d.action == Action::Livez ? livenessProbe(sessions.draining()) : readinessProbe(context_, sessions.draining());
      co_return co_await writeLocal(ctx, status, std::move(body), "application/json");
    }
    case Action::Metrics:
      co_return co_await writeLocal(ctx, 200, metricsText(context_, services_->mesh), "text/plain; version=0.0.4");
    case Action::Admin: co_return co_await serveAdmin(*this, req, ctx);
    case Action::Forward: {
      if (sessions.draining())
        co_return co_await writeError(ctx, 503, "draining",
                                      "node " + context_.config.node_name +
                                          " is draining (restarting or stopping): send the request to another "
                                          "router of the mesh",
                                      1);
      ctx.model = d.model;
      ctx.affinity = d.affinity;
      Forwarder f(*this, req, ctx, d.stream);
      co_return co_await f.run();
    }
  }
  co_return false;
}

net::awaitable<bool> HttpSession::writeError(RequestCtx& ctx, int status, std::string_view code,
                                             std::string_view message, int retryAfterSeconds) {
  return writeLocal(ctx, status, openaiError(message, errorTypeFor(status), code), "application/json",
                    retryAfterSeconds);
}

net::awaitable<error_code> HttpSession::writeHeader(http::response_serializer<http::empty_body>& sr) {
  error_code ec;
  stream_.expires_after(context_.config.write_timeout);
  co_await http::async_write_header(stream_, sr, awaitEc(ec));
  co_return ec;
}

// Straight to the socket, past tcp_stream's per-operation timeout machinery (see ClientLink).
net::awaitable<error_code> HttpSession::writeBody(const char* data, std::size_t n, bool chunked) {
  stream_.expires_never();
  return writeBodyTo(stream_.socket(), data, n, chunked);
}

net::awaitable<error_code> HttpSession::writeLastChunk() { return writeLastChunkTo(stream_.socket()); }

net::awaitable<bool> HttpSession::writeLocal(RequestCtx& ctx, int status, std::string body,
                                             std::string_view contentType, int retryAfterSeconds) {
  http::response<http::string_body> res{static_cast<http::status>(status), ctx.version};
  res.set(http::field::content_type, bsv(contentType));
  res.set("x-request-id", ctx.id);
  res.set("x-qmesh-route", ctx.route);
  if (retryAfterSeconds > 0) res.set(http::field::retry_after, std::to_string(retryAfterSeconds));
  res.keep_alive(ctx.keepAlive && !services_->sessions.draining());
  res.body() = std::move(body);
  res.prepare_payload();
  ctx.status = status;
  stream_.expires_after(context_.config.write_timeout);
  error_code ec;
  const std::size_t n = co_await http::async_write(stream_, res, awaitEc(ec));
  context_.metrics.bytesToClient(n);
  co_return !ec && res.keep_alive();
}

}  // namespace qmesh::router
