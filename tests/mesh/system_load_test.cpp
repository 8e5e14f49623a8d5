#include "router/mesh/system_load.h"

#include <gtest/gtest.h>

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
  auto s = load.sample();
  EXPECT_GE(s.memPercent, 1);  // a running machine uses some memory
  EXPECT_LE(s.memPercent, 100);
  EXPECT_GE(s.cpuPercent, 0);
  EXPECT_LE(s.cpuPercent, 100);
}
