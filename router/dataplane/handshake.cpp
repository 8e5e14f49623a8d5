#include "router/dataplane/handshake.h"

#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/sodium_init.h"
#include "router/dataplane/errors.h"

namespace qmesh::dataplane {
namespace {

using boost::system::error_code;
using membership::Signature;
using Bytes = std::span<const uint8_t>;

// Domain separation: a signature made for one role can never pass as the other's.
constexpr std::string_view kClientLabel = "qmesh-dataplane-v1 client";
constexpr std::string_view kServerLabel = "qmesh-dataplane-v1 server";
constexpr std::size_t kKeyBytes = crypto_kx_PUBLICKEYBYTES;

static_assert(NodeId::kSize == 32 && kKeyBytes == 32 && sizeof(Signature) == 64);
static_assert(crypto_kx_SESSIONKEYBYTES == SecretStreamFramer::kKeyBytes);

// label || parts..., the exact bytes a signature covers.
std::vector<uint8_t> transcript(std::string_view label, std::initializer_list<Bytes> parts) {
  std::vector<uint8_t> out(label.begin(), label.end());
  for (Bytes p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

uint8_t* putPrefix(uint8_t* p) {
  std::memcpy(p, kMagic.data(), kMagic.size());
  p[kMagic.size()] = kVersion;
  return p + kPrefixBytes;
}

// The client hello body: id(32) || expected server id(32) || eph pk(32) || signature(64);
// the server reply body: id(32) || eph pk(32) || signature(64).
struct HelloBody {
  NodeId id;
  NodeId expected;  // client hello only
  Bytes eph;
  Signature sig;
};

HelloBody parseBody(Bytes body, bool client) {
  const std::size_t ephAt = client ? 64 : 32;
  HelloBody h{{}, {}, body.subspan(ephAt, kKeyBytes), {}};
  std::memcpy(h.id.bytes.data(), body.data(), NodeId::kSize);
  if (client) std::memcpy(h.expected.bytes.data(), body.data() + 32, NodeId::kSize);
  std::memcpy(h.sig.data(), body.data() + ephAt + kKeyBytes, h.sig.size());
  return h;
}

uint8_t* put(uint8_t* p, Bytes b) {
  std::memcpy(p, b.data(), b.size());
  return p + b.size();
}

}  // namespace

ClientHandshake::ClientHandshake(const Identity& self, const NodeId& expectedServer) : expected_(expectedServer) {
  ensureSodium();
  crypto_kx_keypair(ephPk_.data(), ephSk_.data());
  const Signature sig = self.sign(transcript(kClientLabel, {ephPk_, expected_.bytes}));
  uint8_t* p = put(put(putPrefix(hello_.data()), self.id().bytes), expected_.bytes);
  put(put(p, ephPk_), sig);
}

ClientHandshake::~ClientHandshake() { sodium_memzero(ephSk_.data(), ephSk_.size()); }

error_code ClientHandshake::checkReplyHead(std::span<const uint8_t, kReplyHeadBytes> head) const {
  if (std::memcmp(head.data(), kMagic.data(), kMagic.size()) != 0) return dataplane_errc::bad_hello;
  const auto status = static_cast<ReplyStatus>(head[kPrefixBytes]);
  if (head[4] != kVersion || status == ReplyStatus::kUnsupportedVersion) return dataplane_errc::unsupported_version;
  if (status == ReplyStatus::kRejected) return dataplane_errc::peer_rejected;
  if (status == ReplyStatus::kWrongPeer) return dataplane_errc::wrong_peer;
  if (status != ReplyStatus::kAccepted) return dataplane_errc::bad_hello;
  return {};
}

error_code ClientHandshake::finish(std::span<const uint8_t, kReplyBodyBytes> body, SessionKeys& keys) {
  const HelloBody server = parseBody(body, false);
  const Bytes selfId(hello_.data() + kPrefixBytes, NodeId::kSize);
  error_code ec;
  if (server.id != expected_) {
    ec = dataplane_errc::wrong_peer;
  } else if (!membership::verifySignature(server.id, transcript(kServerLabel, {server.eph, ephPk_, selfId}),
                                          server.sig)) {
    ec = dataplane_errc::bad_signature;
  } else if (crypto_kx_client_session_keys(keys.rx.data(), keys.tx.data(), ephPk_.data(), ephSk_.data(),
                                           server.eph.data()) != 0) {
    ec = dataplane_errc::bad_hello;  // a low-order point: no honest peer sends one
  }
  sodium_memzero(ephSk_.data(), ephSk_.size());
  return ec;
}

ServerHandshake::ServerHandshake(const Identity& self) : self_(self) { ensureSodium(); }

ServerHandshake::~ServerHandshake() { sodium_memzero(reply_.data(), reply_.size()); }

void ServerHandshake::setRefusal(ReplyStatus status) {
  putPrefix(reply_.data())[0] = static_cast<uint8_t>(status);
  replyLen_ = kReplyHeadBytes;
}

error_code ServerHandshake::receivePrefix(std::span<const uint8_t, kPrefixBytes> prefix) {
  replyLen_ = 0;
  if (std::memcmp(prefix.data(), kMagic.data(), kMagic.size()) != 0) return dataplane_errc::bad_hello;
  if (prefix[4] != kVersion) {
    setRefusal(ReplyStatus::kUnsupportedVersion);
    return dataplane_errc::unsupported_version;
  }
  return {};
}

error_code ServerHandshake::receiveBody(std::span<const uint8_t, kClientHelloBodyBytes> body,
                                        const AcceptFn& accept, SessionKeys& keys) {
  replyLen_ = 0;
  const HelloBody client = parseBody(body, true);
  client_ = client.id;
  if (client.expected != self_.id()) {
    setRefusal(ReplyStatus::kWrongPeer);
    return dataplane_errc::wrong_peer;
  }
  // Membership first: it is a table lookup, while an Ed25519 verify costs ~50 µs, and
  // anyone can send hellos naming random ids. The refusal tells the sender only that the
  // id it claimed is not a member, which the member list gossiped to every node says too.
  if (!accept || !accept(client.id)) {
    setRefusal(ReplyStatus::kRejected);
    return dataplane_errc::peer_rejected;
  }
  if (!membership::verifySignature(client.id, transcript(kClientLabel, {client.eph, self_.id().bytes}), client.sig))
    return dataplane_errc::bad_signature;

  std::array<uint8_t, kKeyBytes> ephPk;
  std::array<uint8_t, crypto_kx_SECRETKEYBYTES> ephSk;
  crypto_kx_keypair(ephPk.data(), ephSk.data());
  const int rc = crypto_kx_server_session_keys(keys.rx.data(), keys.tx.data(), ephPk.data(), ephSk.data(),
                                               client.eph.data());
  sodium_memzero(ephSk.data(), ephSk.size());
  if (rc != 0) return dataplane_errc::bad_hello;  // a low-order point: no honest peer sends one

  const Signature sig = self_.sign(transcript(kServerLabel, {ephPk, client.eph, client.id.bytes}));
  uint8_t* p = putPrefix(reply_.data());
  *p++ = static_cast<uint8_t>(ReplyStatus::kAccepted);
  put(put(put(p, self_.id().bytes), ephPk), sig);
  replyLen_ = reply_.size();
  return {};
}

}  // namespace qmesh::dataplane
