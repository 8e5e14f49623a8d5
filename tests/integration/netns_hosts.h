// Network namespaces as hosts: a few "machines" on one kernel, each with its own network
// stack and its own iptables, wired to one L2 switch. Tests run real binaries inside them
// and cut, drop or heal traffic with iptables the way a real network would (tc netem is
// not available in our CI kernel, so loss and partitions are the tools; latency is
// injected in-process through the transport seam instead).
//
// Topology (every name carries the test's pid, so parallel runs and leftovers of a
// crashed run never collide):
//
//   root namespace                 qm-<pid>-sw (the switch)            qm-<pid>-h<i>
//   qm<pid>r 10.A.B.254/24 <-veth-> uplink --+-- br0 --+-- h<i> <-veth-> eth0 10.A.B.<i>/24
//                                                      +-- ...
//
// The bridge lives in its own namespace rather than the root one so the host's firewall
// (Docker's FORWARD DROP with br_netfilter, for one) never sees the test's traffic. The
// root side gets an address so the test process reaches every host's HTTP API directly.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "tests/support/test_process.h"

namespace qmesh::test {

// Why this machine cannot run namespace tests (no `ip` or `iptables`, not root, `ip netns
// add` refused, no veth or bridge support, iptables unusable inside a namespace), or
// nullopt when it can. Probed once per process, in a namespace of its own.
std::optional<std::string> netnsUnavailable();
// Why iptables' `-m statistic --mode random` (random packet loss) is unusable, or nullopt.
std::optional<std::string> iptablesLossUnavailable();

// Full path of a program found on $PATH or in the sbin directories (a test's PATH often
// lacks them), or "" when absent: TestProcess execs a path, it does not search.
std::string findProgram(const std::string& name);

class NetnsHosts {
 public:
  // Creates `count` hosts (1..200) on a fresh /24. On failure everything already created is
  // removed again and the error names the command that failed and its output.
  static Result<std::unique_ptr<NetnsHosts>> create(int count);
  ~NetnsHosts();  // deletes every namespace and link it created
  NetnsHosts(const NetnsHosts&) = delete;
  NetnsHosts& operator=(const NetnsHosts&) = delete;

  int size() const { return static_cast<int>(hosts_.size()); }
  const std::string& name(int host) const { return hosts_.at(host); }  // host is 0-based
  std::string address(int host) const;  // 10.A.B.<host+1>
  std::string rootAddress() const;      // the test process's address on the switch

  // argv to run a program inside a host: `ip netns exec <ns> argv...` (for TestProcess).
  std::vector<std::string> wrap(int host, std::vector<std::string> argv) const;
  // Runs a command inside a host to completion.
  CommandResult run(int host, std::vector<std::string> argv,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // `iptables -w ARGS...` inside a host; the error carries iptables' output.
  Status iptables(int host, std::vector<std::string> args) const;

 private:
  NetnsHosts() = default;
  Status setUp(int count);
  Status ip(std::vector<std::string> args);
  void tearDown();

  std::string ipPath_, prefix_, subnet_, switchNs_, rootLink_;
  std::vector<std::string> hosts_;
  std::vector<std::string> created_;  // namespaces to delete, in creation order
  bool rootLinkCreated_ = false;
};

}  // namespace qmesh::test
