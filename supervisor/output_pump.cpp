#include "supervisor/output_pump.h"

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>

#include "common/logging.h"

namespace qmesh {

namespace {

class OutputPump : public std::enable_shared_from_this<OutputPump> {
 public:
  OutputPump(boost::asio::io_context& io, int fd, std::string prefix, std::shared_ptr<LogTail> tail,
             std::shared_ptr<LoadProgress> progress)
      : stream_(io, fd), prefix_(std::move(prefix)), tail_(std::move(tail)), progress_(std::move(progress)) {}

  void read() {
    stream_.async_read_some(boost::asio::buffer(buf_),
                            [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                              self->onRead(ec, n);
                            });
  }

 private:
  static constexpr size_t kMaxLine = 16 * 1024;  // a runaway line is cut, not buffered forever

  void onRead(boost::system::error_code ec, size_t n) {
    if (progress_) progress_->feed(std::string_view(buf_.data(), n));
    pending_.append(buf_.data(), n);
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1)
      emit(pending_.substr(start, nl - start));
    pending_.erase(0, start);
    if (pending_.size() > kMaxLine) {
      emit(pending_);
      pending_.clear();
    }
    if (ec) {
      if (!pending_.empty()) emit(pending_);
      return;  // EOF or the loop is shutting down
    }
    read();
  }

  void emit(std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return;
    spdlog::info("[{}] {}", prefix_, line);
    if (tail_) tail_->add(line);
  }

  boost::asio::posix::stream_descriptor stream_;
  std::string prefix_;
  std::shared_ptr<LogTail> tail_;
  std::shared_ptr<LoadProgress> progress_;
  std::array<char, 4096> buf_{};
  std::string pending_;
};

}  // namespace

void startOutputPump(boost::asio::io_context& io, int fd, std::string prefix, std::shared_ptr<LogTail> tail,
                     std::shared_ptr<LoadProgress> progress) {
  std::make_shared<OutputPump>(io, fd, std::move(prefix), std::move(tail), std::move(progress))->read();
}

}  // namespace qmesh
