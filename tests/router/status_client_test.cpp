#include "router/status_client.h"

#include <gtest/gtest.h>

using namespace qmesh::router;
using std::chrono::milliseconds;

TEST(StatusClient, ReconnectDelayDoublesFrom100msAndCapsAt2s) {
  const std::pair<int, int> table[] = {{1, 100}, {2, 200}, {3, 400}, {4, 800}, {5, 1600}, {6, 2000}, {50, 2000}};
  for (auto [failures, ms] : table) EXPECT_EQ(statusRetryDelay(failures), milliseconds(ms)) << failures;
}
