#include "supervisor/health_prober.h"

#include <curl/curl.h>

#include <chrono>
#include <map>
#include <memory>

namespace qmesh {

const char* toString(HealthOutcome o) {
  switch (o) {
    case HealthOutcome::Ready: return "ready";
    case HealthOutcome::Loading: return "loading";
    case HealthOutcome::HttpError: return "http-error";
    case HealthOutcome::Refused: return "refused";
    case HealthOutcome::Timeout: return "timeout";
  }
  return "?";
}

namespace {

size_t discardBody(char*, size_t size, size_t n, void*) { return size * n; }

struct InFlight {
  CurlHealthProber::Callback done;
  std::chrono::steady_clock::time_point started;
};

HealthResult classify(CURL* easy, CURLcode rc, std::chrono::steady_clock::time_point started) {
  HealthResult r;
  r.latency = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.http_status);
    r.outcome = r.http_status == 200   ? HealthOutcome::Ready
                : r.http_status == 503 ? HealthOutcome::Loading
                                       : HealthOutcome::HttpError;
    r.detail = "HTTP " + std::to_string(r.http_status);
  } else {
    r.outcome = rc == CURLE_OPERATION_TIMEDOUT ? HealthOutcome::Timeout : HealthOutcome::Refused;
    r.detail = curl_easy_strerror(rc);
  }
  return r;
}

}  // namespace

CurlHealthProber::CurlHealthProber(Deliver deliver) : deliver_(std::move(deliver)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  multi_ = curl_multi_init();
  thread_ = std::thread([this] { run(); });
}

CurlHealthProber::~CurlHealthProber() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  thread_.join();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void CurlHealthProber::probe(const std::string& url, Millis timeout, Callback done) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Request{url, timeout, std::move(done)});
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void CurlHealthProber::run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  std::map<CURL*, InFlight> inFlight;
  while (true) {
    std::deque<Request> fresh;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      fresh.swap(queue_);
    }
    for (auto& req : fresh) {
      CURL* easy = curl_easy_init();
      curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
      curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
      curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.timeout.count()));
      curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);  // a restarted child is a new server
      curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discardBody);
      curl_multi_add_handle(multi, easy);
      inFlight[easy] = InFlight{std::move(req.done), std::chrono::steady_clock::now()};
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      auto it = inFlight.find(easy);
      HealthResult result = classify(easy, msg->data.result, it->second.started);
      deliver_([done = std::move(it->second.done), result] { done(result); });
      inFlight.erase(it);
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
    }
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  for (auto& [easy, _] : inFlight) {
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
  }
}

}  // namespace qmesh
