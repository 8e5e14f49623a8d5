// ctest passes QMESH_SOURCE_DIR and QMESH_BUILD_DIR in the environment; when a runner drops
// one (or the binary is run by hand), fall back to the tree this binary was built from so
// the integration tests find llama-server and the demo model instead of silently skipping.
#include <cstdlib>

namespace {
const bool kDefaults = [] {
  setenv("QMESH_SOURCE_DIR", QMESH_TEST_SOURCE_DIR, 0);
  setenv("QMESH_BUILD_DIR", QMESH_TEST_BUILD_DIR, 0);
  return true;
}();
}  // namespace
