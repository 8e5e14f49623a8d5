// The ring of a child's last output lines behind GET /children/NAME/log.
#include "supervisor/log_tail.h"

#include <gtest/gtest.h>

using qmesh::LogTail;

TEST(LogTailTest, KeepsTheLastMaxLinesOldestFirst) {
  LogTail t(3, 1024);
  for (int i = 1; i <= 5; ++i) t.add("line " + std::to_string(i));
  EXPECT_EQ(t.lines(), (std::vector<std::string>{"line 3", "line 4", "line 5"}));
  EXPECT_EQ(t.dropped(), 2u);
}

TEST(LogTailTest, DropsOldLinesToStayUnderMaxBytes) {
  LogTail t(100, 10);
  t.add("aaaa");
  t.add("bbbb");
  t.add("cccc");  // 12 bytes in all: the first goes
  EXPECT_EQ(t.lines(), (std::vector<std::string>{"bbbb", "cccc"}));
  EXPECT_EQ(t.dropped(), 1u);
}

TEST(LogTailTest, LineLongerThanTheBudgetKeepsItsStartAlone) {
  LogTail t(100, 8);
  t.add("old");
  t.add(std::string(1000, 'x'));
  EXPECT_EQ(t.lines(), (std::vector<std::string>{std::string(8, 'x')}));
}

TEST(LogTailTest, EmptyUntilSomethingIsWritten) {
  LogTail t;
  EXPECT_TRUE(t.lines().empty());
  EXPECT_EQ(t.dropped(), 0u);
}
