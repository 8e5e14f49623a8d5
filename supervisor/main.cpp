// qmesh-supervisor: the one command an operator types on each node.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "supervisor/commands.h"
#include "supervisor/exit_codes.h"
#include "supervisor/join_token.h"

namespace {

// keys' own subcommands; each accepts --config after it too (falls through to `keys`).
CLI::App* keyAction(CLI::App* keys, const char* name, const char* help, std::string* keyArg,
                    const char* keyHelp = nullptr) {
  auto* sub = keys->add_subcommand(name, help);
  sub->fallthrough();
  if (keyArg) sub->add_option("key", *keyArg, keyHelp)->required();
  return sub;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qmesh-supervisor: runs this node's llama-server(s) and qmesh-router, restarts "
               "them when they crash or hang, and stops them all cleanly."};
  app.set_version_flag("--version", std::string("qmesh-supervisor ") + QMESH_VERSION);
  app.footer(
      "Exit codes: 0 ok, 1 runtime error, 2 config or usage error, 3 invalid model file,\n"
      "4 address in use, 5 no supervisor running, 6 llama-server or qmesh-router missing,\n"
      "7 control token refused; model downloads: 8 HTTP error (404...), 9 connection or TLS\n"
      "failure, 10 stalled server, 11 sha256 mismatch, 12 no disk space.\n"
      "Mesh: the first node starts with mesh.gossip set and creates the mesh key; `invite` on it\n"
      "prints a token; other nodes run `start --config node.yaml --join-file FILE` (or --join -\n"
      "with the token on stdin, or QMESH_JOIN=TOKEN in the environment).");
  app.require_subcommand(1);

  std::string config;
  bool json = false;
  std::string child;
  std::string join, joinFile;
  auto* start = app.add_subcommand("start", "Start the node in the foreground until SIGINT/SIGTERM (which drain it)");
  start->add_option("--config,-c", config, "Node YAML config")->required();
  auto* joinOpt = start->add_option(
      "--join", join,
      "'-': read an invite token (from `qmesh-supervisor invite` on a node of the mesh) from "
      "stdin: installs its mesh key as primary (once) and adds its seeds; overrides mesh.join. "
      "A token here is refused: it would show in `ps`");
  auto* joinFileOpt = start->add_option("--join-file", joinFile,
                                        "Read the invite token from this file instead (or set QMESH_JOIN)");
  auto* status = app.add_subcommand("status", "Show the running node's children");
  status->add_option("--config,-c", config, "Node YAML config")->required();
  status->add_flag("--json", json, "Print the raw JSON from the control API");
  auto* stop = app.add_subcommand("stop", "Stop the running node now: SIGTERM to every child at once (no drain)");
  stop->add_option("--config,-c", config, "Node YAML config")->required();
  auto* drain = app.add_subcommand("drain",
                                   "Drain the running node, then stop it: no new requests, streams in flight finish "
                                   "(until node.drain_timeout, then continue on other nodes), the node leaves the "
                                   "mesh. As SIGTERM does");
  drain->add_option("--config,-c", config, "Node YAML config")->required();
  auto* restart = app.add_subcommand("restart", "Restart one child; also clears a crash-loop 'failed'");
  restart->add_option("--config,-c", config, "Node YAML config")->required();
  restart->add_option("child", child, "Model name, or 'router'")->required();
  std::string loadName;
  auto* load = app.add_subcommand("load", "Start an unloaded model's llama-server (models[].load: on_demand), "
                                          "if node.memory_budget has room for it");
  load->add_option("--config,-c", config, "Node YAML config")->required();
  load->add_option("model", loadName, "Model name")->required();
  auto* unload = app.add_subcommand("unload", "Stop a model's llama-server until `load` (frees its memory)");
  unload->add_option("--config,-c", config, "Node YAML config")->required();
  unload->add_option("model", loadName, "Model name")->required();
  std::vector<std::string> pullNames;
  auto* pull = app.add_subcommand(
      "pull", "Download the models whose gguf is a URL and that are not on disk yet (checked "
              "against their sha256); `start` does it too. An interrupted download resumes");
  pull->add_option("--config,-c", config, "Node YAML config")->required();
  pull->add_option("name", pullNames, "Only these models (default: all)");
  std::string checkFile;
  auto* check = app.add_subcommand("check-config", "Validate a config and its model files");
  check->add_option("file", checkFile, "Node YAML config")->required();

  auto* invite = app.add_subcommand(
      "invite", "Print an invite token (one line) for another node to join this node's mesh. "
                "It carries the mesh key: treat it as a secret");
  invite->add_option("--config,-c", config, "Node YAML config")->required();

  std::string keyArg;
  auto* keys = app.add_subcommand(
      "keys", "Manage mesh.key_file (first key seals, all open). Rotate without downtime: "
              "install the new key on every node, then use it on every node, then remove the old");
  keys->add_option("--config,-c", config, "Node YAML config (not needed by generate)");
  keys->require_subcommand(1);
  auto* kList = keyAction(keys, "list", "Show the keys' fingerprints, primary first (never the keys)", nullptr);
  auto* kGenerate = keyAction(keys, "generate", "Print a new random key (base64); changes no file", nullptr);
  auto* kInstall = keyAction(keys, "install", "Add KEY: this node then opens what is sealed with it",
                             &keyArg, "The base64 key, or - to read it from stdin (keeps it out of ps)");
  auto* kUse = keyAction(keys, "use", "Make an installed KEY the primary: this node seals with it",
                         &keyArg, "The base64 key or its fingerprint from `keys list`, or - for stdin");
  auto* kRemove = keyAction(keys, "remove", "Remove an installed KEY (not the primary)", &keyArg,
                            "The base64 key or its fingerprint from `keys list`, or - for stdin");
  keys->footer("After a change, a running node's router is told to reload the file (SIGHUP).");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : qmesh::exit_code::kConfig;
  }
  using qmesh::KeysAction;
  if (*start) {
    qmesh::JoinFlags flags;
    if (joinOpt->count() > 0) flags.join = join;
    if (joinFileOpt->count() > 0) flags.join_file = joinFile;
    auto token = qmesh::resolveJoinToken(flags, std::cin, std::getenv(qmesh::kJoinEnv));
    if (!token) {
      std::cerr << "qmesh-supervisor: " << token.error().message << "\n";
      return qmesh::exit_code::kConfig;
    }
    // No child inherits it; the router alone is handed the token (NodeBinaries::router_env).
    ::unsetenv(qmesh::kJoinEnv);
    return qmesh::runStart(config, *token);
  }
  if (*status) return qmesh::runStatus(config, json);
  if (*stop) return qmesh::runStop(config);
  if (*drain) return qmesh::runDrain(config);
  if (*restart) return qmesh::runRestart(config, child);
  if (*check) return qmesh::runCheckConfig(checkFile);
  if (*pull) return qmesh::runPull(config, pullNames);
  if (*load) return qmesh::runLoad(config, loadName, true);
  if (*unload) return qmesh::runLoad(config, loadName, false);
  if (*invite) return qmesh::runInvite(config);
  if (*kList) return qmesh::runKeys(config, KeysAction::List, "");
  if (*kGenerate) return qmesh::runKeys(config, KeysAction::Generate, "");
  if (*kInstall) return qmesh::runKeys(config, KeysAction::Install, keyArg);
  if (*kUse) return qmesh::runKeys(config, KeysAction::Use, keyArg);
  if (*kRemove) return qmesh::runKeys(config, KeysAction::Remove, keyArg);
  return qmesh::exit_code::kConfig;
}
