// The node's CPU and memory use (for the health score it gossips), load average and boot time. Read from /proc; the
// parsers are pure so tests feed them text.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace qmesh::router {

struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};

// The aggregate "cpu " line of /proc/stat.
std::optional<CpuTimes> parseProcStat(std::string_view text);
// 100 * (1 - MemAvailable / MemTotal) from /proc/meminfo.
std::optional<int> parseMemInfoPercent(std::string_view text);
struct LoadAverage {
  double one = 0, five = 0, fifteen = 0;
};
std::optional<LoadAverage> parseLoadAvg(std::string_view text);  // /proc/loadavg
std::optional<double> parseUptime(std::string_view text);        // /proc/uptime, seconds
// Busy share between two samples, 0..100.
int cpuPercentBetween(const CpuTimes& before, const CpuTimes& after);

// Samples /proc on each call and reports use since the previous call.
class SystemLoad {
 public:
  struct Sample {
    int cpuPercent = 0;
    int memPercent = 0;
    int loadTenths = 0;    // the 1-minute load average x 10
    int64_t bootUnix = 0;  // when the machine booted (seconds since the epoch), 0 = unknown
  };
  Sample sample();

 private:
  std::optional<CpuTimes> last_;
  int64_t bootUnix_ = 0;
};

}  // namespace qmesh::router
