#include "supervisor/event_loop.h"

#include <exception>

#include "common/logging.h"

namespace qmesh {

void runResilient(boost::asio::io_context& io, uint64_t& exceptions) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      ++exceptions;
      spdlog::error("event loop: a handler threw ({}); the supervisor carries on", e.what());
    } catch (...) {
      ++exceptions;
      spdlog::error("event loop: a handler threw a non-standard exception; the supervisor carries on");
    }
  }
}

}  // namespace qmesh
