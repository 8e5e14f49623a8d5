// What happens on this node and in its mesh, as numbered events for GET /api/events (the
// console, scripts, other tools): members joining or dying, worker state changes, requests
// started and finished, key reloads, console actions.
//
// No I/O and no clock of its own: publish() numbers an event, keeps it in a bounded history
// and appends it to every subscriber's queue; the SSE stream (event_stream.h) drains a queue
// and is woken through the subscriber's callback. Single-threaded (the router's io_context).
//
// An event's JSON is written only when a reader needs it: when it is published while a
// stream is open, or replayed to a stream that opens later. Every forwarded request
// publishes two events, and building and dumping their JSON for a history nobody reads was a
// third of the router's instructions per request (bench/RESULTS.md, "Router cost").
//
// Memory is bounded whatever the readers do: the history keeps the last `historySize`
// events, and a subscriber whose queue holds more than `maxQueued` unsent events (a reader
// slower than the mesh) is cut off and counted, never buffered without end.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace qmesh::router {

struct Event {
  uint64_t id = 0;  // 0: not part of the numbered history (replay_gap)
  std::string type;
  std::string data;  // one line of JSON: {"type":..,"id":..,"time":..,...}; set before a reader sees it
  int64_t time = 0;  // ms since the epoch, when published
  std::function<nlohmann::json()> pending;  // makes `data`'s fields; empty once rendered
};
using EventPtr = std::shared_ptr<const Event>;

// The SSE text of one event: "id: N\nevent: TYPE\ndata: JSON\n\n".
std::string sseFrame(const Event& e);

struct EventBusLimits {
  // ~1,000 events cover minutes of a busy node (two per request plus membership), enough
  // for a console that lost its connection for a few seconds to replay what it missed.
  std::size_t historySize = 1000;
  // A reader this far behind is not reading: with ~200 B per event, 512 of them is 100 KB
  // per connection at most.
  std::size_t maxQueued = 512;
  // Event streams open at once (each is a connection held open).
  std::size_t maxSubscribers = 64;
};

class EventBus {
 public:
  class Subscriber {
   public:
    // Takes the queued events (oldest first).
    std::deque<EventPtr> take();
    bool pending() const { return !queue_.empty(); }
    bool overflowed() const { return overflowed_; }
    bool closed() const { return closed_; }

   private:
    friend class EventBus;
    std::deque<EventPtr> queue_;
    std::function<void()> wake_;
    bool overflowed_ = false;
    bool closed_ = false;
  };
  using SubscriberPtr = std::shared_ptr<Subscriber>;

  struct Counters {
    uint64_t published = 0;
    uint64_t slowSubscribersDropped = 0;  // cut off: queue over maxQueued
    uint64_t subscribersRefused = 0;      // over maxSubscribers
    uint64_t replayGaps = 0;              // a Last-Event-ID older than the history
  };

  explicit EventBus(EventBusLimits limits = {}, std::function<int64_t()> unixMillis = nullptr);

  // `data` gets "type", "id" and "time" (ms since the epoch) added. Text from outside in it
  // is dumped with error_handler_t::replace.
  uint64_t publish(std::string_view type, nlohmann::json data = nlohmann::json::object());
  // The same, with the fields made only if a reader ever needs them. `fields` must own what
  // it reads (it may run after the publisher is gone), and is run at most once.
  uint64_t publishLazy(std::string_view type, std::function<nlohmann::json()> fields);

  // A new subscriber whose queue starts with what it missed: every kept event after
  // `lastEventId` (nullopt: none). When `lastEventId` is older than the history (or from
  // another run of the router: higher than any id given), the replay starts with a
  // "replay_gap" event so the reader knows to fetch a fresh snapshot. `wake` runs (on the
  // publisher's stack) whenever events are appended or the subscriber is cut off.
  // Null when maxSubscribers are open.
  SubscriberPtr subscribe(std::optional<uint64_t> lastEventId, std::function<void()> wake);
  void unsubscribe(const SubscriberPtr& s);
  // Ends every stream (router shutdown): each is woken and sees closed().
  void closeAll();

  uint64_t lastId() const { return nextId_ - 1; }
  std::size_t historySize() const { return history_.size(); }
  std::size_t subscribers() const { return subscribers_.size(); }
  const Counters& counters() const { return counters_; }

 private:
  std::shared_ptr<Event> make(std::string_view type, std::function<nlohmann::json()> fields, bool numbered = true);
  // Writes `data` from `pending` (once).
  static EventPtr rendered(const std::shared_ptr<Event>& e);

  EventBusLimits limits_;
  std::function<int64_t()> unixMillis_;
  uint64_t nextId_ = 1;
  std::deque<std::shared_ptr<Event>> history_;
  std::list<SubscriberPtr> subscribers_;
  Counters counters_;
};

// Parses a Last-Event-ID header: a decimal id; nullopt when absent or not a number.
std::optional<uint64_t> parseLastEventId(std::string_view header);

}  // namespace qmesh::router
