// The handshake messages without sockets: who may talk to whom, and what a forger or a
// relay gets.
#include "router/dataplane/handshake.h"

#include <gtest/gtest.h>

#include "router/dataplane/errors.h"
#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using test::identityFromByte;
using boost::system::error_code;

auto acceptAll = [](const NodeId&) { return true; };

struct Outcome {
  error_code server;
  error_code client;
  SessionKeys clientKeys;
  SessionKeys serverKeys;
  NodeId seenClient;
};

// Runs one handshake in memory; `tamper` may edit the hello before the server sees it.
void handshake(const Identity& client, const NodeId& expected, const Identity& server, const AcceptFn& accept,
               Outcome& out, const std::function<void(std::array<uint8_t, kClientHelloBytes>&)>& tamper = {}) {
  ClientHandshake c(client, expected);
  auto hello = c.hello();
  if (tamper) tamper(hello);
  ServerHandshake s(server);
  out.server = s.receivePrefix(std::span(hello).first<kPrefixBytes>());
  if (!out.server) out.server = s.receiveBody(std::span(hello).subspan<kPrefixBytes>(), accept, out.serverKeys);
  out.seenClient = s.client();
  const auto reply = s.reply();
  if (reply.size() < kReplyHeadBytes) return;
  out.client = c.checkReplyHead(reply.first<kReplyHeadBytes>());
  if (!out.client) out.client = c.finish(reply.subspan<kReplyHeadBytes, kReplyBodyBytes>(), out.clientKeys);
}

TEST(HandshakeTest, BothSidesDeriveMatchingKeys) {
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  Outcome o;
  handshake(a, b.id(), b, acceptAll, o);
  ASSERT_FALSE(o.server) << o.server.message();
  ASSERT_FALSE(o.client) << o.client.message();
  EXPECT_EQ(o.seenClient, a.id());
  EXPECT_EQ(o.clientKeys.tx, o.serverKeys.rx);
  EXPECT_EQ(o.clientKeys.rx, o.serverKeys.tx);
  EXPECT_NE(o.clientKeys.tx, o.clientKeys.rx);
}

TEST(HandshakeTest, EverySessionHasFreshKeys) {
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  Outcome first, second;
  handshake(a, b.id(), b, acceptAll, first);
  handshake(a, b.id(), b, acceptAll, second);
  EXPECT_NE(first.clientKeys.tx, second.clientKeys.tx);  // ephemeral keys: forward secrecy
}

TEST(HandshakeTest, ServerThatIsNotTheExpectedNodeAnswersWrongPeer) {
  // A stale address: the client meant C, B lives there now.
  const Identity a = identityFromByte(1), b = identityFromByte(2), c = identityFromByte(3);
  Outcome o;
  handshake(a, c.id(), b, acceptAll, o);
  EXPECT_EQ(o.server, dataplane_errc::wrong_peer);
  EXPECT_EQ(o.client, dataplane_errc::wrong_peer);
}

TEST(HandshakeTest, ClientRefusesAServerThatSignsAsItself) {
  // A hostile B that ignores the hello's server id and answers with its own valid reply.
  const Identity a = identityFromByte(1), b = identityFromByte(2), c = identityFromByte(3);
  ClientHandshake client(a, c.id());
  ClientHandshake forB(a, b.id());
  ServerHandshake hostile(b);
  SessionKeys serverKeys, clientKeys;
  const auto helloB = forB.hello();
  ASSERT_FALSE(hostile.receivePrefix(std::span(helloB).first<kPrefixBytes>()));
  ASSERT_FALSE(hostile.receiveBody(std::span(helloB).subspan<kPrefixBytes>(), acceptAll, serverKeys));
  const auto reply = hostile.reply();
  ASSERT_FALSE(client.checkReplyHead(reply.first<kReplyHeadBytes>()));
  EXPECT_EQ(client.finish(reply.subspan<kReplyHeadBytes, kReplyBodyBytes>(), clientKeys), dataplane_errc::wrong_peer);
}

TEST(HandshakeTest, HelloRedirectedToAnotherNodeFailsSignature) {
  // Editing the server id in clear does not help a relay: the signature covers it.
  const Identity a = identityFromByte(1), b = identityFromByte(2), c = identityFromByte(3);
  Outcome o;
  handshake(a, c.id(), b, acceptAll, o, [&](auto& hello) {
    std::copy(b.id().bytes.begin(), b.id().bytes.end(), hello.begin() + kPrefixBytes + 32);
  });
  EXPECT_EQ(o.server, dataplane_errc::bad_signature);
}

TEST(HandshakeTest, HelloClaimingAnotherIdentityFailsSignature) {
  const Identity a = identityFromByte(1), b = identityFromByte(2), victim = identityFromByte(4);
  Outcome o;
  handshake(a, b.id(), b, acceptAll, o, [&](auto& hello) {
    std::copy(victim.id().bytes.begin(), victim.id().bytes.end(), hello.begin() + kPrefixBytes);
  });
  EXPECT_EQ(o.server, dataplane_errc::bad_signature);
  EXPECT_TRUE(o.server.category() == dataplane_category());
}

TEST(HandshakeTest, SwappedEphemeralKeyFailsSignature) {
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  Outcome o;
  handshake(a, b.id(), b, acceptAll, o, [](auto& hello) { hello[kPrefixBytes + 64 + 8] ^= 1; });
  EXPECT_EQ(o.server, dataplane_errc::bad_signature);
}

TEST(HandshakeTest, TamperedServerReplyFailsSignature) {
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  ClientHandshake c(a, b.id());
  ServerHandshake s(b);
  const auto hello = c.hello();
  SessionKeys sk, ck;
  ASSERT_FALSE(s.receivePrefix(std::span(hello).first<kPrefixBytes>()));
  ASSERT_FALSE(s.receiveBody(std::span(hello).subspan<kPrefixBytes>(), acceptAll, sk));
  std::array<uint8_t, kReplyHeadBytes + kReplyBodyBytes> reply;
  std::copy(s.reply().begin(), s.reply().end(), reply.begin());
  reply[kReplyHeadBytes + 32 + 5] ^= 1;  // the server's ephemeral key
  ASSERT_FALSE(c.checkReplyHead(std::span(reply).first<kReplyHeadBytes>()));
  EXPECT_EQ(c.finish(std::span(reply).subspan<kReplyHeadBytes, kReplyBodyBytes>(), ck), dataplane_errc::bad_signature);
}

TEST(HandshakeTest, RejectedClientIsToldSo) {
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  Outcome o;
  handshake(a, b.id(), b, [](const NodeId&) { return false; }, o);
  EXPECT_EQ(o.server, dataplane_errc::peer_rejected);
  EXPECT_EQ(o.client, dataplane_errc::peer_rejected);
}

TEST(HandshakeTest, NoAcceptPredicateRejectsEveryone) {
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  Outcome o;
  handshake(a, b.id(), b, AcceptFn{}, o);
  EXPECT_EQ(o.server, dataplane_errc::peer_rejected);
}

TEST(HandshakeTest, WrongMagicIsBadHello) {
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  Outcome o;
  handshake(a, b.id(), b, acceptAll, o, [](auto& hello) { hello[0] = 'G'; });
  EXPECT_EQ(o.server, dataplane_errc::bad_hello);
}

TEST(HandshakeTest, OtherVersionIsAnsweredWithUnsupportedVersion) {
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  Outcome o;
  handshake(a, b.id(), b, acceptAll, o, [](auto& hello) { hello[4] = 2; });
  EXPECT_EQ(o.server, dataplane_errc::unsupported_version);
  EXPECT_EQ(o.client, dataplane_errc::unsupported_version);
}

TEST(HandshakeTest, ErrorsHaveOperatorMessages) {
  EXPECT_EQ(error_code(dataplane_errc::wrong_peer).message(),
            "peer is not the node that was expected at this address");
  EXPECT_STREQ(dataplane_category().name(), "qmesh.dataplane");
}

}  // namespace
}  // namespace qmesh::dataplane
