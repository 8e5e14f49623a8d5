// The control API against hostile and unauthenticated requests: a real ControlApi and
// NodeSupervisor (no children) on an io_context thread. The loop runs with a bare
// io.run(), not runResilient(): an exception escaping a handler ends this test binary,
// as it used to end the supervisor.
#include "supervisor/control_api.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <thread>
#include <vector>

#include "supervisor/node_supervisor.h"
#include "tests/supervisor/raw_http.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

namespace qmesh {
namespace {

using namespace std::chrono_literals;

const std::string kToken(64, 'a');

class ControlApiTest : public ::testing::Test {
 protected:
  ControlApiTest() : node_(io_, config(), NodeBinaries{}, {}), api_(io_, node_, [this] { ++shutdowns_; }, kToken) {
    EXPECT_TRUE(api_.listen(control_));
    node_.start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ControlApiTest() override {
    boost::asio::post(io_, [this] {
      api_.close();
      node_.stop([this] { io_.stop(); });
    });
    thread_.join();
  }

  NodeConfig config() {
    NodeConfig c;
    c.node.name = "control-test";
    c.node.data_dir = dir_ / "data";
    c.node.control = control_;
    c.router.enabled = false;
    return c;
  }
  std::string url(const std::string& path) const { return "http://" + control_.str() + path; }
  test::HttpResponse post(const std::string& path, std::map<std::string, std::string> headers) {
    return test::httpRequest("POST", url(path), "", headers, 5s);
  }
  std::string raw(const std::string& bytes) { return test::rawExchange(control_.port, bytes); }
  bool statusAnswers() { return test::httpGet(url("/status"), 5s).status == 200; }

  test::TempDir dir_;
  HostPort control_{"127.0.0.1", test::freeLoopbackPort()};
  boost::asio::io_context io_;
  NodeSupervisor node_;
  std::atomic<int> shutdowns_{0};
  ControlApi api_;
  std::thread thread_;
};

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST_F(ControlApiTest, NonUtf8PathGets404WithReplacedTextAndTheApiKeepsAnswering) {
  const std::string reply = raw("GET /\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(startsWith(reply, "HTTP/1.1 404")) << reply;
  EXPECT_NE(reply.find("unknown endpoint GET /\xEF\xBF\xBD"), std::string::npos)
      << "invalid bytes are replaced by U+FFFD: " << reply;
  EXPECT_TRUE(statusAnswers());
}

TEST_F(ControlApiTest, NonUtf8ChildNameGets404AndTheApiKeepsAnswering) {
  const std::string reply = raw("POST /children/\xc3\x28/restart HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Authorization: Bearer " + kToken + "\r\nContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n");
  EXPECT_TRUE(startsWith(reply, "HTTP/1.1 404")) << reply;
  EXPECT_NE(reply.find("no child named"), std::string::npos) << reply;
  EXPECT_TRUE(statusAnswers());
}

TEST_F(ControlApiTest, GarbageRequestLineClosesOnlyThatConnection) {
  for (const std::string& bytes : {std::string("\x16\x03\x01\x02\x00\x01\x00\r\n\r\n"),
                                  std::string("GET\r\n\r\n"), std::string(9000, 'A') + "\r\n\r\n"})
    raw(bytes);
  EXPECT_TRUE(statusAnswers());
}

TEST_F(ControlApiTest, PostWithoutTokenIs401AndDoesNothing) {
  const auto r = post("/shutdown", {});
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.body.find("Authorization: Bearer TOKEN"), std::string::npos) << r.body;
  EXPECT_EQ(shutdowns_, 0);
  EXPECT_TRUE(statusAnswers());
}

TEST_F(ControlApiTest, PostWithWrongTokenIs403AndDoesNothing) {
  const auto r = post("/shutdown", {{"Authorization", "Bearer " + std::string(64, 'b')}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("wrong control token"), std::string::npos) << r.body;
  const auto prefix = post("/shutdown", {{"Authorization", "Bearer " + kToken.substr(0, 63)}});
  EXPECT_EQ(prefix.status, 403) << "a prefix of the token is not the token";
  EXPECT_EQ(shutdowns_, 0);
}

TEST_F(ControlApiTest, PostWithTheTokenIsServedWhateverTheSchemesCase) {
  const auto r = post("/children/nope/restart", {{"Authorization", "bearer " + kToken}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("no child named 'nope'"), std::string::npos) << r.body;
  const auto stop = post("/shutdown", {{"Authorization", "Bearer " + kToken}});
  EXPECT_EQ(stop.status, 202) << stop.body;
  EXPECT_TRUE(test::waitUntil([&] { return shutdowns_ == 1; }, 5s));
}

TEST_F(ControlApiTest, RequestWithAnOriginHeaderIsRefused) {
  const auto get = test::httpRequest("GET", url("/status"), "", {{"Origin", "http://evil.example"}}, 5s);
  EXPECT_EQ(get.status, 403) << get.body;
  EXPECT_NE(get.body.find("Origin header"), std::string::npos) << get.body;
  const auto stop = post("/shutdown", {{"Authorization", "Bearer " + kToken}, {"Origin", "null"}});
  EXPECT_EQ(stop.status, 403) << stop.body;
  EXPECT_EQ(shutdowns_, 0);
}

// DNS rebinding: a page whose name now resolves to 127.0.0.1 reads /status as same-origin.
TEST_F(ControlApiTest, RequestAddressedToAForeignHostIsRefused) {
  const std::string port = std::to_string(control_.port);
  const std::string foreign = raw("GET /status HTTP/1.1\r\nHost: rebind.example:" + port +
                                  "\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(startsWith(foreign, "HTTP/1.1 403")) << foreign;
  EXPECT_NE(foreign.find("is not a loopback address"), std::string::npos) << foreign;
  for (const std::string& host : {"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, std::string("127.0.0.1")}) {
    const std::string ok = raw("GET /status HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(startsWith(ok, "HTTP/1.1 200")) << host << ": " << ok;
  }
}

TEST_F(ControlApiTest, RefusalsAreCountedInMetrics) {
  post("/shutdown", {});
  post("/shutdown", {{"Authorization", "Bearer wrong"}});
  test::httpRequest("GET", url("/status"), "", {{"Origin", "http://a"}}, 5s);
  const auto m = test::httpGet(url("/metrics"), 5s).body;
  EXPECT_NE(m.find("qmesh_supervisor_control_requests_rejected_total{reason=\"unauthorized\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("qmesh_supervisor_control_requests_rejected_total{reason=\"forbidden\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("qmesh_supervisor_control_requests_rejected_total{reason=\"origin\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("qmesh_supervisor_event_loop_exceptions_total 0"), std::string::npos) << m;
}

// A flood of connections, or children holding descriptors, can make accept() fail with
// EMFILE. The API used to stop accepting for good at the first failed accept; now it
// retries, and the connection that waited in the backlog is served once descriptors free up.
TEST_F(ControlApiTest, AcceptFailingForLackOfDescriptorsIsRetriedAndTheWaitingClientServed) {
#ifdef __SANITIZE_ADDRESS__  // QMESH_SANITIZE=address is ASan + UBSan
  // UBSan's vptr check, on a type-cache miss, probes memory through a pipe(); with the table
  // full it cannot, and reports a false "invalid vptr" in spdlog/fmt on the retry path.
  // Runs in the plain build (scripts/test.sh --also-plain).
  GTEST_SKIP() << "needs a build without UBSan's vptr check (it needs free descriptors)";
#endif
  // While the descriptor table is full, the test touches no member through `this`.
  boost::asio::io_context& io = io_;
  ControlApi& api = api_;
  const uint16_t port = control_.port;
  // Read on the API's thread; no std::promise, whose shared state is one more such check.
  auto acceptErrors = [&io, &api] {
    std::atomic<int64_t> seen{-1};
    boost::asio::post(io, [&] { seen = static_cast<int64_t>(api.counters().accept_errors); });
    while (seen < 0) std::this_thread::yield();
    return static_cast<uint64_t>(seen);
  };
  // The client's socket exists before the table is full; its connect needs no descriptor.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int highest = ::dup(0);
  ASSERT_GE(highest, 0);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(highest + 1);  // no descriptor above the highest one used
  std::vector<int> fillers{highest};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  for (int fd; (fd = ::dup(0)) >= 0;) fillers.push_back(fd);  // fills any gap below it
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = ::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (connected && acceptErrors() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);  // polling a counter with a deadline
  const uint64_t errorsWhileFull = acceptErrors();
  for (int fd : fillers) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(connected);
  EXPECT_GE(errorsWhileFull, 1u);

  const std::string req = "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(client, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string answer;
  pollfd p{client, POLLIN, 0};
  for (char buf[4096]; ::poll(&p, 1, 5000) > 0;) {
    const ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(client);
  EXPECT_TRUE(startsWith(answer, "HTTP/1.1 200")) << answer;
  EXPECT_TRUE(statusAnswers());
}

}  // namespace
}  // namespace qmesh
