// The data-plane handshake as pure message logic (no sockets): an authenticated ephemeral
// key exchange in the SIGMA style, from libsodium's crypto_kx (X25519 + BLAKE2b) and the
// nodes' Ed25519 identities (router/membership/identity.h; a NodeId is a public key).
//
//   client                                                server
//   hello: "QMDP" ver=1 C S_exp eC sigC ----------------->  S_exp == S? accept(C)?
//     sigC = Sign_C("qmesh-dataplane-v1 client" || eC || S_exp)   verify sigC by C
//          <----------------------- "QMDP" ver=1 status   status 0 accepted, 1 rejected,
//                                   S eS sigS             2 unsupported version, 3 not S_exp
//                                   (only if status 0)    (refusals: then close)
//     sigS = Sign_S("qmesh-dataplane-v1 server" || eS || eC || C)
//   check S == S_expected, verify sigS by S
//   both: crypto_kx session keys from (eC, eS); the ephemeral secrets are zeroed
//          <----------------------- secretstream header (server -> client direction)
//   header (client -> server) + confirm frame (empty) ---> server opens it: key confirmed
//
// Why: ephemeral X25519 keys give forward secrecy (a stolen identity key does not decrypt
// recorded traffic); each side signs its ephemeral key together with the other side's
// identity (client) or ephemeral key (server), so a hello cannot be relayed to another node
// and a server reply cannot be replayed into another session. The confirm frame is ours,
// beyond the minimal design: the client's hello signs nothing fresh from the server, so
// without it a recorded hello could be replayed to open a (useless, keyless) channel; with
// it the server hands over only a channel to a peer that holds the session key. It costs
// no round trip.
// Also ours: the status byte lets a client tell "rejected by membership", "wrong node at
// this address" (S_exp is sent in clear for that: a stale address after a re-key or an IP
// reuse is the common case) and "other version" from a network failure. Refusals are not
// signed; forging one only achieves what an on-path attacker can do anyway (drop the link).
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <functional>
#include <span>

#include <boost/system/error_code.hpp>

#include "router/dataplane/framer.h"
#include "router/membership/identity.h"

namespace qmesh::dataplane {

using membership::Identity;
using membership::NodeId;

inline constexpr std::array<uint8_t, 4> kMagic = {'Q', 'M', 'D', 'P'};
inline constexpr uint8_t kVersion = 1;
inline constexpr std::size_t kPrefixBytes = 5;                           // magic + version
inline constexpr std::size_t kClientHelloBodyBytes = 32 + 32 + 32 + 64;  // id, server id, eph, sig
inline constexpr std::size_t kClientHelloBytes = kPrefixBytes + kClientHelloBodyBytes;
inline constexpr std::size_t kReplyHeadBytes = kPrefixBytes + 1;        // + status
inline constexpr std::size_t kReplyBodyBytes = 32 + 32 + 64;            // id, eph, sig

enum class ReplyStatus : uint8_t { kAccepted = 0, kRejected = 1, kUnsupportedVersion = 2, kWrongPeer = 3 };

using AcceptFn = std::function<bool(const NodeId&)>;

struct SessionKeys {
  SecretStreamFramer::Key rx{};
  SecretStreamFramer::Key tx{};
  ~SessionKeys() {
    sodium_memzero(rx.data(), rx.size());
    sodium_memzero(tx.data(), tx.size());
  }
};

class ClientHandshake {
 public:
  ClientHandshake(const Identity& self, const NodeId& expectedServer);
  ~ClientHandshake();
  ClientHandshake(const ClientHandshake&) = delete;
  ClientHandshake& operator=(const ClientHandshake&) = delete;

  const std::array<uint8_t, kClientHelloBytes>& hello() const { return hello_; }
  // {} when the accepted reply body follows; otherwise why the server refused.
  boost::system::error_code checkReplyHead(std::span<const uint8_t, kReplyHeadBytes> head) const;
  // Verifies the server and derives the session keys; zeroes the ephemeral secret.
  boost::system::error_code finish(std::span<const uint8_t, kReplyBodyBytes> body, SessionKeys& keys);

 private:
  NodeId expected_;
  std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> ephPk_{};
  std::array<uint8_t, crypto_kx_SECRETKEYBYTES> ephSk_{};
  std::array<uint8_t, kClientHelloBytes> hello_{};
};

class ServerHandshake {
 public:
  explicit ServerHandshake(const Identity& self);
  ~ServerHandshake();
  ServerHandshake(const ServerHandshake&) = delete;
  ServerHandshake& operator=(const ServerHandshake&) = delete;

  // Magic and version. On unsupported_version reply() holds the refusal to send back.
  boost::system::error_code receivePrefix(std::span<const uint8_t, kPrefixBytes> prefix);
  // Checks the hello names this node, asks `accept` (before verifying anything: a
  // non-member costs no signature check), verifies the client, and on success
  // derives the keys. reply() then holds the answer to send: the full reply, or the refusal
  // on wrong_peer and peer_rejected; empty otherwise (bad_signature: just close).
  boost::system::error_code receiveBody(std::span<const uint8_t, kClientHelloBodyBytes> body,
                                        const AcceptFn& accept, SessionKeys& keys);
  std::span<const uint8_t> reply() const { return {reply_.data(), replyLen_}; }
  const NodeId& client() const { return client_; }

 private:
  void setRefusal(ReplyStatus status);

  const Identity& self_;
  NodeId client_;
  std::array<uint8_t, kReplyHeadBytes + kReplyBodyBytes> reply_{};
  std::size_t replyLen_ = 0;
};

}  // namespace qmesh::dataplane
