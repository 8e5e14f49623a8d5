// The router's half of models loaded on demand (issue 10): it loads a model when a request
// for it finds every worker unloaded, unloads a model idle for its idle_unload, and makes room
// under node.memory_budget by unloading the least recently used idle models. The supervisor's
// half spawns and ends the processes (POST /children/NAME/load|unload); this half decides,
// because only the router knows which requests are in flight or queued for a model, and it
// can stop handing out a model's slots before it asks for the unload: so no request is ever
// cut by an unload. Pure logic on the worker directory and the admission queues; the requests
// to the supervisor go out through Actions, and their answers come back through
// loadAnswered()/unloadAnswered(). Time comes from the injected Clock.
//
// Per local model (the phase; "resident" = a process runs or is asked for, its memory counted):
//
//   unloaded --a request waits (Admission)--> WANTED --fits the budget--> LOAD_ASKED
//   LOAD_ASKED --a worker is ready--> resident: the waiters are served, in their order
//   LOAD_ASKED --refused, or no worker on its way at the generation the supervisor named--> 503
//              model_load_failed with the reason to every waiter; unloaded (or restarting)
//   WANTED, no room: idle resident models (nothing in flight or queued), least recently used
//     first, are EVICTING until it fits; when idle ones are not enough, busy ones give way
//     (longest resident first): they are CLOSED, i.e. the requests queued for them so far are
//     still served but newcomers wait for their next load, and they are evicted once idle.
//     So two models that share room for one alternate instead of one starving the other.
//   resident --idle for idle_unload (nothing in flight or queued)--> EVICTING --process gone-->
//     unloaded; requests that came meanwhile make it WANTED again.
//
// Only the head of the WANTED line is planned for: models load in the order they were wanted.
// Single-threaded: the router's io_context.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>

#include "common/clock.h"
#include "router/routing/admission.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

class OnDemandModels final : public LoadGate {
 public:
  // What the router asks its supervisor. Both answer later, through loadAnswered and
  // unloadAnswered, never from inside the call.
  class Actions {
   public:
    virtual ~Actions() = default;
    virtual void load(const std::string& model) = 0;
    virtual void unload(const std::string& model) = 0;
  };

  OnDemandModels(const WorkerDirectory& directory, Admission& admission, const Clock& clock, Actions& actions);

  // LoadGate (admission.h).
  bool loadable(const std::string& model) override;
  void waiting(const std::string& model) override;
  bool mayGrant(const std::string& model, uint64_t ticket) const override;
  void used(const std::string& model) override;
  void directoryChanged() override;

  // The supervisor's answer to load(): accepted, with the /status generation that shows it.
  void loadAnswered(const std::string& model, bool accepted, uint64_t generation, const std::string& message);
  void unloadAnswered(const std::string& model, bool accepted, const std::string& message);
  // Unloads models idle for their idle_unload. Call it a few times a second.
  void tick();

  // For /api/status and tests: "wanted", "load_asked", "evicting", "closed" or "".
  std::string phaseOf(const std::string& model) const;

 private:
  enum class Phase { None, Wanted, LoadAsked, Evicting };
  struct Entry {
    Phase phase = Phase::None;
    TimePoint lastUsed{};     // last slot taken or given back (or since it became ready)
    TimePoint readySince{};   // when it last became ready: the longest resident gives way first
    bool wasReady = false;
    std::optional<uint64_t> closedAfter;  // CLOSED: only tickets up to this one are granted
    bool acked = false;       // the supervisor accepted the load...
    uint64_t ackGeneration = 0;  // ...and its /status shows it from this generation on
  };

  void plan();
  bool makeRoomFor(const std::string& wanted);
  void startLoad(const std::string& model);
  void evict(const std::string& model, const std::string& why);
  void judgeLoad(const std::string& model);
  void fail(const std::string& model, const std::string& why);
  void reopen(const std::string& model);

  bool allUnloaded(const std::string& model) const;
  bool resident(const std::string& model) const;
  bool onItsWay(const std::string& model) const;
  bool ready(const std::string& model) const;
  bool idle(const std::string& model) const;
  bool evictable(const std::string& model) const;
  uint64_t memory(const std::string& model) const;
  uint64_t residentMemory() const;
  int64_t inFlight(const std::string& model) const;

  const WorkerDirectory& dir_;
  Admission& admission_;
  const Clock& clock_;
  Actions& actions_;
  std::map<std::string, Entry> models_;
  std::deque<std::string> wanted_;  // first wanted first
  bool planning_ = false, replan_ = false;
};

}  // namespace qmesh::router
