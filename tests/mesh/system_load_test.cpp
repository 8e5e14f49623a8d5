#include "router/mesh/system_load.h"

#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <cstdint>

using namespace qmesh::router;

TEST(SystemLoad, ParsesTheAggregateCpuLine) {
  auto t = parseProcStat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->total, 1000u);
  EXPECT_EQ(t->busy, 150u);  // idle and iowait are not busy
  EXPECT_FALSE(parseProcStat("intr 1 2 3"));
  EXPECT_FALSE(parseProcStat("cpu  1 2"));
}

TEST(SystemLoad, CpuPercentIsTheBusyShareBetweenSamples) {
  EXPECT_EQ(cpuPercentBetween({100, 1000}, {400, 1400}), 75);
  EXPECT_EQ(cpuPercentBetween({100, 1000}, {100, 1000}), 0);  // no time passed
  EXPECT_EQ(cpuPercentBetween({500, 1000}, {100, 2000}), 0);  // counters went backwards
}

TEST(SystemLoad, MemoryPercentFromMemAvailable) {
  EXPECT_EQ(parseMemInfoPercent("MemTotal:       1000 kB\nMemFree:  10 kB\nMemAvailable:    250 kB\n"), 75);
  EXPECT_FALSE(parseMemInfoPercent("MemTotal: 1000 kB\n"));
}

TEST(SystemLoad, SamplesTheRealProcFiles) {
  SystemLoad load;
  auto first = load.sample();
  EXPECT_GE(first.memPercent, 1);  // a running machine uses some memory
  EXPECT_LE(first.memPercent, 100);
  EXPECT_EQ(first.cpuPercent, 0);  // nothing to compare with yet (not the average since boot)
  // Keep this thread busy for 300 ms of CPU time: the next sample must see it. On this
  // machine's /proc/stat (all cores) that is at least 300 ms / (cores * wall time) busy.
  const auto cpuNow = [] {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  };
  const auto start = cpuNow();
  const auto wallDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  volatile uint64_t spin = 0;
  while (cpuNow() - start < std::chrono::milliseconds(300) && std::chrono::steady_clock::now() < wallDeadline) spin = spin + 1;
  auto second = load.sample();
  EXPECT_GT(second.cpuPercent, 0);
  EXPECT_LE(second.cpuPercent, 100);
}

TEST(SystemLoad, ParsesTheLoadAveragesOfProcLoadavg) {
  auto l = parseLoadAvg("1.52 0.98 0.40 3/512 12345\n");
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ(l->one, 1.52);
  EXPECT_DOUBLE_EQ(l->five, 0.98);
  EXPECT_DOUBLE_EQ(l->fifteen, 0.40);
  EXPECT_FALSE(parseLoadAvg(""));
  EXPECT_FALSE(parseLoadAvg("1.0 x"));
}

TEST(SystemLoad, ParsesTheUptimeOfProcUptime) {
  EXPECT_EQ(parseUptime("12345.67 2345.00\n"), 12345.67);
  EXPECT_FALSE(parseUptime("up"));
  EXPECT_FALSE(parseUptime("-5 1"));
}
