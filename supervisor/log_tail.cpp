#include "supervisor/log_tail.h"

namespace qmesh {

LogTail::LogTail(std::size_t maxLines, std::size_t maxBytes) : maxLines_(maxLines), maxBytes_(maxBytes) {}

void LogTail::add(std::string_view line) {
  // One line longer than the whole budget keeps its start: the end would push out everything.
  if (line.size() > maxBytes_) line = line.substr(0, maxBytes_);
  lines_.emplace_back(line);
  bytes_ += line.size();
  while (lines_.size() > maxLines_ || bytes_ > maxBytes_) {
    bytes_ -= lines_.front().size();
    lines_.pop_front();
    ++dropped_;
  }
}

std::vector<std::string> LogTail::lines() const { return {lines_.begin(), lines_.end()}; }

}  // namespace qmesh
