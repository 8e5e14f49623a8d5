// Asks a child's /health endpoint how it is. llama-server answers 503 while it loads the
// model and 200 when it serves; a refused connection means it is not listening yet (or
// crashed), and a timeout means it is alive but not answering (hung, or SIGSTOPped).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/node_config.h"

namespace qmesh {

enum class HealthOutcome { Ready, Loading, HttpError, Refused, Timeout };
const char* toString(HealthOutcome o);

struct HealthResult {
  HealthOutcome outcome = HealthOutcome::Refused;
  long http_status = 0;
  Millis latency{0};
  std::string detail;  // curl's message or the status line, for logs
};

class HealthProber {
 public:
  using Callback = std::function<void(const HealthResult&)>;
  virtual ~HealthProber() = default;
  // Starts one probe; `done` runs exactly once, on the thread the implementation documents.
  virtual void probe(const std::string& url, Millis timeout, Callback done) = 0;
};

// Runs every probe of the process concurrently on one thread with libcurl's multi interface,
// so a hung child never stalls the supervisor's event loop. `done` is handed to `deliver`,
// which is expected to post it to the owner's thread.
class CurlHealthProber final : public HealthProber {
 public:
  using Deliver = std::function<void(std::function<void()>)>;
  explicit CurlHealthProber(Deliver deliver);
  ~CurlHealthProber() override;  // joins the thread; pending probes are dropped

  void probe(const std::string& url, Millis timeout, Callback done) override;

 private:
  struct Request {
    std::string url;
    Millis timeout;
    Callback done;
  };
  void run();

  Deliver deliver_;
  std::mutex mutex_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  void* multi_ = nullptr;  // CURLM*, kept opaque here so the header stays curl-free
  std::thread thread_;
};

}  // namespace qmesh
