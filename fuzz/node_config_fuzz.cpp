// The node's YAML config (common/node_config.h), from a string: parseNodeConfig is what
// loadNodeConfig runs on the file's text. A config is local, but it is often pasted from
// elsewhere, and a bad one must be an error that says what and where, never a crash.
#include <string>

#include "common/node_config.h"
#include "fuzz/fuzz_support.h"

using namespace qmesh;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  auto config = parseNodeConfig(yaml, "/fuzz/node.yaml");
  if (!config) FUZZ_CHECK(!config.error().message.empty());
  return 0;
}
