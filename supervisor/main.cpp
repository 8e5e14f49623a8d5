// qmesh-supervisor: the one command an operator types on each node.
#include <CLI/CLI.hpp>

#include "supervisor/commands.h"
#include "supervisor/exit_codes.h"

int main(int argc, char** argv) {
  CLI::App app{"qmesh-supervisor: runs this node's llama-server(s) and qmesh-router, restarts "
               "them when they crash or hang, and stops them all cleanly."};
  app.set_version_flag("--version", std::string("qmesh-supervisor ") + QMESH_VERSION);
  app.footer(
      "Exit codes: 0 ok, 1 runtime error, 2 config or usage error, 3 invalid model file,\n"
      "4 address in use, 5 no supervisor running, 6 llama-server or qmesh-router missing.");
  app.require_subcommand(1);

  std::string config;
  bool json = false;
  std::string child;
  auto* start = app.add_subcommand("start", "Start the node in the foreground until SIGINT/SIGTERM");
  start->add_option("--config,-c", config, "Node YAML config")->required();
  auto* status = app.add_subcommand("status", "Show the running node's children");
  status->add_option("--config,-c", config, "Node YAML config")->required();
  status->add_flag("--json", json, "Print the raw JSON from the control API");
  auto* stop = app.add_subcommand("stop", "Stop the running node (all children) gracefully");
  stop->add_option("--config,-c", config, "Node YAML config")->required();
  auto* restart = app.add_subcommand("restart", "Restart one child; also clears a crash-loop 'failed'");
  restart->add_option("--config,-c", config, "Node YAML config")->required();
  restart->add_option("child", child, "Model name, or 'router'")->required();
  std::string checkFile;
  auto* check = app.add_subcommand("check-config", "Validate a config and its model files");
  check->add_option("file", checkFile, "Node YAML config")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : qmesh::exit_code::kConfig;
  }
  if (*start) return qmesh::runStart(config);
  if (*status) return qmesh::runStatus(config, json);
  if (*stop) return qmesh::runStop(config);
  if (*restart) return qmesh::runRestart(config, child);
  if (*check) return qmesh::runCheckConfig(checkFile);
  return qmesh::exit_code::kConfig;
}
