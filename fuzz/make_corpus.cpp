// Writes the seed corpora, fuzz/corpus/<harness>/<seed>, from the real encoders and the same
// fixed keys and deterministic randomness the harnesses use (fuzz_support.h), so the sealed
// and signed seeds open and verify there. The output is checked in; rerun after a wire
// format changes:  build-fuzz/fuzz/fuzz_make_corpus fuzz/corpus
// Seeds are small on purpose: libFuzzer grows inputs from them, and the total stays in KB.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/invite.h"
#include "fuzz/fuzz_support.h"
#include "router/dataplane/handshake.h"
#include "router/membership/claim_authority.h"
#include "router/membership/envelope.h"
#include "router/membership/messages.h"
#include "router/mesh/node_meta.h"

using namespace qmesh;
using namespace qmesh::membership;
namespace fs = std::filesystem;

namespace {

fs::path root;

using Bytes = std::vector<uint8_t>;

void write(const std::string& harness, const std::string& name, const void* data, std::size_t size) {
  fs::create_directories(root / harness);
  std::ofstream(root / harness / name, std::ios::binary | std::ios::trunc)
      .write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}
void write(const std::string& harness, const std::string& name, const Bytes& b) {
  write(harness, name, b.data(), b.size());
}
void write(const std::string& harness, const std::string& name, const std::string& s) {
  write(harness, name, s.data(), s.size());
}
Bytes prefixed(uint8_t mode, const Bytes& rest) {
  Bytes out{mode};
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}
Bytes bytesOf(std::string_view s) { return Bytes(s.begin(), s.end()); }

// ---- membership ----------------------------------------------------------------------

Bytes nodeMeta(int workers) {
  router::NodeMeta meta;
  meta.version = QMESH_VERSION;
  meta.dataAddress = "192.168.1.10:7947";
  meta.cpuPercent = 12;
  meta.memPercent = 40;
  for (int i = 0; i < workers; ++i)
    meta.workers.push_back({"model-" + std::to_string(i), router::WorkerState::Ready, 4, 1, 0, 90, i == 1});
  // Every later section too (each is appended after the ones before it), so the seeds reach
  // their decoders: load, boot time, free budget and loads in progress, then per worker the
  // digest, draining, tokens/s, restarts and load percent.
  meta.loadTenths = 15;
  meta.bootUnix = 1'764'000'000;
  meta.freeMemoryMiB = 2048;
  meta.loadsInProgress = workers > 1 ? 1 : 0;
  for (std::size_t i = 0; i < meta.workers.size(); ++i) {
    auto& w = meta.workers[i];
    w.digest = std::string(64, static_cast<char>('a' + i % 6));
    w.draining = i == 0 && workers > 2;
    w.tokenRateTenths = 123 + static_cast<int64_t>(i);
    w.restarts = static_cast<int64_t>(i);
    if (i == 1) {
      w.state = router::WorkerState::Loading;
      w.loadPercent = 40;
    }
  }
  return router::encodeNodeMeta(meta, kMaxMetaBytes);
}

Member member(uint8_t n, MemberState state, int workers) {
  Member m;
  m.id = fuzz::identity(n).id();
  m.name = "node-" + std::to_string(n);
  m.incarnation = 3;
  m.signedIncarnation = state == MemberState::kAlive ? 3 : 2;
  m.state = state;
  m.address = "192.168.1." + std::to_string(n) + ":7946";
  m.meta = nodeMeta(workers);
  // Real signatures (the record at its signed incarnation, the leave at the state's), so
  // the gossip_engine harness merges these records under Ed25519 too.
  const Ed25519Claims claims(fuzz::identity(n));
  Member signedRecord = m;
  signedRecord.incarnation = m.signedIncarnation;
  m.signature = claims.signAlive(signedRecord);
  if (state == MemberState::kLeft) m.leaveSignature = claims.signLeave(m.id, m.incarnation);
  return m;
}

void membershipSeeds() {
  const NodeId us = fuzz::identity(1).id(), peer = fuzz::identity(2).id();
  const Member alive = member(2, MemberState::kAlive, 2);
  const std::vector<std::pair<std::string, std::vector<Message>>> packets = {
      {"ping", {Ping{7, us}}},
      {"join_ping", {Ping{1, NodeId{}}}},
      {"ping_req", {PingReq{8, peer, "192.168.1.2:7946"}}},
      {"ack_piggyback", {Ack{7}, Suspect{peer, 3, us}, Dead{peer, 3, us}}},
      {"alive", {Alive{alive}}},
      {"leave", {Leave{peer, 4, fuzz::identity(2).sign(bytesOf("leave"))}}},
      {"sync", {SyncRequest{true}, SyncState{alive}, SyncState{member(3, MemberState::kSuspect, 1)}}},
  };
  for (const auto& [name, messages] : packets) write("messages_decode", name, encodePacket(messages));
  Bytes unknown = encodePacket({Ack{9}});
  unknown.insert(unknown.end(), {200, 0, 2, 'h', 'i'});  // a type from a newer build
  write("messages_decode", "unknown_type", unknown);

  Bytes state = encodeMessage(SyncRequest{false});
  for (uint8_t n = 1; n <= 3; ++n) encodeMessage(SyncState{member(n, MemberState::kAlive, n)}, state);
  encodeMessage(SyncState{member(2, MemberState::kDead, 0)}, state);
  encodeMessage(SyncState{member(3, MemberState::kLeft, 1)}, state);
  write("pushpull_state", "three_members", state);
  write("pushpull_state", "alive_only", encodePacket({Alive{member(2, MemberState::kAlive, 4)}}));

  // Engine scripts: [kind][len u16][bytes]; 0/1 a packet from peer 0/1, 2 advance, 3 wake.
  auto record = [](Bytes& out, uint8_t kind, const Bytes& body) {
    out.push_back(kind);
    out.push_back(static_cast<uint8_t>(body.size() >> 8));
    out.push_back(static_cast<uint8_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
  };
  for (uint8_t claims : {0, 1}) {
    Bytes script{claims};
    record(script, 0, state);  // the seed answers our join with its state
    record(script, 3, {});
    record(script, 1, encodePacket({Ping{1, us}, Suspect{peer, 3, fuzz::identity(3).id()}}));
    record(script, 2, {0x03, 0xe8});
    record(script, 0, encodePacket({Ack{1}, Dead{us, 1, peer}}));
    record(script, 3, {});
    record(script, 1, encodePacket({Alive{member(3, MemberState::kAlive, 1)}}));
    record(script, 2, {0x27, 0x10});
    write("gossip_engine", claims ? "join_unsigned" : "join_signed", script);
  }

  // Envelopes sealed by peer 2 under the fixed key; one by ourselves (dropped as reflected).
  const Keyring keyring(fuzz::meshKey());
  Envelope gossip(keyring, peer, fuzz::kPeerEpoch, Channel::kDatagram);
  Envelope pushPull(keyring, peer, fuzz::kPeerEpoch, Channel::kReliable);
  Envelope self(keyring, us, fuzz::kPeerEpoch, Channel::kDatagram);
  write("envelope_open", "datagram_ping", prefixed(0, *gossip.seal(encodePacket({Ping{7, us}}))));
  write("envelope_open", "reliable_sync", prefixed(1, *pushPull.seal(state)));
  write("envelope_open", "reflected", prefixed(0, *self.seal(encodePacket({Ack{1}}))));
  // Scripts (mode 2/3): seal, deliver, replay, restart, forget.
  write("envelope_open", "script_datagram", Bytes{2, 0, 0, 4, 'a', 'b', 'c', 'd', 0, 1, 0, 0, 1, 0, 0, 3, 1, 0, 1, 4, 0, 0, 2, 'x', 'y', 0, 1, 1});
  write("envelope_open", "script_reliable", Bytes{3, 1, 0, 2, 'h', 'i', 1, 2, 0, 1, 0, 5, 1, 2, 0, 1, 1, 0});
}

// ---- data plane ----------------------------------------------------------------------

void dataplaneSeeds() {
  using namespace qmesh::dataplane;
  const Identity& server = fuzz::identity(1);
  const Identity& client = fuzz::identity(2);
  {  // We are the server: the harness's server draws the same randomness as this one.
    fuzz::detail::randomCounter() = 1000;
    ClientHandshake c(client, server.id());
    fuzz::resetRandom();
    ServerHandshake s(server);
    SessionKeys serverKeys, clientKeys;
    const auto& hello = c.hello();
    if (s.receivePrefix(std::span(hello).first<kPrefixBytes>()) ||
        s.receiveBody(std::span(hello).subspan<kPrefixBytes>(), [](const NodeId&) { return true; }, serverKeys))
      std::abort();
    SecretStreamFramer serverFramer, clientFramer;
    const auto serverHeader = serverFramer.initPush(serverKeys.tx);
    const auto reply = s.reply();
    if (c.checkReplyHead(reply.first<kReplyHeadBytes>()) ||
        c.finish(reply.subspan<kReplyHeadBytes, kReplyBodyBytes>(), clientKeys))
      std::abort();
    clientFramer.initPull(clientKeys.rx, serverHeader);
    const auto clientHeader = clientFramer.initPush(clientKeys.tx);
    Bytes in(hello.begin(), hello.end());
    in.insert(in.end(), clientHeader.begin(), clientHeader.end());
    clientFramer.seal({}, false, in);  // the confirm frame
    write("handshake", "server_accepts", prefixed(0, in));
    write("handshake", "server_refuses", prefixed(2, Bytes(hello.begin(), hello.end())));
    clientFramer.seal(bytesOf("POST /v1/chat/completions HTTP/1.1\r\n\r\n"), true, in);
    write("handshake", "server_then_request", prefixed(0, in));
  }
  {  // We are the client: the harness's client draws the same ephemeral key as this one.
    fuzz::resetRandom();
    ClientHandshake c(client, server.id());
    fuzz::detail::randomCounter() = 1000;
    ServerHandshake s(server);
    SessionKeys serverKeys;
    const auto& hello = c.hello();
    if (s.receivePrefix(std::span(hello).first<kPrefixBytes>()) ||
        s.receiveBody(std::span(hello).subspan<kPrefixBytes>(), [](const NodeId&) { return true; }, serverKeys))
      std::abort();
    SecretStreamFramer serverFramer;
    const auto header = serverFramer.initPush(serverKeys.tx);
    Bytes in(s.reply().begin(), s.reply().end());
    in.insert(in.end(), header.begin(), header.end());
    serverFramer.seal(bytesOf("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"), true, in);
    write("handshake", "client_reply", prefixed(1, in));
    ServerHandshake wrong(fuzz::identity(3));
    (void)wrong.receivePrefix(std::span(hello).first<kPrefixBytes>());
    SessionKeys none;
    (void)wrong.receiveBody(std::span(hello).subspan<kPrefixBytes>(), [](const NodeId&) { return true; }, none);
    write("handshake", "client_wrong_peer", prefixed(1, Bytes(wrong.reply().begin(), wrong.reply().end())));
  }
  {
    fuzz::resetRandom();
    SecretStreamFramer tx;
    const auto header = tx.initPush(fuzz::framerKey());
    Bytes stream(header.begin(), header.end());
    tx.seal(bytesOf("first"), false, stream);
    tx.seal({}, false, stream);
    tx.seal(bytesOf("last"), true, stream);
    write("framer", "three_frames", prefixed(0, stream));
    write("framer", "round_trip", Bytes{1, 3, 1, 1, 5, 0, 200, 1, 0, 7, 3, 1, 2, 1, 9});
  }
}

// ---- text formats --------------------------------------------------------------------

std::string le32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string le64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
std::string gstr(std::string_view s) { return le64(s.size()) + std::string(s); }

void ggufSeeds() {
  // GGUF v3: two string keys, a u32, a string array, one F32 tensor of 4x2, data aligned to 32.
  std::string f = "GGUF" + le32(3) + le64(1) + le64(4);
  f += gstr("general.architecture") + le32(8) + gstr("llama");
  f += gstr("general.name") + le32(8) + gstr("fuzz seed");
  f += gstr("llama.context_length") + le32(4) + le32(2048);
  f += gstr("tokenizer.ggml.tokens") + le32(9) + le32(8) + le64(2) + gstr("<s>") + gstr("hi");
  f += gstr("token_embd.weight") + le32(2) + le64(4) + le64(2) + le32(0) + le64(0);
  f.resize((f.size() + 31) / 32 * 32, '\0');
  f += std::string(32, '\x5a');
  write("gguf", "tiny_llama.gguf", f);
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void textSeeds(const fs::path& repo) {
  Invite inv;
  inv.key = fuzz::meshKey();
  inv.seeds = {"192.168.1.10:7946", "[fd00::1]:7946"};
  const std::string token = *encodeInvite(inv);
  write("invite", "two_seeds", std::string(1, '\0') + token);
  write("invite", "wrapped_lines", std::string(1, '\0') + token.substr(0, 30) + "\n  " + token.substr(30) + "\n");
  Bytes payload{1};
  payload.insert(payload.end(), inv.key.begin(), inv.key.end());
  payload.push_back(1);
  payload.push_back(14);
  for (char c : std::string("127.0.0.1:7946")) payload.push_back(static_cast<uint8_t>(c));
  write("invite", "payload_one_seed", prefixed(1, payload));

  write("node_config", "node.yaml", readFile(repo / "config/node.yaml"));
  write("node_config", "mesh_a.yaml", readFile(repo / "config/mesh/a.yaml"));
  write("node_config", "minimal.yaml", "models:\n  - name: demo\n    gguf: builtin:demo\n");

  const std::string chat =
      R"({"model":"demo","stream":true,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})";
  auto request = [](bool withKey, const std::string& text) { return std::string(1, withKey ? '\1' : '\0') + text; };
  write("route", "chat_stream", request(false, "POST\n/v1/chat/completions\n\n" + chat));
  write("route", "chat_with_key", request(true, "POST\n/v1/chat/completions?x=1\nBearer sk-fuzz-key\n" + chat));
  write("route", "completion", request(false, "POST\n/v1/completions\n\n" + std::string(R"({"model":"demo","prompt":"Once upon"})")));
  write("route", "embeddings", request(false, "POST\n/v1/embeddings\n\n" + std::string(R"({"model":"embed","input":["a","b"]})")));
  write("route", "models_bad_key", request(true, "GET\n/v1/models\nBearer wrong\n"));
  write("route", "health", request(false, "GET\n/health\n\n"));

  write("sse", "llama_stream",
        std::string("\0\0\0\0", 4) +
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
            ": keepalive\n\n"
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
            "data: [DONE]\n\n");
  write("sse", "crlf_multiline", std::string("\x07\0\0\0", 4) +
                                     "event: message\r\ndata: a\r\ndata: b\r\n\r\ndata: [DONE]\r\n\r\n");

  // [kind][cut seed u32][split u16][stream]: a chat stream as llama-server sends it, the
  // continuing worker's half starting with its role chunk and ending with usage and [DONE].
  const std::string chatStream =
      "data: {\"id\":\"c1\",\"created\":1,\"model\":\"demo\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
      "data: {\"id\":\"c1\",\"created\":1,\"model\":\"demo\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once\"}}]}\n\n"
      "data: {\"id\":\"c2\",\"created\":2,\"model\":\"demo\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
      "data: {\"id\":\"c2\",\"created\":2,\"model\":\"demo\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hm\"}}]}\n\n"
      "data: {\"id\":\"c2\",\"created\":2,\"model\":\"demo\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" upon\"},\"finish_reason\":\"length\"}]}\n\n"
      "data: {\"id\":\"c2\",\"created\":2,\"model\":\"demo\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
      ": keepalive\n\n"
      "data: [DONE]\n\n";
  write("stream_edit", "chat_split_after_two", std::string("\0\0\0\0\0", 5) + std::string(1, '\xB0') +
                                                    std::string(1, '\0') + chatStream);
  write("stream_edit", "completion_crlf",
        std::string("\1\7\0\0\0\x40\0", 7) +
            "data: {\"id\":\"k\",\"choices\":[{\"text\":\"Hi\"}]}\r\n\r\n"
            "data: {\"id\":\"k2\",\"choices\":[{\"text\":\" there\",\"finish_reason\":\"stop\"}]}\r\n\r\ndata: [DONE]\r\n\r\n");

  write("status_json", "two_models",
        std::string(R"({"node":"n1","version":"0.1.0","generation":17,"pid":123,)"
                    R"("models":[{"name":"demo","state":"ready","pid":4242,"port":38211,"slots":4,"ctx_size":2048,)"
                    R"("embeddings":false,"restarts":0,"last_exit":"","uptime_s":12.5},)"
                    R"({"name":"emb","state":"loading","pid":4243,"port":38212,"slots":2,"embeddings":true}]})"));
  write("status_json", "starting", std::string(R"({"node":"n","generation":3,"router":{"name":"router"},)"
                                               R"("models":[{"name":"demo","state":"starting","port":0}]})"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_corpus <repo>/fuzz/corpus\n";
    return 2;
  }
  fuzz::useDeterministicRandom();
  root = argv[1];
  membershipSeeds();
  dataplaneSeeds();
  ggufSeeds();
  textSeeds(root.parent_path().parent_path());
  std::cout << "seeds written under " << root << "\n";
  return 0;
}
