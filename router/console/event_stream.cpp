#include "router/console/event_stream.h"

#include <spdlog/spdlog.h>

#include "router/router_services.h"

namespace qmesh::router {

namespace {

// What the stream's coroutine and the callbacks (bus wake, client gone, watchdog) share.
struct StreamWait {
  explicit StreamWait(net::any_io_executor ex) : wake(ex, TimePoint::max()), watchdog(ex) {}
  net::steady_timer wake;
  net::steady_timer watchdog;
  bool clientGone = false;
};

net::awaitable<error_code> writeChunk(ClientLink& link, StreamWait& w, RouterContext& st, const std::string& text) {
  // A reader whose socket takes nothing for write_timeout is gone (or hostile): cut it, so
  // it cannot hold one of the bus's subscriber places forever.
  w.watchdog.expires_after(st.config.write_timeout);
  w.watchdog.async_wait([&link, &st](error_code ec) {
    if (ec) return;
    ++st.console.slowEventReadersCut;
    link.forceClose();
  });
  const error_code ec = co_await link.writeBody(text.data(), text.size(), true);
  w.watchdog.cancel();
  if (!ec) st.metrics.bytesToClient(text.size());
  co_return ec;
}

}  // namespace

net::awaitable<bool> serveEventStream(ClientLink& link, RequestCtx& ctx, std::optional<uint64_t> lastEventId) {
  RouterContext& st = link.services().context;
  EventBus& bus = st.console.events;
  auto w = std::make_shared<StreamWait>(link.executor());
  std::weak_ptr<StreamWait> weak = w;
  EventBus::SubscriberPtr sub;
  sub = bus.subscribe(lastEventId, [weak, &link, &sub] {
    auto p = weak.lock();
    if (!p) return;
    p->wake.cancel();
    // Cut off for falling behind: its write is stuck, so close the socket under it.
    if (sub && sub->overflowed()) link.forceClose();
  });
  if (!sub)
    co_return co_await link.writeError(ctx, 503, "too_many_event_streams",
                                       "too many /api/events streams are open on this router; close one", 5);
  // However this coroutine ends (even destroyed unfinished with the io_context), the bus
  // forgets the subscriber and its callback, which refers to this frame.
  struct Unsubscribe {
    EventBus& bus;
    EventBus::SubscriberPtr& sub;
    ~Unsubscribe() { bus.unsubscribe(sub); }
  } unsubscribe{bus, sub};
  http::response<http::empty_body> res{http::status::ok, ctx.version};
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Accel-Buffering", "no");
  res.set("x-request-id", ctx.id);
  res.set("x-qmesh-route", ctx.route);
  res.chunked(true);
  res.keep_alive(false);
  ctx.status = 200;
  ctx.keepAlive = false;
  http::response_serializer<http::empty_body> sr{res};
  error_code ec = co_await link.writeHeader(sr);
  link.watchClient([weak] {
    if (auto p = weak.lock()) {
      p->clientGone = true;
      p->wake.cancel();
    }
  });
  // Browsers' EventSource retries after `retry` ms; the first comment flushes the header.
  if (!ec) ec = co_await writeChunk(link, *w, st, "retry: 1000\n: qmesh events of " + st.config.node_name + "\n\n");
  while (!ec && !w->clientGone && !sub->closed() && !link.services().sessions.draining()) {
    if (!sub->pending()) {
      w->wake.expires_after(st.config.keepalive_interval);
      error_code waited;
      co_await w->wake.async_wait(awaitEc(waited));
      // Not woken (no event, no hang-up) for keepalive_interval: say we are still here.
      if (!waited && !sub->pending() && !sub->closed()) ec = co_await writeChunk(link, *w, st, ": keepalive\n\n");
      continue;
    }
    const std::deque<EventPtr> events = sub->take();
    std::string text;
    for (const auto& e : events) text += sseFrame(*e);
    ec = co_await writeChunk(link, *w, st, text);
  }
  if (sub->overflowed()) spdlog::warn("req={} /api/events reader fell too far behind: disconnected", ctx.id);
  link.stopWatching();
  if (!ec && !w->clientGone) (void)co_await link.writeLastChunk();
  co_return false;
}

}  // namespace qmesh::router
