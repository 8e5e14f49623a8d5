#include "common/install_paths.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>

namespace qmesh {

namespace fs = std::filesystem;

fs::path qmeshHome() {
  if (const char* env = std::getenv("QMESH_HOME"); env && *env) return fs::path(env);
#ifdef QMESH_SOURCE_ROOT
  if (fs::exists(fs::path(QMESH_SOURCE_ROOT) / "third_party_bins")) return QMESH_SOURCE_ROOT;
#endif
  // A relocated tree: walk up from the executable until third_party_bins/ appears.
  std::error_code ec;
  for (fs::path p = fs::read_symlink("/proc/self/exe", ec).parent_path(); !ec && !p.empty();
       p = p.parent_path()) {
    if (fs::exists(p / "third_party_bins")) return p;
    if (p == p.root_path()) break;
  }
  return fs::current_path();
}

std::string platformName() {
  utsname u{};
  uname(&u);
  const std::string machine = u.machine;
  const std::string arch = machine == "x86_64" ? "x64" : machine == "aarch64" ? "arm64" : machine;
  return "linux-" + arch;
}

Result<fs::path> resolveLlamaServer(const fs::path& configured) {
  const bool fromConfig = !configured.empty();
  const fs::path path =
      fromConfig ? configured : qmeshHome() / "third_party_bins" / platformName() / "llama-server";
  const std::string fix = fromConfig
      ? "fix node.llama_server in the config, or remove it to use the packaged binary"
      : "build it with scripts/build-llama-server.sh (scripts/setup.sh does this), "
        "or set node.llama_server in the config";
  std::error_code ec;
  if (!fs::exists(path, ec)) return makeError("llama-server not found at " + path.string() + ": " + fix);
  if (fs::is_directory(path, ec))
    return makeError("llama-server path " + path.string() + " is a directory: " + fix);
  if (access(path.c_str(), X_OK) != 0)
    return makeError("llama-server at " + path.string() + " is not executable: " + fix);
  return path;
}

fs::path builtinModelPath(const std::string& name) {
  return qmeshHome() / "third_party_bins" / "models" / (name + ".gguf");
}

}  // namespace qmesh
