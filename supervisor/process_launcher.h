// The real ChildLauncher: forks the command built for each spawn (a model gets a fresh free
// port every time) and pumps its output into the log.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <optional>

#include "supervisor/child_process.h"
#include "supervisor/child_supervisor.h"
#include "supervisor/load_progress.h"
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
  ~ProcessLauncher() override;
  // Runs (on the loop) whenever an instance's load progress moves (load_progress.h).
  void onLoadProgress(std::function<void()> f) { onProgress_ = std::move(f); }

  Result<Launched> launch() override;
  void signal(int sig) override;
  std::optional<ExitStatus> tryReap() override;
  // The last lines of its output, across restarts (GET /children/NAME/log).
  const LogTail& tail() const { return *tail_; }
  // The current instance's model-load progress (load_progress.h); nullopt before its dots.
  std::optional<double> loadProgress() const { return progress_ ? progress_->value() : std::nullopt; }

 private:
  boost::asio::io_context& io_;
  std::string name_;
  CommandFactory factory_;
  std::optional<ChildProcess> child_;
  std::shared_ptr<LogTail> tail_ = std::make_shared<LogTail>();
  std::function<void()> onProgress_;
  std::shared_ptr<LoadProgress> progress_;  // a new one per instance  // RAII: killed and reaped if the launcher dies first
};

}  // namespace qmesh
