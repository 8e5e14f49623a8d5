// Download progress text and its throttling (supervisor/download_progress.h), from tables.
#include "supervisor/download_progress.h"

#include <gtest/gtest.h>

#include <vector>

namespace qmesh {
namespace {

using std::chrono::milliseconds;

TEST(DownloadProgressTest, FormatsBytesInBinaryUnits) {
  EXPECT_EQ(formatBytes(0), "0 B");
  EXPECT_EQ(formatBytes(1023), "1023 B");
  EXPECT_EQ(formatBytes(1536), "1.5 KiB");
  EXPECT_EQ(formatBytes(uint64_t(5) << 30), "5.0 GiB");
}

TEST(DownloadProgressTest, RateAndEtaCountOnlyThisTransfer) {
  // 40 MiB were on disk from an interrupted fetch; 10 MiB arrived in 2 s: 5 MiB/s, and the
  // remaining 50 MiB of 100 take 10 s.
  const DownloadProgress p{50 << 20, 100 << 20, 40 << 20, milliseconds(2000)};
  EXPECT_DOUBLE_EQ(transferRate(p), double(5 << 20));
  EXPECT_EQ(formatProgress(p), "50.0 MiB of 100.0 MiB (50%), 5.0 MiB/s, ETA 10s");
}

TEST(DownloadProgressTest, LongEtaInMinutesAndHoursAndNoneWithoutTotal) {
  EXPECT_EQ(formatProgress({0, uint64_t(1) << 30, 0, milliseconds(1000)}), "0 B of 1.0 GiB (0%), 0 B/s");
  EXPECT_EQ(formatProgress({1 << 20, uint64_t(1 << 20) * 151, 0, milliseconds(1000)}),
            "1.0 MiB of 151.0 MiB (0%), 1.0 MiB/s, ETA 2m30s");
  EXPECT_EQ(formatProgress({1 << 20, uint64_t(1 << 20) * 7201, 0, milliseconds(1000)}),
            "1.0 MiB of 7.0 GiB (0%), 1.0 MiB/s, ETA 2h0m");
  EXPECT_EQ(formatProgress({1 << 20, 0, 0, milliseconds(1000)}), "1.0 MiB, 1.0 MiB/s");
}

TEST(DownloadProgressTest, DrawsTheBarOnATerminalAndLogsEveryIntervalElsewhere) {
  std::vector<std::string> bars, logs;
  ProgressReporter tty("m", true, [&](const std::string& s) { bars.push_back(s); },
                       [&](const std::string& s) { logs.push_back(s); }, milliseconds(5000));
  for (int ms = 0; ms <= 10000; ms += 100) tty.update({uint64_t(ms), 10000, 0, milliseconds(ms)});
  EXPECT_TRUE(logs.empty());      // a log line would break the bar on the terminal
  EXPECT_EQ(bars.size(), 51u);    // every 200 ms from 0
  EXPECT_NE(bars.back().find("m [##############################] "), std::string::npos);
  tty.finish({10000, 10000, 0, milliseconds(10000)});
  EXPECT_EQ(logs.size(), 1u);
  EXPECT_EQ(bars.back().back(), '\n');

  std::vector<std::string> noBars, logs2;
  ProgressReporter pipe("m", false, [&](const std::string& s) { noBars.push_back(s); },
                        [&](const std::string& s) { logs2.push_back(s); });
  for (int ms = 0; ms <= 10000; ms += 100) pipe.update({0, 0, 0, milliseconds(ms)});
  EXPECT_EQ(logs2.size(), 2u);    // at 5 s and 10 s
  pipe.finish({0, 0, 0, milliseconds(10000)});
  EXPECT_TRUE(noBars.empty());
  EXPECT_EQ(logs2.size(), 3u);
}

}  // namespace
}  // namespace qmesh
