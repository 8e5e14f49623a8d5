#include "supervisor/process_launcher.h"

#include "supervisor/output_pump.h"

namespace qmesh {

ProcessLauncher::ProcessLauncher(boost::asio::io_context& io, std::string name,
                                 CommandFactory factory)
    : io_(io), name_(std::move(name)), factory_(std::move(factory)) {}

// An output pump holds its instance's LoadProgress until the pipe closes, maybe after us.
ProcessLauncher::~ProcessLauncher() {
  if (progress_) progress_->disarm();
}

Result<ChildLauncher::Launched> ProcessLauncher::launch() {
  auto command = factory_();
  if (!command) return command.error();
  auto child = ChildProcess::spawn({command->argv, true}, command->env);
  if (!child) return child.error();
  child_.emplace(std::move(*child));
  // The tail outlives each process: after a crash it still shows how the last one ended.
  tail_->add("--- qmesh: started pid " + std::to_string(child_->pid()) + " ---");
  if (progress_) progress_->disarm();  // the last instance's pump may still be draining
  progress_ = std::make_shared<LoadProgress>(onProgress_);
  if (int fd = child_->takeOutputFd(); fd >= 0) startOutputPump(io_, fd, name_, tail_, progress_);
  return Launched{child_->pid(), command->port, command->host};
}

void ProcessLauncher::signal(int sig) {
  if (child_) child_->signalGroup(sig);
}

std::optional<ExitStatus> ProcessLauncher::tryReap() {
  if (!child_) return std::nullopt;
  auto status = child_->tryReap();
  if (status) child_.reset();
  return status;
}

}  // namespace qmesh
