// llama-server's model-load progress read from its output (supervisor/load_progress.h).
#include "supervisor/load_progress.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>

#include "supervisor/process_launcher.h"
#include "tests/support/test_env.h"

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

// The supervisor answers its long polls on each call: once per chunk that moved the value,
// never for output that is not progress, never past 100 %.
TEST(LoadProgressTest, TellsOfEachChunkThatMovedItOnce) {
  int moved = 0;
  LoadProgress p([&] { ++moved; });
  p.feed("llama_model_loader: loaded meta data... (version GGUF V3)\n");
  EXPECT_EQ(moved, 0);
  p.feed(".....");
  EXPECT_EQ(moved, 1) << "five dots in one chunk: one call";
  p.feed(".");
  EXPECT_EQ(moved, 2);
  p.feed(std::string(94, '.') + "\n" + std::string(20, '.'));
  EXPECT_EQ(moved, 3);
  p.feed(std::string(100, '.'));
  EXPECT_EQ(moved, 3) << "already at 1: nothing moved";
  p.disarm();
  LoadProgress q;
  q.feed("..");  // no callback: fine
  EXPECT_DOUBLE_EQ(*q.value(), 0.02);
}

// The wiring the supervisor's long polls hang on: a real child's dots, through the output
// pump, reach the launcher's callback (node_supervisor.cpp bumps its generation there).
TEST(LoadProgressTest, ProcessLauncherCallsBackAsItsChildPrintsDots) {
  boost::asio::io_context io;
  ProcessLauncher launcher(io, "dots", []() -> Result<ChildCommand> {
    return ChildCommand{{"/bin/sh", "-c", "printf 'load_tensors: loading\\n..........'; exec sleep 30"}, 0};
  });
  int moved = 0;
  launcher.onLoadProgress([&] { ++moved; });
  ASSERT_TRUE(launcher.launch());
  const bool loaded = test::waitUntil([&] {
    io.run_for(std::chrono::milliseconds(10));
    return moved > 0 && launcher.loadProgress() && *launcher.loadProgress() >= 0.1;
  }, std::chrono::seconds(10), std::chrono::milliseconds(1));
  EXPECT_TRUE(loaded) << "moved " << moved << " times";
  EXPECT_DOUBLE_EQ(launcher.loadProgress().value_or(-1), 0.1);
  launcher.signal(SIGKILL);
  EXPECT_TRUE(test::waitUntil([&] { return launcher.tryReap().has_value(); }, std::chrono::seconds(10)));
}

}  // namespace
}  // namespace qmesh
