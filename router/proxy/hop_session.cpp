#include "router/proxy/hop_session.h"

#include <algorithm>
#include "common/logging.h"

#include "router/proxy/forwarder.h"
#include "router/proxy/hop_load.h"

namespace qmesh::router {

HopSession::HopSession(dataplane::SecureChannel channel, std::string peerName,
                       std::shared_ptr<RouterServices> services)
    : channel_(std::move(channel)),
      peer_(std::move(peerName)),
      services_(std::move(services)),
      context_(services_->context),
      membership_(services_->sessions, *this, SessionRegistry::Kind::Hop),
      deadline_(channel_.get_executor()) {
  membership_.setIdle(true);  // nothing read yet: a graceful stop closes it at once
}

HopSession::~HopSession() = default;

void HopSession::start() {
  net::co_spawn(channel_.get_executor(), [self = shared_from_this()] { return self->run(); },
                logExceptions("mesh hop"));
}

void HopSession::close() {
  deadline_.cancel();
  channel_.close();
}

void HopSession::closeIfIdle() {
  if (membership_.idle()) close();
}

void HopSession::forceClose() {
  watch_.closing();
  close();
}

void HopSession::armDeadline(std::chrono::milliseconds d) {
  deadline_.expires_after(d);
  deadline_.async_wait([this, alive = std::weak_ptr<int>(alive_)](error_code ec) {
    if (!ec && !alive.expired()) channel_.close();  // the pending operation fails: this hop ends
  });
}

void HopSession::disarmDeadline() { deadline_.cancel(); }

// The sender writes nothing while a response is on its way (one request at a time per
// channel), so the channel turning readable means it closed: its client hung up, or it
// died. Either way nobody is left to answer (ClientWatch::Readable::MeansGone).
void HopSession::watchClient(std::function<void()> onGone) {
  watch_.watch(channel_.socket(), shared_from_this(), std::move(onGone));
}

void HopSession::stopWatching() {
  if (watch_.stop()) channel_.cancel();
}

net::awaitable<void> HopSession::run() {
  const RouterConfig& cfg = context_.config;
  for (bool first = true;; first = false) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(32 * 1024);
    parser.body_limit(static_cast<std::uint64_t>(cfg.max_body_bytes));
    membership_.setIdle(true);
    // Draining: no next request on a kept-alive connection, but a new one still gets its
    // answer (a probe's, or 503 "draining") rather than a silent close.
    if (services_->sessions.draining() && !first) break;
    error_code ec;
    armDeadline(cfg.header_timeout);
    co_await http::async_read_header(channel_, buffer_, parser, awaitEc(ec));
    membership_.setIdle(false);
    if (ec && ec != http::error::body_limit) break;  // closed, timed out or garbled: the sender retries
    RequestCtx ctx;
    const auto& h = parser.get();
    const auto id = h["x-request-id"];
    ctx.id = acceptableRequestId(sv(id)) ? std::string(id) : newRequestId();
    ctx.start = context_.clock.now();
    ctx.method = std::string(h.method_string());
    ctx.path = std::string(pathOf(sv(h.target())));
    ctx.version = h.version();
    ctx.keepAlive = h.keep_alive();
    ctx.route = cfg.node_name + "/router (local)";
    ctx.fromPeer = peer_;
    context_.metrics.requestStarted();
    if (!ec) {
      armDeadline(cfg.body_timeout);
      co_await http::async_read(channel_, buffer_, parser, awaitEc(ec));
    }
    disarmDeadline();
    if (ec) {
      // Too large: the sender's own limit is the same, so this is a broken or hostile
      // peer; answer and close (the unread body is still on the wire).
      ctx.keepAlive = false;
      if (ec == http::error::body_limit)
        co_await writeError(ctx, 413, "request_too_large",
                            "the request body is larger than router.max_body_bytes (" +
                                std::to_string(cfg.max_body_bytes) + " bytes)");
      else
        ctx.status = 408;
      finishRequest(context_, ctx);
      break;
    }
    context_.metrics.bytesFromClient(parser.get().body().size());
    auto req = parser.release();
    const bool keep = co_await serve(req, ctx);
    finishRequest(context_, ctx);
    if (!keep || !ctx.keepAlive || watch_.clientGone()) break;
  }
  close();
}

RouteContext HopSession::routeContext() const {
  static const std::vector<std::string> noKeys;
  RouteContext rc;
  rc.api_keys = &noKeys;
  rc.origins = nullptr;
  for (const auto& w : context_.directory.all())
    if (!w->info.remote) rc.models.push_back(w->info.model);
  std::sort(rc.models.begin(), rc.models.end());
  rc.models.erase(std::unique(rc.models.begin(), rc.models.end()), rc.models.end());
  return rc;
}

net::awaitable<bool> HopSession::serve(http::request<http::string_body>& req, RequestCtx& ctx) {
  if (req[kHopCountHeader] != "1")
    co_return co_await writeError(ctx, 508, "loop_detected",
                                  std::string("a mesh hop must carry ") + kHopCountHeader +
                                      ": 1; this request has been forwarded more than once (or says it has), and a "
                                      "forwarded request is never forwarded again");
  if (ctx.path.starts_with(kLoadPathPrefix)) {  // another router asks this node to load a model
    const HopLoadAnswer a = co_await loadForPeer(*this, req.method(), ctx);
    if (a.status != 200) co_return co_await writeError(ctx, a.status, a.code, a.message, a.retryAfterSeconds);
    http::response<http::string_body> res{http::status::ok, ctx.version};
    res.set(http::field::content_type, "application/json");
    res.body() = a.message;
    co_return co_await writeResponse(ctx, res);
  }
  const IncomingRequest in{sv(req.method_string()), sv(req.target()), {}, req.body(), {}, {}};
  Decision d = route(in, routeContext());
  if (!context_.directoryLoaded && (d.action == Action::Forward || d.code == "model_not_found"))
    co_return co_await writeError(ctx, 503, "no_ready_worker",
                                  "the router has not heard from its supervisor yet; retry shortly", 1);
  // 503: the sender tries another worker (its gossip will soon say we drain).
  if (d.action == Action::Forward && services_->sessions.draining())
    co_return co_await writeError(ctx, 503, "draining",
                                  "node " + context_.config.node_name + " is draining and takes no new request", 1);
  if (d.action == Action::Forward) {
    ctx.model = d.model;
    ctx.affinity = d.affinity;
    Forwarder f(*this, req, ctx, d.stream);
    co_return co_await f.run();
  }
  // 503, not 404: the sender's directory was stale, and it tries another worker on a 5xx.
  if (d.code == "model_not_found")
    co_return co_await writeError(ctx, 503, "no_local_worker",
                                  "node " + context_.config.node_name +
                                      " has no worker of its own for this model, and a forwarded request is served "
                                      "only by the receiving node's workers (never forwarded again)",
                                  1);
  if (d.action != Action::Respond)
    co_return co_await writeError(ctx, 404, "not_found", "only model requests are served on a mesh hop");
  http::response<http::string_body> res{static_cast<http::status>(d.status), ctx.version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(d.body);
  co_return co_await writeResponse(ctx, res);
}

net::awaitable<bool> HopSession::writeError(RequestCtx& ctx, int status, std::string_view code,
                                            std::string_view message, int retryAfterSeconds) {
  http::response<http::string_body> res{static_cast<http::status>(status), ctx.version};
  res.set(http::field::content_type, "application/json");
  if (retryAfterSeconds > 0) res.set(http::field::retry_after, std::to_string(retryAfterSeconds));
  res.body() = openaiError(message, errorTypeFor(status), code);
  co_return co_await writeResponse(ctx, res);
}

net::awaitable<bool> HopSession::writeResponse(RequestCtx& ctx, http::response<http::string_body>& res) {
  res.set("x-request-id", ctx.id);
  res.set("x-qmesh-route", ctx.route);
  res.keep_alive(ctx.keepAlive && !services_->sessions.draining());
  res.prepare_payload();
  ctx.status = res.result_int();
  error_code ec;
  armDeadline(context_.config.write_timeout);
  const std::size_t n = co_await http::async_write(channel_, res, awaitEc(ec));
  disarmDeadline();
  context_.metrics.bytesToClient(n);
  co_return !ec && res.keep_alive();
}

net::awaitable<error_code> HopSession::writeHeader(http::response_serializer<http::empty_body>& sr) {
  error_code ec;
  armDeadline(context_.config.write_timeout);
  co_await http::async_write_header(channel_, sr, awaitEc(ec));
  disarmDeadline();
  co_return ec;
}

net::awaitable<error_code> HopSession::writeBody(const char* data, std::size_t n, bool chunked) {
  return writeBodyTo(channel_, data, n, chunked);
}

net::awaitable<error_code> HopSession::writeLastChunk() { return writeLastChunkTo(channel_); }

}  // namespace qmesh::router
