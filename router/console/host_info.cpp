#include "router/console/host_info.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "router/mesh/system_load.h"

namespace qmesh::router {

namespace {

std::string slurp(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

nlohmann::json hostInfoJson() {
  nlohmann::json j = {{"load", nullptr}, {"uptime_s", nullptr}, {"mem_percent", nullptr},
                      {"cpus", std::thread::hardware_concurrency()}};
  if (auto l = parseLoadAvg(slurp("/proc/loadavg"))) j["load"] = {l->one, l->five, l->fifteen};
  if (auto u = parseUptime(slurp("/proc/uptime"))) j["uptime_s"] = *u;
  if (auto m = parseMemInfoPercent(slurp("/proc/meminfo"))) j["mem_percent"] = *m;
  return j;
}

}  // namespace qmesh::router
