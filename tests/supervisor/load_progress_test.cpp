// llama-server's model-load progress read from its output (supervisor/load_progress.h).
#include "supervisor/load_progress.h"

#include <gtest/gtest.h>

#include <string>

namespace qmesh {
namespace {

TEST(LoadProgressTest, CountsTheDotsOfTheProgressLineAsTheyArrive) {
  LoadProgress p;
  p.feed("load_tensors: loading model tensors, this can take a while... (load_mode = mmap)\n");
  EXPECT_FALSE(p.value()) << "the dots of a sentence are no progress";
  p.feed(std::string(25, '.'));
  ASSERT_TRUE(p.value());
  EXPECT_DOUBLE_EQ(*p.value(), 0.25) << "a line still open must count";
  p.feed(std::string(50, '.'));
  EXPECT_DOUBLE_EQ(*p.value(), 0.75);
  p.feed(std::string(25, '.') + "\n");
  EXPECT_DOUBLE_EQ(*p.value(), 1.0);
}

TEST(LoadProgressTest, LaterLinesNeverMoveItBackOrPastOne) {
  LoadProgress p;
  p.feed(std::string(100, '.') + "\nllama_context: n_ctx = 256\n...\n" + std::string(130, '.'));
  EXPECT_DOUBLE_EQ(*p.value(), 1.0);
}

}  // namespace
}  // namespace qmesh
