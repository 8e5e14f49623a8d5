#include "router/mesh/system_load.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

namespace qmesh::router {

std::optional<CpuTimes> parseProcStat(std::string_view text) {
  if (text.substr(0, 4) != "cpu ") return std::nullopt;
  std::istringstream in(std::string(text.substr(4, text.find('\n') - 4)));
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  uint64_t v[8] = {};
  int n = 0;
  while (n < 8 && in >> v[n]) ++n;
  if (n < 4) return std::nullopt;
  CpuTimes t;
  for (int i = 0; i < n; ++i) t.total += v[i];
  t.busy = t.total - v[3] - (n > 4 ? v[4] : 0);
  return t;
}

std::optional<int> parseMemInfoPercent(std::string_view text) {
  auto field = [&](std::string_view name) -> std::optional<uint64_t> {
    const auto at = text.find(name);
    if (at == std::string_view::npos) return std::nullopt;
    std::istringstream in(std::string(text.substr(at + name.size(), 32)));
    uint64_t kb = 0;
    if (!(in >> kb)) return std::nullopt;
    return kb;
  };
  const auto total = field("MemTotal:"), avail = field("MemAvailable:");
  if (!total || !avail || *total == 0) return std::nullopt;
  return static_cast<int>(100 - std::min<uint64_t>(100, *avail * 100 / *total));
}

int cpuPercentBetween(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return 0;
  const uint64_t pct = (after.busy - before.busy) * 100 / (after.total - before.total);
  return static_cast<int>(std::min<uint64_t>(100, pct));
}

std::optional<LoadAverage> parseLoadAvg(std::string_view text) {
  LoadAverage l;
  const std::string s(text.substr(0, 128));
  if (std::sscanf(s.c_str(), "%lf %lf %lf", &l.one, &l.five, &l.fifteen) != 3) return std::nullopt;
  return l;
}

std::optional<double> parseUptime(std::string_view text) {
  double up = 0;
  const std::string s(text.substr(0, 64));
  if (std::sscanf(s.c_str(), "%lf", &up) != 1 || up < 0) return std::nullopt;
  return up;
}

namespace {
std::string readFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

SystemLoad::Sample SystemLoad::sample() {
  Sample s;
  if (auto now = parseProcStat(readFile("/proc/stat"))) {
    if (last_) s.cpuPercent = cpuPercentBetween(*last_, *now);
    last_ = now;
  }
  if (auto mem = parseMemInfoPercent(readFile("/proc/meminfo"))) s.memPercent = *mem;
  if (auto load = parseLoadAvg(readFile("/proc/loadavg"))) s.loadTenths = static_cast<int>(load->one * 10 + 0.5);
  // Once: computed again, the two clocks' rounding would move it by a second now and then.
  if (bootUnix_ == 0)
    if (auto up = parseUptime(readFile("/proc/uptime")))
      bootUnix_ = static_cast<int64_t>(std::time(nullptr)) - static_cast<int64_t>(*up);
  s.bootUnix = bootUnix_;
  return s;
}

}  // namespace qmesh::router
