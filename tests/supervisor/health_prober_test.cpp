// CurlHealthProber against real sockets: a tiny fake /health server (named as such) that
// answers with a chosen status or never answers, and a port nobody listens on.
#include "supervisor/health_prober.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <optional>
#include <thread>

#include "tests/support/test_env.h"

namespace qmesh {
namespace {

using namespace std::chrono_literals;

// Fake /health server: accepts connections and replies `status` (or stays silent if 0).
class FakeHealthServer {
 public:
  explicit FakeHealthServer(int status) : status_(status) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeHealthServer() {
    ::shutdown(listener_.fd(), SHUT_RDWR);  // unblocks accept(); the fd stays valid until join
    thread_.join();
    for (int c : clients_) ::close(c);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(listener_.port()) + "/health"; }

 private:
  void serve() {
    const int fd = listener_.fd();
    while (true) {
      const int c = ::accept(fd, nullptr, nullptr);
      if (c < 0) return;
      clients_.push_back(c);
      if (status_ == 0) continue;  // hung: accept, then never answer
      char buf[1024];
      (void)!::read(c, buf, sizeof buf);
      const std::string body = status_ == 200 ? R"({"status":"ok"})" : R"({"error":"loading"})";
      const std::string resp = "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      (void)!::write(c, resp.data(), resp.size());
    }
  }
  int status_;
  test::LoopbackListener listener_;
  std::vector<int> clients_;
  std::thread thread_;
};

// Runs the deliver hop inline: results arrive on the prober's thread, handed to a promise.
// nullopt when no result came within 10 s: the caller fails then instead of hanging in get().
// (The promise outlives the prober, whose destructor joins the thread that would set it.)
std::optional<HealthResult> probeOnce(const std::string& url, Millis timeout) {
  std::promise<HealthResult> result;
  CurlHealthProber prober([](std::function<void()> f) { f(); });
  prober.probe(url, timeout, [&](const HealthResult& r) { result.set_value(r); });
  auto future = result.get_future();
  if (future.wait_for(10s) != std::future_status::ready) return std::nullopt;
  return future.get();
}

TEST(CurlHealthProber, ClassifiesOkAsReady) {
  FakeHealthServer server(200);
  const auto r = probeOnce(server.url(), 2000ms);
  ASSERT_TRUE(r) << "no probe result within 10 s";
  EXPECT_EQ(r->outcome, HealthOutcome::Ready) << r->detail;
  EXPECT_EQ(r->http_status, 200);
}

TEST(CurlHealthProber, Classifies503AsLoading) {
  FakeHealthServer server(503);
  const auto r = probeOnce(server.url(), 2000ms);
  ASSERT_TRUE(r) << "no probe result within 10 s";
  EXPECT_EQ(r->outcome, HealthOutcome::Loading);
}

TEST(CurlHealthProber, ClassifiesOtherStatusAsHttpError) {
  FakeHealthServer server(500);
  const auto r = probeOnce(server.url(), 2000ms);
  ASSERT_TRUE(r) << "no probe result within 10 s";
  EXPECT_EQ(r->outcome, HealthOutcome::HttpError);
  EXPECT_EQ(r->http_status, 500);
}

TEST(CurlHealthProber, ClassifiesClosedPortAsRefused) {
  const uint16_t port = test::freeLoopbackPort();
  const auto r = probeOnce("http://127.0.0.1:" + std::to_string(port) + "/health", 2000ms);
  ASSERT_TRUE(r) << "no probe result within 10 s";
  EXPECT_EQ(r->outcome, HealthOutcome::Refused);
}

TEST(CurlHealthProber, ClassifiesSilentServerAsTimeoutAfterTheTimeout) {
  FakeHealthServer server(0);
  const auto r = probeOnce(server.url(), 200ms);
  ASSERT_TRUE(r) << "no probe result within 10 s";
  EXPECT_EQ(r->outcome, HealthOutcome::Timeout) << r->detail;
  EXPECT_GE(r->latency, 190ms);
}

TEST(CurlHealthProber, AHungProbeDoesNotDelayOthers) {
  FakeHealthServer hung(0), ok(200);
  std::promise<HealthResult> slow, fast;  // outlive the prober, which may still set them
  CurlHealthProber prober([](std::function<void()> f) { f(); });
  prober.probe(hung.url(), 3000ms, [&](const HealthResult& r) { slow.set_value(r); });
  prober.probe(ok.url(), 3000ms, [&](const HealthResult& r) { fast.set_value(r); });
  auto f = fast.get_future();
  ASSERT_EQ(f.wait_for(2500ms), std::future_status::ready) << "the ok probe waited for the hung one";
  EXPECT_EQ(f.get().outcome, HealthOutcome::Ready);
  auto s = slow.get_future();
  ASSERT_EQ(s.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(s.get().outcome, HealthOutcome::Timeout);
}

TEST(CurlHealthProber, ManyConcurrentProbesAllComplete) {
  FakeHealthServer server(200);
  constexpr int kProbes = 50;
  std::atomic<int> ready{0};
  std::promise<void> all;  // outlives the prober, which may still set it
  CurlHealthProber prober([](std::function<void()> f) { f(); });
  for (int i = 0; i < kProbes; ++i)
    prober.probe(server.url(), 5000ms, [&](const HealthResult& r) {
      if (r.outcome == HealthOutcome::Ready && ++ready == kProbes) all.set_value();
    });
  EXPECT_EQ(all.get_future().wait_for(20s), std::future_status::ready) << ready.load();
}

}  // namespace
}  // namespace qmesh
