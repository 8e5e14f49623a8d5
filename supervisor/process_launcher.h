// The real ChildLauncher: forks the command built for each spawn (a model gets a fresh free
// port every time) and pumps its output into the log.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <optional>

#include "supervisor/child_process.h"
#include "supervisor/child_supervisor.h"
#include "supervisor/log_tail.h"

namespace qmesh {

struct ChildCommand {
  std::vector<std::string> argv;
  uint16_t port = 0;  // where its /health answers
  std::string host = "127.0.0.1";  // and on which address (a router may listen on one IP only)
  std::vector<std::pair<std::string, std::string>> env;  // added to the child's environment
};

class ProcessLauncher final : public ChildLauncher {
 public:
  using CommandFactory = std::function<Result<ChildCommand>()>;
  ProcessLauncher(boost::asio::io_context& io, std::string name, CommandFactory factory);

  Result<Launched> launch() override;
  void signal(int sig) override;
  std::optional<ExitStatus> tryReap() override;
  // The last lines of its output, across restarts (GET /children/NAME/log).
  const LogTail& tail() const { return *tail_; }

 private:
  boost::asio::io_context& io_;
  std::string name_;
  CommandFactory factory_;
  std::optional<ChildProcess> child_;
  std::shared_ptr<LogTail> tail_ = std::make_shared<LogTail>();  // RAII: killed and reaped if the launcher dies first
};

}  // namespace qmesh
