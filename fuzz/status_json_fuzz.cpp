// The supervisor's GET /status JSON as the router consumes it (parseSupervisorStatus in
// router/routing/worker_directory.h, called by router/status_client.cpp). The supervisor is
// local, but a wrong or hostile process on the control port must not take the router down.
// What parses is applied to a WorkerDirectory, twice: applying the same snapshot again
// changes nothing.
#include <algorithm>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "router/routing/worker_directory.h"

using namespace qmesh::router;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto snapshot = parseSupervisorStatus(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!snapshot) {
    FUZZ_CHECK(!snapshot.error().message.empty());
    return 0;
  }
  for (const auto& w : snapshot->workers) FUZZ_CHECK(w.slots >= 1);
  WorkerDirectory dir;
  dir.apply(*snapshot);
  const auto models = dir.models();
  const auto workers = dir.all().size();
  dir.apply(*snapshot);
  FUZZ_CHECK(dir.models() == models && dir.all().size() == workers);
  FUZZ_CHECK(dir.generation() == snapshot->generation);
  for (const auto& w : snapshot->workers) FUZZ_CHECK(dir.knows(w.model));
  return 0;
}
