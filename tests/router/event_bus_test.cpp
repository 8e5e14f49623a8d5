// The event bus behind GET /api/events: numbering, the bounded history, replay after a
// Last-Event-ID (and the gap when it is too old), and a slow subscriber cut off instead of
// buffered without end.
#include <gtest/gtest.h>

#include "router/console/event_bus.h"

using namespace qmesh::router;
using nlohmann::json;

namespace {

std::function<int64_t()> fixedClock(int64_t ms = 1'700'000'000'000) {
  return [ms] { return ms; };
}

std::vector<uint64_t> idsOf(const std::deque<EventPtr>& events) {
  std::vector<uint64_t> ids;
  for (const auto& e : events) ids.push_back(e->id);
  return ids;
}

}  // namespace

TEST(EventBusTest, NumbersEventsFromTheStartTimeSoAnotherRunsIdsNeverReplay) {
  EventBus bus({}, fixedClock(1000));
  EXPECT_EQ(bus.publish("a"), 1000u * 1000 + 1);
  EXPECT_EQ(bus.publish("b"), 1000u * 1000 + 2);
  EventBus later({}, fixedClock(2000));
  EXPECT_GT(later.publish("a"), bus.lastId());
}

TEST(EventBusTest, EventDataCarriesTypeIdAndTimeAsOneLineOfJson) {
  EventBus bus({}, fixedClock(42));
  auto sub = bus.subscribe(std::nullopt, nullptr);
  bus.publish("member_state", {{"node", "b\nc"}, {"state", "dead"}});
  auto events = sub->take();
  ASSERT_EQ(events.size(), 1u);
  const json j = json::parse(events[0]->data);
  EXPECT_EQ(j["type"], "member_state");
  EXPECT_EQ(j["id"], events[0]->id);
  EXPECT_EQ(j["time"], 42);
  EXPECT_EQ(j["node"], "b\nc");
  EXPECT_EQ(events[0]->data.find('\n'), std::string::npos);
  EXPECT_EQ(sseFrame(*events[0]), "id: " + std::to_string(events[0]->id) + "\nevent: member_state\ndata: " +
                                      events[0]->data + "\n\n");
}

TEST(EventBusTest, InvalidUtf8FromOutsideBecomesReplacementCharacters) {
  EventBus bus({}, fixedClock());
  auto sub = bus.subscribe(std::nullopt, nullptr);
  bus.publish("request_finished", {{"model", std::string("m\xff")}});
  const json j = json::parse(sub->take()[0]->data);
  EXPECT_EQ(j["model"], "m\xEF\xBF\xBD");
}

TEST(EventBusTest, HistoryKeepsOnlyTheLastHistorySizeEvents) {
  EventBus bus({.historySize = 3}, fixedClock());
  for (int i = 0; i < 10; ++i) bus.publish("x");
  EXPECT_EQ(bus.historySize(), 3u);
}

TEST(EventBusTest, ReplaysEveryKeptEventAfterTheLastEventId) {
  EventBus bus({.historySize = 10}, fixedClock());
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(bus.publish("x"));
  auto sub = bus.subscribe(ids[1], nullptr);
  EXPECT_EQ(idsOf(sub->take()), (std::vector<uint64_t>{ids[2], ids[3], ids[4]}));
  auto upToDate = bus.subscribe(ids[4], nullptr);
  EXPECT_FALSE(upToDate->pending());
  EXPECT_EQ(bus.counters().replayGaps, 0u);
}

TEST(EventBusTest, LastEventIdOlderThanTheHistoryGetsAReplayGapThenEverythingKept) {
  EventBus bus({.historySize = 3}, fixedClock());
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(bus.publish("x"));
  auto sub = bus.subscribe(ids[1], nullptr);  // ids[2] is gone: lost
  auto events = sub->take();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]->type, "replay_gap");
  EXPECT_EQ(events[0]->id, 0u);  // no id: field, so the reader's Last-Event-ID stays put
  EXPECT_EQ(sseFrame(*events[0]).rfind("event: replay_gap\n", 0), 0u);
  EXPECT_EQ(idsOf({events.begin() + 1, events.end()}), (std::vector<uint64_t>{ids[3], ids[4], ids[5]}));
  EXPECT_EQ(bus.counters().replayGaps, 1u);
}

TEST(EventBusTest, LastEventIdJustBeforeTheOldestKeptIsNoGap) {
  EventBus bus({.historySize = 3}, fixedClock());
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(bus.publish("x"));
  auto sub = bus.subscribe(ids[2], nullptr);
  EXPECT_EQ(idsOf(sub->take()), (std::vector<uint64_t>{ids[3], ids[4], ids[5]}));
}

TEST(EventBusTest, LastEventIdFromTheFutureOrAnotherRunIsAGap) {
  EventBus bus({}, fixedClock());
  bus.publish("x");
  auto sub = bus.subscribe(bus.lastId() + 100, nullptr);
  auto events = sub->take();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]->type, "replay_gap");
}

TEST(EventBusTest, NewSubscriberWithoutLastEventIdGetsOnlyNewEvents) {
  EventBus bus({}, fixedClock());
  bus.publish("old");
  int wakes = 0;
  auto sub = bus.subscribe(std::nullopt, [&] { ++wakes; });
  EXPECT_FALSE(sub->pending());
  bus.publish("new");
  EXPECT_EQ(wakes, 1);
  auto events = sub->take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->type, "new");
}

TEST(EventBusTest, SlowSubscriberIsCutOffAtMaxQueuedAndCounted) {
  EventBus bus({.historySize = 100, .maxQueued = 4}, fixedClock());
  int wakes = 0;
  auto slow = bus.subscribe(std::nullopt, [&] { ++wakes; });
  auto fast = bus.subscribe(std::nullopt, nullptr);
  for (int i = 0; i < 4; ++i) bus.publish("x");
  EXPECT_FALSE(slow->closed());
  fast->take();
  bus.publish("x");  // the fifth: one more than the slow one may hold
  EXPECT_TRUE(slow->overflowed());
  EXPECT_TRUE(slow->closed());
  EXPECT_FALSE(slow->pending());  // its queue is freed, not kept
  EXPECT_EQ(wakes, 5);            // woken to notice
  EXPECT_EQ(bus.counters().slowSubscribersDropped, 1u);
  EXPECT_FALSE(fast->closed());
  EXPECT_EQ(fast->take().size(), 1u);
  for (int i = 0; i < 100; ++i) bus.publish("x");
  EXPECT_FALSE(slow->pending());  // nothing more is queued for it
  EXPECT_EQ(bus.counters().slowSubscribersDropped, 2u);  // fast never read again
}

TEST(EventBusTest, ReplayLongerThanTheQueueBoundKeepsItsNewestPart) {
  EventBus bus({.historySize = 100, .maxQueued = 5}, fixedClock());
  std::vector<uint64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(bus.publish("x"));
  auto sub = bus.subscribe(ids[0], nullptr);
  EXPECT_EQ(idsOf(sub->take()), (std::vector<uint64_t>{ids[15], ids[16], ids[17], ids[18], ids[19]}));
}

TEST(EventBusTest, RefusesSubscribersBeyondMaxSubscribers) {
  EventBus bus({.maxSubscribers = 2}, fixedClock());
  auto a = bus.subscribe(std::nullopt, nullptr);
  auto b = bus.subscribe(std::nullopt, nullptr);
  EXPECT_EQ(bus.subscribe(std::nullopt, nullptr), nullptr);
  EXPECT_EQ(bus.counters().subscribersRefused, 1u);
  bus.unsubscribe(a);
  EXPECT_NE(bus.subscribe(std::nullopt, nullptr), nullptr);
}

TEST(EventBusTest, CloseAllWakesAndClosesEverySubscriber) {
  EventBus bus({}, fixedClock());
  int wakes = 0;
  auto a = bus.subscribe(std::nullopt, [&] { ++wakes; });
  bus.closeAll();
  EXPECT_TRUE(a->closed());
  EXPECT_EQ(wakes, 1);
}

TEST(EventBusTest, ParsesLastEventIdHeader) {
  EXPECT_EQ(parseLastEventId("42"), 42u);
  EXPECT_EQ(parseLastEventId(" 7 "), 7u);
  EXPECT_EQ(parseLastEventId(""), std::nullopt);
  EXPECT_EQ(parseLastEventId("abc"), std::nullopt);
  EXPECT_EQ(parseLastEventId("12x"), std::nullopt);
  EXPECT_EQ(parseLastEventId("-1"), std::nullopt);
  EXPECT_EQ(parseLastEventId("99999999999999999999999"), std::nullopt);
}

// Every forwarded request publishes two events; with no reader their JSON is never made.
TEST(EventBusTest, LazyFieldsAreMadeOnlyWhenAReaderNeedsThemAndThenOnce) {
  int64_t now = 1'000;
  EventBus bus({}, [&now] { return now; });
  int made = 0;
  const uint64_t before = bus.publish("first");
  const uint64_t id = bus.publishLazy("request_started", [&made] {
    ++made;
    return json{{"model", "m"}};
  });
  EXPECT_EQ(made, 0);  // published with no stream open: nothing written
  now = 9'000;
  auto a = bus.subscribe(before, nullptr);  // replays it: now it is needed
  EXPECT_EQ(made, 1);
  auto b = bus.subscribe(before, nullptr);
  EXPECT_EQ(made, 1);  // the second reader shares the first one's text
  auto events = b->take();
  ASSERT_EQ(events.size(), 1u);
  const json data = json::parse(events[0]->data);
  EXPECT_EQ(data["id"], id);
  EXPECT_EQ(data["model"], "m");
  EXPECT_EQ(data["time"], 1'000);  // when it was published, not when it was written
  EXPECT_EQ(a->take()[0]->data, events[0]->data);
}

TEST(EventBusTest, LazyFieldsArePublishedAtOnceToAnOpenStream) {
  EventBus bus({}, fixedClock());
  auto sub = bus.subscribe(std::nullopt, nullptr);
  bus.publishLazy("request_finished", [] { return json{{"status", 200}}; });
  auto events = sub->take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(json::parse(events[0]->data)["status"], 200);
  EXPECT_FALSE(events[0]->pending);
}
