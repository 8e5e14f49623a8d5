// Three real nodes on one machine (supervisor + router + llama-server each, models demo-a,
// demo-b, demo-c) joined into one mesh: cross-node streaming, cancellation across nodes,
// failure detection and rejoin (a seedless node too, through its member snapshot), a
// wrong-key node, and key rotation under load.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/mesh_fixture.h"
#include "tests/integration/node_fixture.h"
#include "common/mesh_keys.h"
#include "router/membership/envelope.h"
#include "router/membership/identity.h"
#include "router/membership/keyring.h"
#include "router/membership/messages.h"
#include "tests/support/http_client.h"

using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

std::string chat(const std::string& model, int maxTokens, bool stream, const std::string& text = "hello") {
  return json{{"model", model},
              {"messages", {{{"role", "user"}, {"content", text}}}},
              {"max_tokens", maxTokens},
              {"stream", stream}}
      .dump();
}

// Models with at least one ready worker somewhere in the mesh, as n's /v1/models says.
std::vector<std::string> modelIds(MeshTestNode& n) {
  std::vector<std::string> ids;
  auto j = json::parse(httpGet(n.routerUrl("/v1/models")).body, nullptr, false);
  if (j.is_object() && j.contains("data"))
    for (const auto& m : j["data"])
      if (m["qmesh"].value("ready_workers", 0) > 0) ids.push_back(m.value("id", ""));
  return ids;
}

// Established TCP connections process `pid` holds to port `port` on any address (its own
// end is the client end). A loopback bridge from b's data plane to b's own HTTP listener
// would be one such connection from b's router to its own port.
int connectionsTo(int pid, int port) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  int n = 0;
  for (const char* table : {"/net/tcp", "/net/tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + table);
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      f >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      const int remotePort = std::stoi(remote.substr(remote.find(':') + 1), nullptr, 16);
      if (state == "01" && remotePort == port && inodes.count(inode)) ++n;
    }
  }
  return n;
}

int portOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

bool servesAll(MeshTestNode& n, const std::vector<std::string>& models) {
  auto ids = modelIds(n);
  for (const auto& m : models)
    if (std::find(ids.begin(), ids.end(), m) == ids.end()) return false;
  return true;
}

class MeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet";
    a = std::make_unique<MeshTestNode>(dir.path(), MeshNodeSpec{"a", "demo-a", {}, dir / "a.keys", {}});
    a->start();
    // a has no seeds: it creates the mesh key; b and c get a copy of the key file, as an
    // operator would copy it (or hand out an invite: see MeshCli tests).
    ASSERT_TRUE(waitUntil([&] { return a->mesh().has_value(); }, seconds(60))) << a->log();
    for (const char* n : {"b.keys", "c.keys"})
      std::filesystem::copy_file(dir / "a.keys", dir / n, std::filesystem::copy_options::overwrite_existing);
    // b closes idle keep-alive connections after 1 s, well before a's pool gives up on an
    // idle channel (4 s): the mesh tests also see a peer close pooled channels. Its slots
    // hold 4096 tokens, seconds of decoding: a stream there does not end by itself in a test.
    b = std::make_unique<MeshTestNode>(dir.path(), MeshNodeSpec{"b", "demo-b", {a->gossipAddress()}, dir / "b.keys",
                                                                {}, "  header_timeout: 1s\n", 8192});
    c = std::make_unique<MeshTestNode>(dir.path(), MeshNodeSpec{"c", "demo-c", {a->gossipAddress()}, dir / "c.keys", {}});
    b->start();
    c->start();
    ASSERT_TRUE(waitForMeshState(all(), {"a", "b", "c"}, "alive", seconds(60)))
        << "a:\n" << a->log() << "\nb:\n" << b->log() << "\nc:\n" << c->log();
    for (auto* n : all())
      ASSERT_TRUE(waitUntil([&] { return servesAll(*n, {"demo-a", "demo-b", "demo-c"}); }, seconds(60)))
          << n->name() << " never listed every model:\n" << n->log();
  }

  std::vector<MeshTestNode*> all() { return {a.get(), b.get(), c.get()}; }

  TempDir dir;
  std::unique_ptr<MeshTestNode> a, b, c;
};

}  // namespace

TEST_F(MeshTest, StreamsAnotherNodesModelThroughBothRouters) {
  int chunks = 0;
  auto res = httpPostStream(a->routerUrl("/v1/chat/completions"), chat("demo-b", 24, true),
                            [&](const std::string&) { return ++chunks > 0; }, {{"x-request-id", "mesh-e2e-0001"}});
  ASSERT_EQ(res.status, 200) << res.body << "\n" << a->log();
  EXPECT_EQ(res.headers["content-type"], "text/event-stream");
  // Every hop is named: a chose node b, b chose its local worker.
  const std::string route = res.headers["x-qmesh-route"];
  EXPECT_EQ(route.rfind("a (", 0), 0u) << route;
  EXPECT_NE(route.find("> b/demo-b@127.0.0.1:"), std::string::npos) << route;
  EXPECT_EQ(res.headers["x-request-id"], "mesh-e2e-0001");
  EXPECT_GT(chunks, 3);  // event by event, not one buffered blob
  EXPECT_NE(res.body.find("data: [DONE]"), std::string::npos);
  // The same request id appears in both nodes' logs. Each router writes its access line once
  // the exchange is over, which can be just after the client has read [DONE]: poll for it.
  for (MeshTestNode* n : {a.get(), b.get()})
    EXPECT_TRUE(waitUntil([&] { return n->log().find("req=mesh-e2e-0001") != std::string::npos; }, seconds(5)))
        << n->name() << ":\n" << n->log();
  EXPECT_NE(b->log().find("from=a"), std::string::npos);

  // Non-streamed too, from the third node.
  auto plain = httpPostJson(c->routerUrl("/v1/chat/completions"), chat("demo-a", 8, false));
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(json::parse(plain.body)["object"], "chat.completion");
  EXPECT_NE(plain.headers["x-qmesh-route"].find("> a/demo-a@"), std::string::npos);
}

TEST_F(MeshTest, RequestsToANodeShareOneEncryptedChannelUntilThePeerClosesIt) {
  auto dataPlane = [](const MeshTestNode& n) { return (*n.mesh())["stats"]["data_plane"]; };
  const auto acceptedBefore = dataPlane(*b)["accepted"].get<uint64_t>();
  for (int i = 0; i < 3; ++i) {
    auto res = httpPostJson(a->routerUrl("/v1/chat/completions"), chat("demo-b", 4, i == 1));
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_NE(res.headers["x-qmesh-route"].find("> b/demo-b@"), std::string::npos);
  }
  // One handshake for three requests, streamed or not: the channel went back to a's pool.
  EXPECT_EQ(dataPlane(*b)["accepted"].get<uint64_t>() - acceptedBefore, 1u) << dataPlane(*b).dump();
  EXPECT_EQ(dataPlane(*a)["pool"]["reused"].get<uint64_t>(), 2u) << dataPlane(*a).dump();

  // b ends the idle channel after its 1 s header timeout; a's pool sees it and closes its end.
  ASSERT_TRUE(waitUntil([&] { return dataPlane(*b)["active_hops"] == 0; }, seconds(4))) << dataPlane(*b).dump();
  EXPECT_EQ(dataPlane(*a)["pool"]["stale"].get<uint64_t>(), 1u) << dataPlane(*a).dump();
  EXPECT_EQ(dataPlane(*a)["pool"]["idle"].get<uint64_t>(), 0u);
  // The next request opens a new channel and is served.
  ASSERT_EQ(httpPostJson(a->routerUrl("/v1/chat/completions"), chat("demo-b", 4, false)).status, 200);
  EXPECT_EQ(dataPlane(*b)["accepted"].get<uint64_t>() - acceptedBefore, 2u);
}

// b serves the hop on the data-plane channel itself: while a's request streams from b's
// worker, b's router holds a connection to that worker and none to its own HTTP port.
TEST_F(MeshTest, HopIsServedOnTheChannelWithoutAConnectionToTheRoutersOwnHttpPort) {
  const auto status = b->supervisorStatus();
  ASSERT_TRUE(status.has_value());
  const int routerPid = (*status)["router"]["pid"].get<int>();
  const int llamaPort = b->llamaPort("demo-b");
  ASSERT_GT(llamaPort, 0);
  int toWorker = -1, toOwnHttpPort = -1;
  int64_t activeHops = -1;
  httpPostStream(a->routerUrl("/v1/chat/completions"), chat("demo-b", 100000, true, "a long story"),
                 [&](const std::string& chunk) {
                   if (chunk.find("data: ") == std::string::npos) return true;
                   toWorker = connectionsTo(routerPid, llamaPort);
                   toOwnHttpPort = connectionsTo(routerPid, portOf(b->routerUrl()));
                   activeHops = (*b->mesh())["stats"]["data_plane"]["active_hops"].get<int64_t>();
                   return false;
                 });
  EXPECT_EQ(activeHops, 1);
  EXPECT_EQ(toWorker, 1) << "the scan of b's sockets must see the hop's worker connection";
  EXPECT_EQ(toOwnHttpPort, 0) << "b's router connected to its own HTTP listener for a hop";
}

TEST_F(MeshTest, ClientDisconnectAtAFreesTheSlotOnB) {
  const int port = b->llamaPort("demo-b");
  ASSERT_GT(port, 0);
  ASSERT_EQ(busySlots(port), 0);
  int busyAtHangUp = -1;
  steady_clock::time_point hungUp;
  httpPostStream(a->routerUrl("/v1/chat/completions"), chat("demo-b", 100000, true, "a long story"),
                 [&](const std::string& chunk) {
                   if (chunk.find("data: ") == std::string::npos) return true;
                   busyAtHangUp = busySlots(port);
                   hungUp = steady_clock::now();
                   return false;  // hang up after the first event
                 });
  ASSERT_EQ(busyAtHangUp, 1) << "b was not generating for the client when it left\n" << b->log();
  // a closes its data-plane channel, b's hop session sees it go and closes the llama-server
  // connection: the slot frees long before its 4096 tokens are out.
  ASSERT_TRUE(waitUntil([&] { return busySlots(port) == 0; }, seconds(10))) << b->log();
  const auto freedAfter = duration_cast<milliseconds>(steady_clock::now() - hungUp).count();
  std::cout << "[ mesh ] b's slot freed " << freedAfter << " ms after the client hung up at a\n";
  EXPECT_LT(freedAfter, 1000) << "the stream ran on at b after the client left a\n" << b->log();
  EXPECT_TRUE(waitUntil([&] { return b->log().find("client hung up") != std::string::npos; }, seconds(5)));
}

TEST_F(MeshTest, KilledNodeIsMarkedDeadEverywhereStopsGettingRequestsAndRejoins) {
  b->killAll();
  const auto killed = steady_clock::now();
  // At once: a request for b's model is answered without hanging (a refused connect is local
  // evidence), and soon no survivor lists the model any more. b is not dead yet (the gossip
  // takes about a second: see below), so its model still exists with no worker: 503, not 404.
  auto res = httpPostJson(a->routerUrl("/v1/chat/completions"), chat("demo-b", 4, false), {}, seconds(5));
  EXPECT_EQ(res.status, 503) << res.body;
  EXPECT_NE(res.body.find(R"("code":"no_ready_worker")"), std::string::npos) << res.body;
  // Suspect is enough for a router to stop choosing b's workers (c never tried b, so it
  // learns only from gossip); dead drops b's models from the list too.
  ASSERT_TRUE(waitUntil([&] { return a->stateOf("b") != "alive" && c->stateOf("b") != "alive"; }, seconds(10)));
  const double unroutableAfter = duration<double>(steady_clock::now() - killed).count();
  ASSERT_TRUE(waitUntil([&] { return !servesAll(*a, {"demo-b"}) && !servesAll(*c, {"demo-b"}); }, seconds(10)));
  ASSERT_TRUE(waitForMeshState({a.get(), c.get()}, {"b"}, "dead", seconds(20))) << a->log();
  const double deadAfter = duration<double>(steady_clock::now() - killed).count();
  std::cout << "[ mesh ] after kill -9 of b: suspect or dead (unroutable) at every survivor after "
            << unroutableAfter << " s; b marked dead by a and c after " << deadAfter << " s\n";
  for (auto* n : {a.get(), c.get()}) {
    auto r = httpPostJson(n->routerUrl("/v1/chat/completions"), chat("demo-b", 4, false));
    EXPECT_EQ(r.status, 404) << n->name() << ": " << r.body;
    auto ok = httpPostJson(n->routerUrl("/v1/chat/completions"), chat(n == a.get() ? "demo-c" : "demo-a", 4, false));
    EXPECT_EQ(ok.status, 200) << n->name() << ": " << ok.body;
  }
  // Same config, same identity: it rejoins and serves again.
  b->start();
  ASSERT_TRUE(waitForMeshState(all(), {"a", "b", "c"}, "alive", seconds(60))) << b->log();
  ASSERT_TRUE(waitUntil([&] { return servesAll(*a, {"demo-b"}); }, seconds(60)));
  auto back = httpPostJson(a->routerUrl("/v1/chat/completions"), chat("demo-b", 4, false));
  EXPECT_EQ(back.status, 200) << back.body;
}

TEST_F(MeshTest, RestartedNodeWithoutSeedsIsFoundAgainByTheOthers) {
  // a created the mesh and has no seeds: what it rejoins is the member snapshot it keeps in
  // its data dir (the others' addresses as it last saw them alive).
  const auto snapshot = a->dataDir() / "mesh.members";
  ASSERT_TRUE(waitUntil([&] {
    std::ifstream in(snapshot);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find(b->gossipAddress() + "\n") != std::string::npos &&
           text.find(c->gossipAddress() + "\n") != std::string::npos;
  }, seconds(5))) << "no snapshot at " << snapshot << ":\n" << a->log();
  a->killAll();
  ASSERT_TRUE(waitForMeshState({b.get(), c.get()}, {"a"}, "dead", seconds(20))) << b->log();
  a->start();  // same config, same data dir
  const auto restarted = steady_clock::now();
  ASSERT_TRUE(waitForMeshState(all(), {"a", "b", "c"}, "alive", seconds(5))) << a->log();
  const double aliveAfter = duration<double>(steady_clock::now() - restarted).count();
  EXPECT_NE(a->log().find("0 seed(s), 2 remembered member(s)"), std::string::npos) << a->log();
  const auto left = duration_cast<milliseconds>(restarted + seconds(5) - steady_clock::now());
  ASSERT_TRUE(waitUntil([&] { return servesAll(*b, {"demo-a"}); }, std::max(left, milliseconds(0)))) << b->log();
  auto r = httpPostJson(b->routerUrl("/v1/chat/completions"), chat("demo-a", 4, false));
  EXPECT_EQ(r.status, 200) << r.body;
  std::cout << "[ mesh ] a restarted without seeds: alive everywhere after " << aliveAfter << " s, demo-a served by b after "
            << duration<double>(steady_clock::now() - restarted).count() << " s\n";
}

TEST_F(MeshTest, NodeWithTheWrongMeshKeyCannotJoinAndItsPacketsAreCountedAsRejected) {
  ASSERT_TRUE(qmesh::writeMeshKeys(dir / "d.keys", {qmesh::generateMeshKey()}));
  // d's joins go over TCP push-pull; its probes, once it knew anyone, over UDP: count both.
  const auto authFailed = [&] {
    const auto s = a->mesh()->at("stats");
    return s.at("envelope").at("auth_failed").get<uint64_t>() + s.at("envelope_reliable").at("auth_failed").get<uint64_t>();
  };
  const auto before = authFailed();
  MeshTestNode d(dir.path(), MeshNodeSpec{"d", "", {a->gossipAddress()}, dir / "d.keys", {}});
  d.start();
  ASSERT_TRUE(waitUntil([&] { return d.mesh().has_value(); }, seconds(30))) << d.log();
  // d keeps trying to join; a opens none of it.
  EXPECT_TRUE(waitUntil(
      [&] { return authFailed() >= before + 2; },
      seconds(10)));
  EXPECT_EQ(a->stateOf("d"), "");
  EXPECT_EQ(d.stateOf("a"), "");
  EXPECT_EQ(d.mesh()->at("members").size(), 1u);  // only itself
  auto metrics = httpGet(a->routerUrl("/metrics")).body;
  EXPECT_NE(metrics.find("qmesh_mesh_packets_rejected_total{channel=\"tcp\",reason=\"auth_failed\"}"), std::string::npos);
  EXPECT_TRUE(d.stop());
}

TEST_F(MeshTest, KeyRotationAcrossTheMeshLosesNoRequest) {
  auto oldKeys = qmesh::readMeshKeys(dir / "a.keys");
  ASSERT_TRUE(oldKeys);
  const std::string oldKey = qmesh::encodeMeshKey(oldKeys->front());
  auto gen = a->supervisorCommand({"keys", "generate"});
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  const std::string newKey = gen.output.substr(0, gen.output.find_first_of("\r\n"));
  ASSERT_EQ(newKey.size(), 44u) << gen.output;

  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, failed{0};
  std::string firstFailure;
  // Requests keep crossing nodes the whole time: a -> b, b -> c, c -> a.
  std::thread load([&] {
    const std::vector<std::pair<MeshTestNode*, std::string>> routes = {
        {a.get(), "demo-b"}, {b.get(), "demo-c"}, {c.get(), "demo-a"}};
    for (std::size_t i = 0; !done; ++i) {
      const auto& [node, model] = routes[i % routes.size()];
      auto r = httpPostJson(node->routerUrl("/v1/chat/completions"), chat(model, 4, false));
      if (r.status == 200) ++ok;
      else if (failed++ == 0) firstFailure = node->name() + " -> " + model + ": " + std::to_string(r.status) + " " + r.body;
    }
  });
  const auto keyCount = [](MeshTestNode& n) { auto m = n.mesh(); return m ? m->at("keys").size() : 0u; };
  const auto primary = [](MeshTestNode& n) { auto m = n.mesh(); return m ? m->at("keys")[0].get<std::string>() : ""; };
  const std::string oldPrint = primary(*a);
  // Serf's three steps, each on every node before the next: install, use, remove.
  for (auto* n : all()) {
    auto r = n->supervisorCommand({"keys", "install", newKey});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  for (auto* n : all()) ASSERT_TRUE(waitUntil([&] { return keyCount(*n) == 2; }, seconds(10))) << n->log();
  for (auto* n : all()) {
    auto r = n->supervisorCommand({"keys", "use", newKey});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  for (auto* n : all()) ASSERT_TRUE(waitUntil([&] { return primary(*n) != oldPrint; }, seconds(10)));
  const int afterUse = ok;
  for (auto* n : all()) {
    auto r = n->supervisorCommand({"keys", "remove", oldKey});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  for (auto* n : all()) ASSERT_TRUE(waitUntil([&] { return keyCount(*n) == 1; }, seconds(10)));
  // Gossip under the new key alone keeps flowing (and opening), and so do requests.
  const auto envelope = [&](const char* field) { return a->mesh()->at("stats").at("envelope").at(field).get<uint64_t>(); };
  const auto openedBefore = envelope("opened"), failedBefore = envelope("auth_failed");
  ASSERT_TRUE(waitUntil([&] { return ok > afterUse + 6 && envelope("opened") >= openedBefore + 10; }, seconds(30)));
  done = true;
  load.join();
  EXPECT_EQ(failed, 0) << firstFailure;
  EXPECT_EQ(envelope("auth_failed"), failedBefore);
  EXPECT_TRUE(waitForMeshState(all(), {"a", "b", "c"}, "alive", seconds(5)));
  std::cout << "[ mesh ] " << ok << " requests across nodes during the rotation, " << failed << " failed\n";
}

namespace {
// One UDP datagram to 127.0.0.1:port from a fresh socket.
void sendDatagram(uint16_t port, const std::vector<uint8_t>& bytes) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}
}  // namespace

TEST_F(MeshTest, TamperedTruncatedAndReplayedPacketsAreDroppedAndCounted) {
  // A packet sealed correctly under the mesh key (as a member would), sent by the test.
  auto keys = qmesh::readMeshKeys(dir / "a.keys");
  ASSERT_TRUE(keys);
  qmesh::membership::Keyring keyring(keys->front());
  auto mesh = a->mesh();
  ASSERT_TRUE(mesh);
  qmesh::membership::NodeId target;
  const std::string hex = mesh->at("id");
  for (std::size_t i = 0; i < target.bytes.size(); ++i) target.bytes[i] = std::stoi(hex.substr(2 * i, 2), nullptr, 16);
  const auto sender = qmesh::membership::Identity::generate();
  qmesh::membership::Envelope envelope(keyring, sender.id(), 1);
  const auto plain = qmesh::membership::encodePacket({qmesh::membership::Ping{7, target}});
  const auto sealed = envelope.seal(plain);
  ASSERT_TRUE(sealed);
  const uint16_t port = static_cast<uint16_t>(std::stoi(a->gossipAddress().substr(a->gossipAddress().rfind(':') + 1)));
  const auto stat = [&](const char* field) { return a->mesh()->at("stats").at("envelope").at(field).get<uint64_t>(); };
  const auto replayed0 = stat("replayed"), auth0 = stat("auth_failed"), malformed0 = stat("malformed");

  sendDatagram(port, *sealed);  // genuine: opened
  sendDatagram(port, *sealed);  // the same bytes again: a replay
  auto body = *sealed;
  body[qmesh::membership::Envelope::kHeaderBytes + qmesh::membership::Envelope::kNonceBytes + 1] ^= 0x01;
  sendDatagram(port, body);  // ciphertext tampered
  auto header = *sealed;
  header[5] ^= 0x80;
  sendDatagram(port, header);  // authenticated header (sender id) tampered
  sendDatagram(port, std::vector<uint8_t>(sealed->begin(), sealed->end() - 1));  // tag cut short
  sendDatagram(port, std::vector<uint8_t>(sealed->begin(), sealed->begin() + 20));  // shorter than a header

  EXPECT_TRUE(waitUntil([&] { return stat("replayed") >= replayed0 + 1; }, seconds(5)));
  EXPECT_TRUE(waitUntil([&] { return stat("auth_failed") >= auth0 + 3; }, seconds(5)));
  EXPECT_TRUE(waitUntil([&] { return stat("malformed") >= malformed0 + 1; }, seconds(5)));
  // And the mesh is none the worse for it.
  EXPECT_TRUE(waitForMeshState(all(), {"a", "b", "c"}, "alive", seconds(5)));
}

TEST_F(MeshTest, NodeJoinsWithAnInviteTokenAndServesTheWholeMesh) {
  auto invite = a->supervisorCommand({"invite"});
  ASSERT_EQ(invite.exit_code, 0) << invite.output;
  const std::string token = invite.output.substr(0, invite.output.find_first_of("\r\n"));
  ASSERT_EQ(token.rfind("qmesh1.", 0), 0u) << invite.output;
  // No key file and no seeds of its own: everything comes from the token.
  const auto inviteFile = dir.write("d.invite", token + "\n");  // never argv (join_token.h)
  MeshTestNode d(dir.path(), MeshNodeSpec{"d", "", {}, dir / "d.keys", {"--join-file", inviteFile.string()}});
  d.start();
  std::vector<MeshTestNode*> everyone = {a.get(), b.get(), c.get(), &d};
  ASSERT_TRUE(waitForMeshState(everyone, {"a", "b", "c", "d"}, "alive", seconds(30))) << d.log();
  ASSERT_TRUE(waitUntil([&] { return servesAll(d, {"demo-a", "demo-b", "demo-c"}); }, seconds(30)));
  auto r = httpPostJson(d.routerUrl("/v1/chat/completions"), chat("demo-c", 4, false));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-qmesh-route"].rfind("d (", 0), 0u) << r.headers["x-qmesh-route"];
  EXPECT_NE(r.headers["x-qmesh-route"].find("> c/demo-c@"), std::string::npos);
  EXPECT_EQ(d.log().find(token), std::string::npos) << "the token (it holds the mesh key) was logged";
  EXPECT_TRUE(d.stop());
  // A graceful stop is a leave, not a failure: the others see "left", never "dead".
  EXPECT_TRUE(waitForMeshState({a.get(), b.get(), c.get()}, {"d"}, "left", seconds(10))) << a->stateOf("d");
}

