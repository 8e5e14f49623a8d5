// The chaos soak (issue 8): three real nodes (qmesh-supervisor + qmesh-router + llama-server
// on the demo model each, one model per node so that most requests cross the data plane)
// under 32 concurrent streaming chat completions, while a seeded schedule kill -9s
// llama-servers and routers, SIGSTOPs and SIGCONTs llama-servers and, where network
// namespaces exist (root, iproute2, iptables), cuts a node off and heals it.
//
// Invariants, each checked as it happens and again at the end:
// - every request ends in a complete stream ([DONE]) or an OpenAI-shaped error (an HTTP
//   error status with an error body, or an in-band error event) within its client
//   deadline. The one exception is a request whose own entry router was killed under it:
//   kill -9 leaves that process no way to answer, so the client sees its connection break;
//   those are counted apart (cut-by-router-kill) and still must not hang;
// - no process of the run is orphaned (every one of them is a supervisor or a supervisor's
//   child, throughout; none is left once the supervisors stopped). Processes of the run are
//   found by an environment marker, not by name;
// - each router's open descriptors and RSS are back within 10% of its baseline once load
//   stops. Baselines are taken at rest (no request in flight, no pooled data-plane channel)
//   after a warm-up at full load. A router that was killed and restarted during the soak
//   is a new process: its baseline is taken at rest after the soak's quiet tail (at least
//   10 s of full load it served without faults), and it is checked after another burst;
// - every node lists the full model set again within 5 s of the last fault healing, and
//   keeps listing it until the end.
//
// QMESH_SOAK_SECONDS (default 60) is the fault phase; QMESH_SOAK_SEED (default random,
// printed) fixes the schedule; QMESH_SOAK_NETNS=0 keeps the nodes on loopback (no
// partitions), as on machines without namespaces. scripts/soak.sh runs it long.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>

#include "common/mesh_keys.h"
#include "tests/integration/mesh_fixture.h"
#include "tests/integration/netns_hosts.h"
#include "tests/integration/node_fixture.h"
#include "tests/integration/soak/soak_faults.h"
#include "tests/integration/soak/soak_load.h"
#include "tests/integration/soak/soak_procs.h"
#include "tests/integration/soak/soak_schedule.h"
#include "tests/support/http_client.h"

using namespace qmesh::test;
using namespace qmesh::test::soak;
using namespace std::chrono;
using nlohmann::json;

namespace {

constexpr int kNodes = 3;
constexpr int kClients = 32;
const std::vector<std::string> kModels = {"demo-a", "demo-b", "demo-c"};
// Generous but finite: the router's own deadlines (queue 10 s, header 5 s) end any request
// it cannot serve well before this.
constexpr milliseconds kDeadline{45000};
constexpr seconds kWarmUp{5}, kQuietTail{10}, kBurst{5};
constexpr seconds kHealDeadline{5};
constexpr double kTolerance = 0.10;

uint64_t envNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

double secs(Clock::duration d) { return duration<double>(d).count(); }

// Generous crash-loop limits: the soak restarts each process many times a minute on purpose.
std::string soakSupervisorSettings() {
  return "  stop_grace: 2s\n"
         "  health:\n    interval: 200ms\n    timeout: 300ms\n    failure_threshold: 2\n"
         "    startup_timeout: 60s\n"
         "  restart:\n    backoff_initial: 50ms\n    backoff_max: 500ms\n    max_restarts: 1000\n"
         "    window: 1m\n";
}

// Under AddressSanitizer a process keeps up to 256 MB of freed memory in quarantine (to
// catch use after free), so its RSS grows with every byte it ever freed until that fills:
// an artifact of the build, not the router. A small quarantine fills during the warm-up, and
// RSS at rest then measures what the router itself holds. Ignored by builds without ASan.
std::string asanOptions() {
  const char* inherited = std::getenv("ASAN_OPTIONS");
  return std::string(inherited && *inherited ? std::string(inherited) + ":" : "") + "quarantine_size_mb=8";
}

// SIGINT/SIGTERM (Ctrl-C of scripts/soak.sh) end the fault phase early and fail the test,
// so the normal teardown still runs: processes stopped, namespaces deleted.
std::atomic<bool> interrupted{false};
extern "C" void onInterrupt(int) { interrupted = true; }

struct Usage {
  ProcId router;
  int fds = -1;
  long rssKb = -1;
};

// Kills whatever of this run is still alive, whatever way the test ends: it runs after the
// nodes' own teardown, so normally it finds nothing.
struct Sweeper {
  std::string marker;
  ~Sweeper() {
    for (pid_t p : processesWithMarker(marker)) ::kill(p, SIGKILL);
  }
};

class ChaosSoak : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet";
    soakSeconds = seconds(envNumber("QMESH_SOAK_SECONDS", 60));
    seed = envNumber("QMESH_SOAK_SEED", std::random_device{}());
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
    std::cout << "[ soak ] seed " << seed << " (QMESH_SOAK_SEED=" << seed << " replays this schedule), "
              << soakSeconds.count() << " s of faults" << std::endl;
    sweeper.marker = "QMESH_SOAK_RUN=" + std::to_string(::getpid()) + "-" + std::to_string(seed);
    if (envNumber("QMESH_SOAK_NETNS", 1) == 0) {
      noPartitions = "skipped: QMESH_SOAK_NETNS=0";
    } else if (auto why = netnsUnavailable()) {
      noPartitions = "skipped: " + *why;
    } else {
      auto created = NetnsHosts::create(kNodes);
      if (created) hosts = std::move(*created);
      else noPartitions = "skipped: " + created.error().message;
    }
    std::cout << "[ soak ] " << (hosts ? "nodes in network namespaces, partitions on" : "partitions " + noPartitions) << std::endl;
    ASSERT_TRUE(qmesh::writeMeshKeys(dir / "mesh.keys", {qmesh::generateMeshKey()}));
    startNodes();
  }

  void startNodes() {
    std::vector<std::string> gossip;
    for (int i = 0; i < kNodes; ++i) {
      // Each node seeds every node before it: n1 founds the mesh, the others join through it.
      MeshNodeSpec spec{"n" + std::to_string(i + 1), kModels[i], gossip, dir / ("n" + std::to_string(i + 1) + ".keys"), {},
                        "  queue_timeout: 10s\n  header_timeout: 5s\n"};
      std::filesystem::copy_file(dir / "mesh.keys", spec.keyFile);
      std::filesystem::permissions(spec.keyFile, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
      spec.parallel = 4;
      spec.supervisorYaml = soakSupervisorSettings();
      spec.env = {{sweeper.marker.substr(0, sweeper.marker.find('=')), sweeper.marker.substr(sweeper.marker.find('=') + 1)},
                  {"ASAN_OPTIONS", asanOptions()}};
      if (hosts) spec.address = hosts->address(i);
      spec.wrap = [h = hosts.get(), i, setpriv = findProgram("setpriv")](std::vector<std::string> argv) {
        if (h) argv = h->wrap(i, std::move(argv));
        // The supervisors die with this process even if it is killed outright (a ctest
        // timeout, Ctrl-C of scripts/soak.sh), and their children with them (PDEATHSIG).
        if (!setpriv.empty()) argv.insert(argv.begin(), {setpriv, "--pdeathsig", "KILL"});
        return argv;
      };
      nodes.push_back(std::make_unique<MeshTestNode>(dir.path(), std::move(spec)));
      gossip.push_back(nodes.back()->gossipAddress());
    }
    for (auto& n : nodes) n->start();
    std::vector<MeshTestNode*> all;
    for (auto& n : nodes) all.push_back(n.get());
    ASSERT_TRUE(waitForMeshState(all, {"n1", "n2", "n3"}, "alive", seconds(90))) << logs();
    for (auto& n : nodes) {
      ASSERT_TRUE(waitUntil([&] { return servesAll(*n); }, seconds(60))) << n->name() << " never listed every model\n"
                                                                          << logs();
      // `ip netns exec` must exec the supervisor, not fork it: the orphan check relies on the
      // supervisors being the processes the test started.
      ASSERT_EQ(commOf(n->supervisorPid()), "qmesh-superviso") << n->supervisorPid();
    }
  }

  bool servesAll(MeshTestNode& n) const {
    auto j = json::parse(httpGet(n.routerUrl("/v1/models"), seconds(2)).body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) return false;
    int ready = 0;
    for (const auto& m : j["data"])
      for (const auto& want : kModels)
        if (m.value("id", "") == want && m.contains("qmesh") && m["qmesh"].value("ready_workers", 0) > 0) ++ready;
    return ready == static_cast<int>(kModels.size());
  }
  bool everyNodeServesAll() const {
    for (auto& n : nodes)
      if (!servesAll(*n)) return false;
    return true;
  }

  // No request in flight, no data-plane channel open or pooled: the router at rest.
  bool atRest(MeshTestNode& n) const {
    auto st = json::parse(httpGet(n.routerUrl("/api/status"), seconds(2)).body, nullptr, false);
    auto mesh = n.mesh();
    // in_flight counts the /api/status request that reads it.
    if (!st.is_object() || !mesh || st.value("in_flight", -1) != 1) return false;
    const auto& dp = (*mesh)["stats"]["data_plane"];
    return dp.value("active_hops", -1) == 0 && dp["pool"].value("idle", -1) == 0;
  }
  std::string restState() const {
    std::ostringstream s;
    for (auto& n : nodes) {
      auto st = json::parse(httpGet(n->routerUrl("/api/status"), seconds(2)).body, nullptr, false);
      auto mesh = n->mesh();
      s << n->name() << ": in_flight=" << (st.is_object() ? st.value("in_flight", -1) : -1);
      if (mesh) s << " data_plane=" << (*mesh)["stats"]["data_plane"].dump();
      s << "\n";
    }
    return s.str();
  }
  bool waitAtRest() const {
    return waitUntil([&] {
      for (auto& n : nodes)
        if (!atRest(*n)) return false;
      return true;
    }, seconds(30), milliseconds(100));
  }

  Usage usage(MeshTestNode& n) const {
    Usage u{childNamed(n.supervisorPid(), "qmesh-router")};
    if (u.router.valid()) {
      u.fds = openFds(u.router.pid);
      u.rssKb = rssKb(u.router.pid);
    }
    return u;
  }

  std::vector<pid_t> supervisors() const {
    std::vector<pid_t> out;
    for (auto& n : nodes) out.push_back(n->supervisorPid());
    return out;
  }

  LoadOptions loadOptions(const std::string& phase) const {
    LoadOptions o;
    o.clients = kClients;
    for (auto& n : nodes) o.routers.push_back(n->routerUrl());
    o.models = kModels;
    o.seed = seed ^ std::hash<std::string>{}(phase);
    o.deadline = kDeadline;
    o.idPrefix = "soak-" + phase;
    return o;
  }

  // A burst of fault-free load; every request must complete or fail cleanly.
  void burst(const std::string& phase, seconds length) {
    Load load(loadOptions(phase), [](int, Clock::time_point, Clock::time_point) { return false; });
    load.start();
    std::this_thread::sleep_for(length);  // the length of the burst, not a wait for readiness
    load.stop();
    const auto c = load.counts();
    std::cout << "[ soak ] " << phase << ": " << load.requests() << " requests, "
              << c[int(Outcome::Completed)] << " completed" << std::endl;
    for (const auto& v : load.violations()) ADD_FAILURE() << phase << ": " << v;
  }

  // Checks `now` against `base` within the tolerance; a line for the report.
  std::string compare(const std::string& name, const Usage& base, const Usage& now) {
    const auto within = [](double b, double v) { return v <= b * (1 + kTolerance) && v >= b * (1 - kTolerance); };
    EXPECT_TRUE(within(base.fds, now.fds)) << name << "'s router (pid " << now.router.pid << ") has " << now.fds
                                           << " open descriptors at rest, baseline " << base.fds << " (±10%)";
    EXPECT_TRUE(within(base.rssKb, now.rssKb)) << name << "'s router (pid " << now.router.pid << ") has RSS "
                                               << now.rssKb << " kB at rest, baseline " << base.rssKb << " kB (±10%)";
    std::ostringstream s;
    s << name << " fds " << base.fds << "->" << now.fds << ", rss " << base.rssKb / 1024 << "->" << now.rssKb / 1024
      << " MB";
    return s.str();
  }

  std::string logs() const {
    std::ostringstream s;
    for (auto& n : nodes) {
      const std::string log = n->log();
      s << "---- " << n->name() << " (last 4000 bytes) ----\n" << (log.size() > 4000 ? log.substr(log.size() - 4000) : log) << "\n";
    }
    return s.str();
  }

  seconds soakSeconds{60};
  uint64_t seed = 1;
  std::string noPartitions;
  // Destroyed bottom-up: nodes stop, then the namespaces go, then the sweeper kills any
  // straggler of the run, then the directory is removed.
  TempDir dir;
  Sweeper sweeper;
  std::unique_ptr<NetnsHosts> hosts;
  std::vector<std::unique_ptr<MeshTestNode>> nodes;
};

}  // namespace

TEST_F(ChaosSoak, EveryRequestEndsCleanlyNothingIsOrphanedOrLeakedAndTheMeshHeals) {
  // Baselines at rest after a warm-up at full load.
  burst("warm-up", kWarmUp);
  ASSERT_TRUE(waitAtRest()) << "the routers never came to rest after the warm-up\n" << restState();
  std::vector<Usage> base;
  for (auto& n : nodes) base.push_back(usage(*n));

  ScheduleOptions so;
  so.seed = seed;
  so.duration = soakSeconds;
  so.nodes = kNodes;
  so.partitions = hosts != nullptr;
  so.quietTail = kQuietTail;
  const auto schedule = makeSchedule(so);
  std::cout << "[ soak ] schedule (" << schedule.size() << " faults):\n" << describe(schedule) << std::flush;

  std::vector<MeshTestNode*> raw;
  for (auto& n : nodes) raw.push_back(n.get());
  FaultInjector faults(raw, hosts.get());
  Load load(loadOptions("soak"), [&](int entry, Clock::time_point from, Clock::time_point to) {
    return faults.routerDown(entry, from, to);
  });
  const auto t0 = Clock::now();
  load.start();
  faults.start(schedule, t0);

  // Throughout: no orphan, every supervisor alive; after the schedule, the model set.
  std::vector<std::string> orphanLines;
  bool scheduleDone = false;
  Clock::time_point lastIncomplete{};
  int polls = 0;
  while (Clock::now() < t0 + soakSeconds && !interrupted) {
    if (polls++ % 10 == 0) {
      for (const auto& o : orphans(sweeper.marker, supervisors())) {
        orphanLines.push_back(o);
        std::cout << "[ soak ] VIOLATION orphan: " << o << std::endl;
      }
      for (auto& n : nodes) ASSERT_TRUE(processExists(n->supervisorPid())) << n->name() << "'s supervisor died\n" << logs();
    }
    if (!scheduleDone && Clock::now() > t0 + (schedule.empty() ? milliseconds(0) : schedule.back().healedAt())) {
      faults.join();  // returns once the last fault has been applied and healed
      scheduleDone = true;
    }
    if (scheduleDone && !everyNodeServesAll()) lastIncomplete = Clock::now();
    std::this_thread::sleep_for(milliseconds(100));  // the poll period
  }
  if (interrupted) faults.abort();
  faults.join();
  load.stop();
  ASSERT_FALSE(interrupted) << "interrupted by a signal";
  const auto lastHeal = schedule.empty() ? t0 : faults.lastHeal();
  const double healSeconds = lastIncomplete == Clock::time_point{} ? 0.0 : secs(lastIncomplete - lastHeal);
  const bool fullAtEnd = everyNodeServesAll();

  // At rest again: routers that lived through the soak against their warm-up baseline;
  // restarted ones get theirs now (after the quiet tail's load) and are checked after a burst.
  ASSERT_TRUE(waitAtRest()) << "the routers never came to rest after the soak\n" << restState();
  std::vector<std::string> usageLines;
  std::vector<int> restarted;
  for (int i = 0; i < kNodes; ++i) {
    const Usage now = usage(*nodes[i]);
    if (now.router.pid == base[i].router.pid && now.router.startTime == base[i].router.startTime) {
      usageLines.push_back(compare(nodes[i]->name(), base[i], now));
    } else {
      base[i] = now;
      restarted.push_back(i);
    }
  }
  if (!restarted.empty()) {
    burst("after-soak burst", kBurst);
    ASSERT_TRUE(waitAtRest()) << "the routers never came to rest after the burst\n" << restState();
    for (int i : restarted) usageLines.push_back(compare(nodes[i]->name() + " (restarted)", base[i], usage(*nodes[i])));
  }

  // Teardown: every supervisor stops cleanly, and nothing of the run is left.
  for (auto& n : nodes) EXPECT_TRUE(n->stop()) << n->name() << "'s supervisor did not stop within 15 s";
  std::vector<pid_t> left;
  waitUntil([&] { return (left = processesWithMarker(sweeper.marker)).empty(); }, seconds(5), milliseconds(50));
  for (pid_t p : left) orphanLines.push_back(std::to_string(p) + " (" + commOf(p) + ") still running after teardown");

  const auto c = load.counts();
  const auto planned = faults.planned(), injected = faults.injected();
  std::ostringstream r;
  r << "[ soak ] ==== report ====\n"
    << "seed: " << seed << "\nfault phase: " << soakSeconds.count() << " s (last " << kQuietTail.count()
    << " s without faults), " << kClients << " concurrent streams, client deadline " << kDeadline.count() / 1000
    << " s\n"
    << "partitions: " << (hosts ? "on (network namespaces)" : noPartitions) << "\n"
    << "requests: " << load.requests() << "\ncompleted: " << c[int(Outcome::Completed)]
    << "\nclean errors: " << c[int(Outcome::HttpError)] + c[int(Outcome::InBandError)] << " (http status "
    << c[int(Outcome::HttpError)] << ", in-band event " << c[int(Outcome::InBandError)] << ")"
    << "\nhttp error statuses: " << load.statuses()
    << "\ncut by a kill -9 of their own entry router: " << c[int(Outcome::CutByRouterKill)]
    << "\nhung: " << c[int(Outcome::Hung)] << "\nlost: " << c[int(Outcome::Lost)] << "\nfaults injected:";
  for (int k = 0; k < kFaultKinds; ++k)
    r << " " << toString(static_cast<FaultKind>(k)) << " " << injected[k] << "/" << planned[k];
  r << " (injected/planned)\nfull model set on every node " << healSeconds << " s after the last fault healed"
    << (fullAtEnd ? "" : " (NOT at the end)") << "\norphans: " << orphanLines.size() << "\nrouters at rest: ";
  for (std::size_t i = 0; i < usageLines.size(); ++i) r << (i ? "; " : "") << usageLines[i];
  r << "\n[ soak ] ==== end of report ====\n";
  std::cout << r.str() << std::flush;

  EXPECT_EQ(c[int(Outcome::Hung)], 0u) << "requests hung past their deadline";
  EXPECT_EQ(c[int(Outcome::Lost)], 0u) << "requests ended without [DONE] or an OpenAI error";
  for (const auto& v : load.violations()) ADD_FAILURE() << v;
  for (const auto& o : orphanLines) ADD_FAILURE() << "orphaned process: " << o;
  for (const auto& p : faults.problems()) ADD_FAILURE() << p;
  EXPECT_LE(healSeconds, double(kHealDeadline.count()))
      << "a node still lacked part of the model set " << healSeconds << " s after the last fault healed";
  EXPECT_TRUE(fullAtEnd) << "a node did not list the full model set at the end of the soak";
  EXPECT_GT(c[int(Outcome::Completed)], 0u);
}
