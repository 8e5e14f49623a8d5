// raiseFdLimit: a router and a supervisor start with the soft RLIMIT_NOFILE at the hard one.
#include "common/fd_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace qmesh {
namespace {

TEST(FdLimitTest, RaisesTheSoftLimitToTheHardLimit) {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 256) GTEST_SKIP() << "hard limit too low to lower under";
  rlimit low = rl;
  low.rlim_cur = 256;  // lowering the soft limit needs no privilege, and raising it back neither
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

  const FdLimit l = raiseFdLimit();
  EXPECT_TRUE(l.error.empty()) << l.error;
  EXPECT_EQ(l.before, 256u);
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, l.after);
  EXPECT_EQ(l.after, l.hard);
  EXPECT_GT(l.after, 256u);
  if (rl.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now.rlim_cur, rl.rlim_max);
  }
}

TEST(FdLimitTest, AlreadyAtTheHardLimitChangesNothing) {
  const FdLimit first = raiseFdLimit();
  const FdLimit again = raiseFdLimit();
  EXPECT_TRUE(again.error.empty()) << again.error;
  EXPECT_EQ(again.before, first.after);
  EXPECT_EQ(again.after, first.after);
}

}  // namespace
}  // namespace qmesh
