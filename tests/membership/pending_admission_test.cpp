// PendingAdmission: which unauthenticated connection is closed when a cap is reached.
#include "router/membership/pending_admission.h"

#include <gtest/gtest.h>

namespace qmesh::membership {
namespace {

namespace ip = net::ip;

const ip::address kA = ip::make_address("10.0.0.1");
const ip::address kB = ip::make_address("10.0.0.2");

TEST(PendingAdmission, OverThePerSourceCapTheOldestFromThatSourceIsEvicted) {
  PendingAdmission p({/*total=*/10, /*perSource=*/2});
  EXPECT_TRUE(p.admit(1, kA).empty());
  EXPECT_TRUE(p.admit(2, kB).empty());
  EXPECT_TRUE(p.admit(3, kA).empty());
  EXPECT_EQ(p.admit(4, kA), std::vector<uint64_t>{1});  // not 2: that is another source
  EXPECT_EQ(p.pendingFrom(kA), 2u);
  EXPECT_EQ(p.pendingFrom(kB), 1u);
  EXPECT_EQ(p.pending(), 3u);
  EXPECT_EQ(p.counters().evictedPerSourceCap, 1u);
  EXPECT_EQ(p.counters().evictedTotalCap, 0u);
}

TEST(PendingAdmission, OverTheTotalCapTheOldestOverallIsEvicted) {
  PendingAdmission p({/*total=*/3, /*perSource=*/10});
  p.admit(1, kA);
  p.admit(2, kB);
  p.admit(3, kB);
  EXPECT_EQ(p.admit(4, kB), std::vector<uint64_t>{1});
  EXPECT_EQ(p.pending(), 3u);
  EXPECT_EQ(p.pendingFrom(kA), 0u);
  EXPECT_EQ(p.counters().evictedTotalCap, 1u);
}

TEST(PendingAdmission, ReleasedConnectionsFreeTheirPlaceAndReleaseIsIdempotent) {
  PendingAdmission p({/*total=*/2, /*perSource=*/2});
  p.admit(1, kA);
  p.admit(2, kA);
  p.release(1);
  p.release(1);  // an evicted id finishing later: nothing happens
  EXPECT_TRUE(p.admit(3, kA).empty());
  EXPECT_EQ(p.pendingFrom(kA), 2u);
  EXPECT_EQ(p.counters().evictedPerSourceCap + p.counters().evictedTotalCap, 0u);
}

TEST(PendingAdmission, AnIpv4MappedSourceIsTheSameSourceAsItsIpv4Address) {
  PendingAdmission p({/*total=*/10, /*perSource=*/1});
  p.admit(1, kA);
  EXPECT_EQ(p.admit(2, ip::make_address("::ffff:10.0.0.1")), std::vector<uint64_t>{1});
}

}  // namespace
}  // namespace qmesh::membership
