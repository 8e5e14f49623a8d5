// The keepalive budget derived from router.header_timeout (dataplane/tcp_liveness.h), from a
// table: the first probe after half the limit of silence, the rest spread over the other
// half, TCP_USER_TIMEOUT at the limit (never below 1 s, the kernel's probe granularity).
#include "router/dataplane/tcp_liveness.h"

#include <gtest/gtest.h>

namespace qmesh::dataplane {
namespace {

using namespace std::chrono_literals;

struct Row {
  std::chrono::milliseconds limit;
  int idle, interval, probes;
  std::chrono::milliseconds userTimeout;
};

TEST(TcpLiveness, SpreadsProbesOverTheLimitAndAbortsAtIt) {
  const Row rows[] = {
      {10000ms, 5, 1, 5, 10000ms},  // the default header_timeout
      {2000ms, 1, 1, 1, 2000ms},
      {2500ms, 1, 1, 1, 2500ms},
      {60000ms, 30, 10, 3, 60000ms},
      {7000ms, 3, 1, 4, 7000ms},
      {100ms, 1, 1, 1, 1000ms},  // the smallest header_timeout: one second of silence at least
  };
  for (const Row& r : rows) {
    const TcpLiveness t = tcpLivenessFor(r.limit);
    EXPECT_EQ(t.idle.count(), r.idle) << r.limit.count();
    EXPECT_EQ(t.interval.count(), r.interval) << r.limit.count();
    EXPECT_EQ(t.probes, r.probes) << r.limit.count();
    EXPECT_EQ(t.userTimeout, r.userTimeout) << r.limit.count();
  }
}

}  // namespace
}  // namespace qmesh::dataplane
