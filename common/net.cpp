#include "common/net.h"

#include "common/logging.h"

namespace qmesh {

void logEscapedException(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{} ended by an unexpected exception: {}", what, ex.what());
  } catch (...) {
    spdlog::error("{} ended by an unexpected exception", what);
  }
}

}  // namespace qmesh
