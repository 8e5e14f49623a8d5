// Reads a child's stdout/stderr pipe on the event loop and logs each line, prefixed with the
// child's name, so operators find every process's output in the supervisor's one log.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

#include "supervisor/load_progress.h"
#include "supervisor/log_tail.h"

namespace qmesh {

// Takes ownership of `fd`; reads until EOF (the child and everything it forked are gone).
// Each line also goes into `tail` when given (log_tail.h); every chunk read, whole lines or
// not, into `progress` (load_progress.h: the dots of a line arrive one at a time).
void startOutputPump(boost::asio::io_context& io, int fd, std::string prefix, std::shared_ptr<LogTail> tail = nullptr,
                     std::shared_ptr<LoadProgress> progress = nullptr);

}  // namespace qmesh
