// `qmesh-supervisor invite` and `qmesh-supervisor keys`: they read and edit the mesh key
// file and never spawn anything; a running node is told to reload through its control API.
#include <unistd.h>

#include <iostream>

#include "common/mesh_setup.h"
#include "supervisor/commands.h"
#include "supervisor/control_client.h"
#include "supervisor/exit_codes.h"
#include "supervisor/mesh_key_edits.h"

namespace qmesh {

namespace fs = std::filesystem;

namespace {

int fail(int code, const std::string& message) {
  std::cerr << "qmesh-supervisor: " << message << "\n";
  return code;
}

// A key typed on the command line shows in `ps`; "-" reads it from stdin instead.
std::string keyArgument(const std::string& arg) {
  if (arg != "-") return arg;
  std::string line;
  std::getline(std::cin, line);
  return line;
}

// After the file changed: a running router must re-read it, or it keeps the old keys until
// its next restart. Not running is fine: the router reads the file when it starts.
int tellRunningNode(const NodeConfig& c) {
  const auto post = controlPost(c, "/mesh/reload-keys");
  const ControlReply& reply = post.reply;
  if (!reply.reached) {
    std::cout << "the node is not running (nothing answers on " << c.node.control.str()
              << "): its router reads the key file when it starts\n";
    return exit_code::kOk;
  }
  switch (reply.status) {
    case 200:
      std::cout << "told the running router to reload its keys\n";
      return exit_code::kOk;
    case 202:
      std::cout << "the router is starting: the supervisor tells it to reload its keys once it is ready\n";
      return exit_code::kOk;
    case 409:
      std::cout << "the node is running without a router process at the moment: the router reads the "
                   "key file when it starts\n";
      return exit_code::kOk;
    case 401:
    case 403:
      return fail(exit_code::kRefused, "the key file was updated, but " + post.refusal());
    default:
      return fail(exit_code::kRuntime,
                  "the key file was updated, but the supervisor on " + c.node.control.str() +
                      " did not take the reload request (HTTP " + std::to_string(reply.status) +
                      "): restart the router with `qmesh-supervisor restart --config " +
                      c.file.string() + " router`");
  }
}

int listKeys(const NodeConfig& c, const MeshKeyFile& file) {
  std::cout << c.mesh.key_file.string() << ": " << file.keys.size()
            << (file.keys.size() == 1 ? " key" : " keys") << " (fingerprints; the keys are secret)\n"
            << describeKeys(file);
  if (!c.mesh.enabled())
    std::cout << "note: the mesh is disabled (mesh.gossip has port 0), so no key is in use\n";
  return exit_code::kOk;
}

// install, use, remove: edit, write atomically, tell the node.
int editKeys(const NodeConfig& c, std::optional<MeshKeyFile> existing, KeysAction action,
             const std::string& keyArg) {
  MeshKeyFile file = existing.value_or(MeshKeyFile{});
  auto key = resolveKeyArgument(file, keyArgument(keyArg));
  if (!key) return fail(exit_code::kConfig, key.error().message);
  const std::string fp = meshKeyFingerprint(*key);
  Result<bool> changed = false;
  if (action == KeysAction::Install) changed = installKey(file, *key);
  else if (action == KeysAction::Use) changed = useKey(file, *key);
  else changed = removeKey(file, *key);
  if (!changed) return fail(exit_code::kConfig, changed.error().message);
  if (!*changed) {
    std::cout << "key " << fp << (action == KeysAction::Install ? " is already installed" : " is already the primary")
              << ": nothing to change\n";
    return exit_code::kOk;
  }
  if (auto s = writeMeshKeyFile(c.mesh.key_file, file); !s) return fail(exit_code::kRuntime, s.error().message);
  if (action == KeysAction::Install)
    std::cout << "installed key " << fp << " in " << c.mesh.key_file.string()
              << (file.keys.size() == 1 ? " (created; the only key, so the primary)\n" : " (opens only; `keys use` makes it primary)\n");
  else if (action == KeysAction::Use)
    std::cout << "key " << fp << " is now the primary in " << c.mesh.key_file.string() << "\n";
  else
    std::cout << "removed key " << fp << " from " << c.mesh.key_file.string() << "\n";
  return tellRunningNode(c);
}

}  // namespace

int runInvite(const fs::path& configFile) {
  auto config = loadNodeConfig(configFile);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  auto token = createInviteToken(*config);
  if (!token) return fail(exit_code::kConfig, token.error().message);
  std::cout << *token << "\n";
  if (::isatty(STDERR_FILENO))
    std::cerr << "(the token contains the mesh key: send it over a channel you trust. The new node "
                 "saves it to a file and runs: qmesh-supervisor start --config node.yaml --join-file FILE)\n";
  return exit_code::kOk;
}

int runKeys(const fs::path& configFile, KeysAction action, const std::string& keyArg) {
  if (action == KeysAction::Generate) {
    std::cout << encodeMeshKey(generateMeshKey()) << "\n";
    return exit_code::kOk;
  }
  if (configFile.empty())
    return fail(exit_code::kConfig, "keys needs --config node.yaml (the node whose key file to use)");
  auto config = loadNodeConfig(configFile);
  if (!config) return fail(exit_code::kConfig, "config error:\n" + config.error().message);
  const fs::path& path = config->mesh.key_file;
  std::error_code ec;
  std::optional<MeshKeyFile> file;
  if (fs::exists(path, ec)) {
    auto read = readMeshKeyFile(path);
    if (!read) return fail(exit_code::kConfig, read.error().message);
    file = std::move(*read);
  } else if (action != KeysAction::Install) {
    return fail(exit_code::kConfig,
                "no mesh key file at " + path.string() +
                    ": start the node once with the mesh enabled (it creates the key of a new mesh, "
                    "or takes the key of an invite with --join), or `keys install KEY`");
  }
  if (action == KeysAction::List) return listKeys(*config, *file);
  return editKeys(*config, std::move(file), action, keyArg);
}

}  // namespace qmesh
