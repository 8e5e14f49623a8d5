#include "router/console/console_api.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "common/names.h"
#include "router/console/console_assets.h"
#include "router/console/event_bus.h"
#include "router/console/event_stream.h"
#include "router/console/host_info.h"
#include "router/console/supervisor_call.h"
#include "router/proxy/local_pages.h"
#include "router/proxy/routes.h"
#include "router/router_services.h"

namespace qmesh::router {

using nlohmann::json;

namespace {

std::string dumpText(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// `body` by value: callers return this awaitable without co_await, so a reference would
// dangle once their temporaries die.
net::awaitable<bool> reply(ClientLink& link, RequestCtx& ctx, int status, std::string_view type, std::string body,
                           bool head = false) {
  RouterContext& st = link.services().context;
  http::response<http::empty_body> res{static_cast<http::status>(status), ctx.version};
  res.set(http::field::content_type, bsv(type));
  res.set("x-request-id", ctx.id);
  res.set("x-qmesh-route", ctx.route);
  // Admin answers (invite tokens among them) are never cached; the page cannot be framed
  // by another site, loads nothing from elsewhere, and its types are what they say.
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy",
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
  res.content_length(body.size());
  const bool keep = ctx.keepAlive && !link.services().sessions.draining();
  res.keep_alive(keep);
  ctx.status = status;
  http::response_serializer<http::empty_body> sr{res};
  error_code ec = co_await link.writeHeader(sr);
  if (!ec && !head && !body.empty()) ec = co_await link.writeBody(body.data(), body.size(), false);
  if (!ec) st.metrics.bytesToClient(body.size());
  co_return !ec && keep;
}

net::awaitable<bool> replyJson(ClientLink& link, RequestCtx& ctx, int status, const json& j) {
  return reply(link, ctx, status, "application/json", dumpText(j));
}

// `message` is used before the first suspension (openaiError copies it).
net::awaitable<bool> replyError(ClientLink& link, RequestCtx& ctx, int status, std::string_view code,
                                std::string_view message) {
  return reply(link, ctx, status, "application/json", openaiError(message, errorTypeFor(status), code));
}

// "/api/workers/NAME/ACTION" -> NAME when ACTION matches; "" otherwise.
std::string segmentBetween(std::string_view path, std::string_view prefix, std::string_view suffix) {
  if (path.size() <= prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix ||
      path.substr(path.size() - suffix.size()) != suffix)
    return "";
  return std::string(path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
}

std::string readControlToken(const RouterContext& st) {
  std::ifstream in(st.config.control_token_file);
  std::string token;
  in >> token;
  return token;
}

json eventsJson(const RouterContext& st) {
  const EventBus& bus = st.console.events;
  const auto& c = bus.counters();
  return {{"published", c.published},
          {"last_id", bus.lastId()},
          {"subscribers", bus.subscribers()},
          {"slow_readers_dropped", c.slowSubscribersDropped + st.console.slowEventReadersCut},
          {"cut_by_queue", c.slowSubscribersDropped},
          {"cut_by_write_timeout", st.console.slowEventReadersCut},
          {"subscribers_refused", c.subscribersRefused},
          {"replay_gaps", c.replayGaps}};
}

json snapshot(const RouterServices& sv) {
  const RouterContext& st = sv.context;
  const TimePoint now = st.clock.now();
  return {{"node", st.config.node_name},
          {"version", QMESH_VERSION},
          {"host", hostInfoJson()},
          {"last_event_id", st.console.events.lastId()},
          {"status", json::parse(apiStatusJson(st, sv.sessions.draining()), nullptr, false)},
          {"mesh", json::parse(apiMeshJson(st, sv.mesh, sv.sessions.hopSessions()), nullptr, false)},
          {"requests", st.console.live.list(now)},
          {"errors", st.console.errors.list()},
          {"events", eventsJson(st)},
          {"actions",
           {{"restart", st.config.control.has_value()},
            {"logs", st.config.control.has_value()},
            {"invite", static_cast<bool>(st.config.make_invite)},
            {"load_unload", st.config.control.has_value()}}}};
}

// The supervisor's /children/NAME/ACTION for the console: "log" (GET), or "restart", "load",
// "unload" (POST, with the control token). Its answer (202, or 404/409 with the reason, e.g.
// a load over node.memory_budget) is passed on as it is, for the page to show.
// `action` is a literal (string_view: nothing for a coroutine frame to destroy).
net::awaitable<bool> supervisorAction(ClientLink& link, RequestCtx& ctx, const std::string& name,
                                      std::string_view action) {
  RouterContext& st = link.services().context;
  if (!isValidName(name)) co_return co_await replyError(link, ctx, 400, "invalid_worker", "not a worker or model name");
  if (!st.config.control)
    co_return co_await replyError(link, ctx, 409, "no_supervisor",
                                  "this router runs without a supervisor (static mode): no worker to restart, load, "
                                  "unload or read");
  const bool post = action != "log";
  const std::string target = "/children/" + name + "/" + std::string(action);
  // Named, not a temporary of a ?: inside the co_await: GCC 12 destroys such a temporary
  // twice (a double free ASan caught in the browser test).
  const std::string token = post ? readControlToken(st) : std::string();
  const http::verb method = post ? http::verb::post : http::verb::get;
  const SupervisorReply r = co_await callSupervisor(link.executor(), *st.config.control, method, target, token);
  if (r.status == 0) co_return co_await replyError(link, ctx, 502, "supervisor_unreachable", r.body);
  if (post && r.status < 300) {
    spdlog::info("req={} console: {} of {} requested", ctx.id, action, name);
    if (action == "restart") st.console.events.publish("worker_restart_requested", {{"worker", name}});
    else st.console.events.publish(action == "load" ? "model_load_requested" : "model_unload_requested",
                                   {{"model", name}});
  }
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) body = json{{"error", {{"message", r.body}}}};
  co_return co_await replyJson(link, ctx, r.status, body);
}

}  // namespace

net::awaitable<bool> serveAdmin(ClientLink& link, const http::request<http::string_body>& req, RequestCtx& ctx) {
  RouterContext& st = link.services().context;
  const std::string_view path = pathOf(sv(req.target()));
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool head = req.method() == http::verb::head;
  if (path.substr(0, 8) == "/console") {
    const ConsoleAsset* a = findConsoleAsset(path);
    if (!a) co_return co_await replyError(link, ctx, 404, "unknown_url", "no such console file");
    co_return co_await reply(link, ctx, 200, a->contentType, std::string(a->body), head);
  }
  if (get && path == "/api/events")
    co_return co_await serveEventStream(link, ctx, parseLastEventId(sv(req["Last-Event-ID"])));
  if (get && path == "/api/console") co_return co_await replyJson(link, ctx, 200, snapshot(link.services()));
  if (get && path == "/api/requests")
    co_return co_await replyJson(link, ctx, 200, st.console.live.list(st.clock.now()));
  if (get && path == "/api/errors") co_return co_await replyJson(link, ctx, 200, st.console.errors.list());
  if (get)
    if (const std::string w = segmentBetween(path, "/api/workers/", "/log"); !w.empty())
      co_return co_await supervisorAction(link, ctx, w, "log");
  if (!get) {
    if (const std::string w = segmentBetween(path, "/api/workers/", "/restart"); !w.empty())
      co_return co_await supervisorAction(link, ctx, w, "restart");
    if (const std::string m = segmentBetween(path, "/api/models/", "/load"); !m.empty())
      co_return co_await supervisorAction(link, ctx, m, "load");
    if (const std::string m = segmentBetween(path, "/api/models/", "/unload"); !m.empty())
      co_return co_await supervisorAction(link, ctx, m, "unload");
    if (const std::string id = segmentBetween(path, "/api/requests/", "/cancel"); !id.empty()) {
      if (!st.console.live.cancel(id))
        co_return co_await replyError(link, ctx, 404, "request_not_found", "no request with this id is in flight here");
      spdlog::info("req={} console: cancelled request {}", ctx.id, id);
      st.console.events.publish("request_cancelled", {{"request_id", id}});
      // Built before the co_await: GCC 12 miscompiles a braced json list inside one.
      const json answer = {{"cancelled", id}};
      co_return co_await replyJson(link, ctx, 200, answer);
    }
    if (path == "/api/invites") {
      if (!st.config.make_invite)
        co_return co_await replyError(link, ctx, 409, "mesh_disabled",
                                      "this node has no mesh (mesh.gossip has no port) or runs in static mode");
      auto token = st.config.make_invite();
      if (!token) co_return co_await replyError(link, ctx, 409, "invite_failed", token.error().message);
      // The token is a secret: the event and the log say that one was made, never what.
      spdlog::info("req={} console: invite token created", ctx.id);
      st.console.events.publish("invite_created", json::object());
      const json answer = {{"token", *token}};
      co_return co_await replyJson(link, ctx, 200, answer);
    }
  }
  co_return co_await replyError(link, ctx, 404, "unknown_url",
                                "unknown URL: " + std::string(req.method_string()) + " " + std::string(path));
}

}  // namespace qmesh::router
