// runResilient: the supervisor's last line against an exception escaping a handler.
#include "supervisor/event_loop.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <stdexcept>

namespace qmesh {
namespace {

TEST(RunResilientTest, LogsCountsAndResumesAfterThrowingHandlers) {
  boost::asio::io_context io;
  uint64_t exceptions = 0;
  bool after = false;
  boost::asio::post(io, [] { throw std::runtime_error("bad input"); });
  boost::asio::post(io, [] { throw 42; });
  boost::asio::post(io, [&] { after = true; });
  runResilient(io, exceptions);
  EXPECT_EQ(exceptions, 2u);
  EXPECT_TRUE(after) << "the handler queued after the throwing ones still ran";
}

TEST(RunResilientTest, ReturnsWhenTheLoopIsStopped) {
  boost::asio::io_context io;
  uint64_t exceptions = 0;
  boost::asio::post(io, [&] { io.stop(); });
  runResilient(io, exceptions);
  EXPECT_EQ(exceptions, 0u);
}

}  // namespace
}  // namespace qmesh
