#include "tests/integration/netns_hosts.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace qmesh::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string trimmed(std::string s) {
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s.empty() ? "(no output)" : s;
}

// Runs `program args...`; an error naming the command and what it printed when it fails.
Status runChecked(const std::string& program, std::vector<std::string> args,
                  std::chrono::milliseconds timeout = 10s) {
  const std::string shown = fs::path(program).filename().string() + " " + joined(args);
  args.insert(args.begin(), program);
  const CommandResult r = runCommand(std::move(args), timeout);
  if (r.exit_code == 0) return Ok{};
  return makeError("`" + shown + "` failed (exit " + std::to_string(r.exit_code) + "): " + trimmed(r.output));
}

struct Probe {
  std::optional<std::string> netns;  // why namespaces are unusable
  std::optional<std::string> loss;   // why random loss is unusable
};

Probe probe() {
  Probe p;
  const std::string ip = findProgram("ip"), iptables = findProgram("iptables");
  if (ip.empty()) {
    p.netns = "network namespaces unavailable: `ip` (iproute2) is not installed";
  } else if (::geteuid() != 0) {
    p.netns = "network namespaces unavailable: creating them needs root (running as uid " +
              std::to_string(::geteuid()) + ")";
  } else if (iptables.empty()) {
    p.netns = "network namespaces unavailable for these tests: `iptables` is not installed";
  }
  if (p.netns) {
    p.loss = p.netns;
    return p;
  }
  const std::string ns = "qm-" + std::to_string(::getpid()) + "-probe";
  (void)runCommand({ip, "netns", "del", ns}, 10s);  // a leftover of a crashed run with our pid
  if (auto st = runChecked(ip, {"netns", "add", ns}); !st) {
    p.netns = p.loss = "network namespaces unavailable: " + st.error().message;
    return p;
  }
  const auto inNs = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"netns", "exec", ns});
    return runChecked(ip, std::move(argv));
  };
  Status st = runChecked(ip, {"-n", ns, "link", "add", "qmpa", "type", "veth", "peer", "name", "qmpb"});
  if (st) st = runChecked(ip, {"-n", ns, "link", "add", "qmpbr", "type", "bridge"});
  if (st) st = inNs({iptables, "-w", "-L", "-n"});
  if (st) st = inNs({iptables, "-w", "-A", "INPUT", "-s", "192.0.2.1", "-j", "DROP"});
  if (!st) p.netns = "network namespaces unavailable: " + st.error().message;
  p.loss = p.netns;
  if (!p.loss) {
    if (auto s = inNs({iptables, "-w", "-A", "INPUT", "-m", "statistic", "--mode", "random", "--probability",
                       "0.1", "-j", "DROP"});
        !s)
      p.loss = "iptables random loss unavailable: " + s.error().message;
  }
  (void)runCommand({ip, "netns", "del", ns}, 10s);
  return p;
}

const Probe& probed() {
  static const Probe p = probe();
  return p;
}

}  // namespace

std::optional<std::string> netnsUnavailable() { return probed().netns; }
std::optional<std::string> iptablesLossUnavailable() { return probed().loss; }

std::string findProgram(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::istringstream in(path);
    for (std::string d; std::getline(in, d, ':');)
      if (!d.empty()) dirs.push_back(d);
  }
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) dirs.push_back(d);
  for (const auto& d : dirs) {
    const fs::path p = fs::path(d) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

Result<std::unique_ptr<NetnsHosts>> NetnsHosts::create(int count) {
  if (count < 1 || count > 200) return makeError("NetnsHosts: count must be 1..200");
  std::unique_ptr<NetnsHosts> hosts(new NetnsHosts());
  if (auto st = hosts->setUp(count); !st) return st.error();  // the destructor removes the rest
  return hosts;
}

NetnsHosts::~NetnsHosts() { tearDown(); }

std::string NetnsHosts::address(int host) const { return subnet_ + "." + std::to_string(host + 1); }
std::string NetnsHosts::rootAddress() const { return subnet_ + ".254"; }

std::vector<std::string> NetnsHosts::wrap(int host, std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {ipPath_, "netns", "exec", name(host)});
  return argv;
}

CommandResult NetnsHosts::run(int host, std::vector<std::string> argv, std::chrono::milliseconds timeout) const {
  return runCommand(wrap(host, std::move(argv)), timeout);
}

Status NetnsHosts::iptables(int host, std::vector<std::string> args) const {
  args.insert(args.begin(), {"netns", "exec", name(host), findProgram("iptables"), "-w"});
  if (auto st = runChecked(ipPath_, std::move(args)); !st) return makeError(name(host) + ": " + st.error().message);
  return Ok{};
}

Status NetnsHosts::ip(std::vector<std::string> args) { return runChecked(ipPath_, std::move(args)); }

Status NetnsHosts::setUp(int count) {
  ipPath_ = findProgram("ip");
  if (ipPath_.empty()) return makeError("`ip` (iproute2) is not installed");
  const std::string pid = std::to_string(::getpid());
  prefix_ = "qm-" + pid;
  switchNs_ = prefix_ + "-sw";
  rootLink_ = "qm" + pid + "r";  // interface names are limited to 15 characters

  // Leftovers of a crashed run that had our pid: that process is gone, so they are garbage.
  std::istringstream listed(runCommand({ipPath_, "netns", "list"}, 10s).output);
  for (std::string line; std::getline(listed, line);)
    if (line.rfind(prefix_ + "-", 0) == 0) (void)ip({"netns", "del", line.substr(0, line.find(' '))});
  if (runCommand({ipPath_, "link", "show", rootLink_}, 10s).exit_code == 0) (void)ip({"link", "del", rootLink_});

  // A /24 the root namespace does not use yet (the hosts' own stacks are private; only our
  // address on the switch and its route could clash), starting from one picked by pid.
  const std::string used = "\n" + runCommand({ipPath_, "-o", "-4", "addr", "show"}, 10s).output +
                           runCommand({ipPath_, "-4", "route", "show", "table", "all"}, 10s).output;
  for (int k = 0; k < 50 * 256 && subnet_.empty(); ++k) {
    const int n = (::getpid() + k) % (50 * 256);
    const std::string candidate = "10." + std::to_string(200 + n / 256) + "." + std::to_string(n % 256);
    if (used.find(" " + candidate + ".") == std::string::npos && used.find("\n" + candidate + ".") == std::string::npos)
      subnet_ = candidate;
  }
  if (subnet_.empty()) return makeError("no free 10.200-249.x.0/24 subnet in the root namespace");

  Status st = ip({"netns", "add", switchNs_});
  if (!st) return st;
  created_.push_back(switchNs_);
  const std::vector<std::string> sw = {"-n", switchNs_};
  const auto inSwitch = [&](std::vector<std::string> args) {
    args.insert(args.begin(), sw.begin(), sw.end());
    return ip(std::move(args));
  };
  if (st = inSwitch({"link", "add", "br0", "type", "bridge"}); !st) return st;
  if (st = inSwitch({"link", "set", "dev", "br0", "up"}); !st) return st;

  if (st = ip({"link", "add", rootLink_, "type", "veth", "peer", "name", "uplink", "netns", switchNs_}); !st) return st;
  rootLinkCreated_ = true;
  if (st = inSwitch({"link", "set", "dev", "uplink", "master", "br0", "up"}); !st) return st;
  if (st = ip({"addr", "add", rootAddress() + "/24", "dev", rootLink_}); !st) return st;
  if (st = ip({"link", "set", "dev", rootLink_, "up"}); !st) return st;

  for (int i = 0; i < count; ++i) {
    const std::string ns = prefix_ + "-h" + std::to_string(i + 1);
    const std::string port = "h" + std::to_string(i + 1);
    if (st = ip({"netns", "add", ns}); !st) return st;
    created_.push_back(ns);
    hosts_.push_back(ns);
    if (st = ip({"-n", ns, "link", "set", "dev", "lo", "up"}); !st) return st;
    if (st = inSwitch({"link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns}); !st) return st;
    if (st = inSwitch({"link", "set", "dev", port, "master", "br0", "up"}); !st) return st;
    if (st = ip({"-n", ns, "addr", "add", address(i) + "/24", "dev", "eth0"}); !st) return st;
    if (st = ip({"-n", ns, "link", "set", "dev", "eth0", "up"}); !st) return st;
  }
  return Ok{};
}

void NetnsHosts::tearDown() {
  // Deleting a namespace destroys the veth ends inside it, and a veth pair dies whole; the
  // root link goes explicitly in case its switch side was never created.
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) (void)ip({"netns", "del", *it});
  created_.clear();
  if (rootLinkCreated_ && runCommand({ipPath_, "link", "show", rootLink_}, 10s).exit_code == 0)
    (void)ip({"link", "del", rootLink_});
  rootLinkCreated_ = false;
}

}  // namespace qmesh::test
