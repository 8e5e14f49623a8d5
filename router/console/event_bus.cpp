#include "router/console/event_bus.h"

#include <algorithm>
#include <charconv>
#include <chrono>

namespace qmesh::router {

using nlohmann::json;

namespace {

int64_t systemUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string sseFrame(const Event& e) {
  // data is one line (dump() without indent escapes every newline), so one data: field.
  // Id 0 (a replay_gap) carries no id: field, so the reader's Last-Event-ID stays put.
  const std::string id = e.id ? "id: " + std::to_string(e.id) + "\n" : "";
  return id + "event: " + e.type + "\ndata: " + e.data + "\n\n";
}

std::deque<EventPtr> EventBus::Subscriber::take() {
  std::deque<EventPtr> out;
  out.swap(queue_);
  return out;
}

EventBus::EventBus(EventBusLimits limits, std::function<int64_t()> unixMillis)
    : limits_(limits), unixMillis_(unixMillis ? std::move(unixMillis) : systemUnixMillis) {
  // Ids continue across restarts of the router: the first is the start time in ms x 1000
  // (a restart is more than 1 ms apart, and fewer than 1000 events a ms), so a reader's
  // Last-Event-ID from an earlier run is always older than this run's history: a replay gap,
  // never a replay of somebody else's events. Below 2^53: JavaScript reads it exactly.
  nextId_ = static_cast<uint64_t>(std::max<int64_t>(unixMillis_(), 0)) * 1000 + 1;
}

std::shared_ptr<Event> EventBus::make(std::string_view type, std::function<json()> fields, bool numbered) {
  auto e = std::make_shared<Event>();
  e->id = numbered ? nextId_++ : 0;
  e->type = std::string(type);
  e->time = unixMillis_();
  e->pending = std::move(fields);
  return e;
}

EventPtr EventBus::rendered(const std::shared_ptr<Event>& e) {
  if (e->pending) {
    json data = e->pending();
    e->pending = nullptr;
    if (!data.is_object()) data = json{{"value", std::move(data)}};
    data["type"] = e->type;
    data["id"] = e->id;
    data["time"] = e->time;
    // Names and messages in events come from gossip, the supervisor and clients.
    e->data = data.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return e;
}

uint64_t EventBus::publish(std::string_view type, json data) {
  return publishLazy(type, [data = std::move(data)]() mutable { return std::move(data); });
}

uint64_t EventBus::publishLazy(std::string_view type, std::function<json()> fields) {
  std::shared_ptr<Event> e = make(type, std::move(fields));
  ++counters_.published;
  history_.push_back(e);
  while (history_.size() > limits_.historySize) history_.pop_front();
  // Copy: a wake may unsubscribe.
  const std::vector<SubscriberPtr> subs(subscribers_.begin(), subscribers_.end());
  for (const auto& s : subs) {
    if (s->closed_) continue;
    if (s->queue_.size() >= limits_.maxQueued) {
      // Dropping events silently would leave the reader with a wrong picture; cutting it off
      // makes it reconnect with Last-Event-ID and replay (or learn of the gap).
      s->overflowed_ = true;
      s->closed_ = true;
      s->queue_.clear();
      ++counters_.slowSubscribersDropped;
    } else {
      s->queue_.push_back(rendered(e));
    }
    if (s->wake_) s->wake_();
  }
  return e->id;
}

EventBus::SubscriberPtr EventBus::subscribe(std::optional<uint64_t> lastEventId, std::function<void()> wake) {
  if (subscribers_.size() >= limits_.maxSubscribers) {
    ++counters_.subscribersRefused;
    return nullptr;
  }
  auto s = std::make_shared<Subscriber>();
  s->wake_ = std::move(wake);
  if (lastEventId) {
    const uint64_t oldest = history_.empty() ? nextId_ : history_.front()->id;
    // Nothing lost when the next event the reader needs is the oldest kept (or not yet made).
    const bool gap = *lastEventId + 1 < oldest || *lastEventId >= nextId_;
    if (gap) {
      ++counters_.replayGaps;
      const json fields = {{"last_event_id", *lastEventId}, {"oldest_kept", history_.empty() ? 0 : oldest}};
      s->queue_.push_back(rendered(make("replay_gap", [fields] { return fields; }, false)));
    }
    // The replay itself may be longer than a live queue may grow: keep its newest part.
    std::size_t missed = 0;
    for (const auto& e : history_) missed += gap || e->id > *lastEventId ? 1 : 0;
    const std::size_t room = limits_.maxQueued - std::min(s->queue_.size(), limits_.maxQueued);
    for (auto it = history_.end() - static_cast<std::ptrdiff_t>(std::min(missed, room)); it != history_.end(); ++it)
      s->queue_.push_back(rendered(*it));
    while (s->queue_.size() > limits_.maxQueued) s->queue_.pop_front();
  }
  subscribers_.push_back(s);
  return s;
}

void EventBus::unsubscribe(const SubscriberPtr& s) {
  if (!s) return;
  s->closed_ = true;
  s->wake_ = nullptr;
  subscribers_.remove(s);
}

void EventBus::closeAll() {
  const std::vector<SubscriberPtr> subs(subscribers_.begin(), subscribers_.end());
  for (const auto& s : subs) {
    s->closed_ = true;
    if (s->wake_) s->wake_();
  }
}

std::optional<uint64_t> parseLastEventId(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  if (header.empty() || header.size() > 20) return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), v);
  if (ec != std::errc() || end != header.data() + header.size()) return std::nullopt;
  return v;
}

}  // namespace qmesh::router
