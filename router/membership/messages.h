// Wire messages of the membership protocol. A packet is a sequence of framed messages
// ([type u8][length u16][body]); the first is the packet's purpose (ping, ack, ...) and the
// rest are piggybacked member updates. The length frame lets an older node skip a type it
// does not know, so new types can be added without breaking a rolling upgrade.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "router/membership/identity.h"
#include "router/membership/node_id.h"
#include "router/membership/transport.h"

namespace qmesh::membership {

// The numeric values are part of the protocol: append only, never renumber or reuse.
enum class MessageType : uint8_t {
  kPing = 1,
  kPingReq = 2,
  kAck = 3,
  kSuspect = 4,
  kAlive = 5,
  kDead = 6,
  kLeave = 7,
  kSyncRequest = 8,
  kSyncState = 9,
};

// Also on the wire (in SyncState): append only.
enum class MemberState : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };
const char* toString(MemberState s);

// Field limits keep one member record well inside a datagram, so any single update can
// always be sent on its own: the largest (a SyncState of a member that left, with both its
// signatures) is 1,136 bytes framed, under the 1,311 a sealed datagram carries.
inline constexpr std::size_t kMaxNameBytes = 64;
inline constexpr std::size_t kMaxAddressBytes = 128;
inline constexpr std::size_t kMaxMetaBytes = 768;

struct Member {
  NodeId id;
  std::string name;
  uint32_t incarnation = 0;  // of `state`; others' suspect/dead claims can move it past the record's
  MemberState state = MemberState::kAlive;
  Address address;
  std::vector<uint8_t> meta;  // opaque here; the router puts its workers in it

  // The member's own Ed25519 signature (claim_authority.h) over its self-description (id,
  // name, address, meta) at `signedIncarnation`: the last alive record it announced. Equal
  // to `incarnation` while alive; a suspicion or verdict at a newer incarnation leaves the
  // record (and its proof) as it was, since nobody but the member can re-sign it.
  uint32_t signedIncarnation = 0;
  Signature signature{};
  // Its signed goodbye at `incarnation`, once state is kLeft (so a SyncState can pass on
  // a leave that others can check).
  Signature leaveSignature{};

  bool operator==(const Member&) const = default;
};

// A member record the local node is about to announce must respect the wire limits.
Status validateMember(const Member& m);

// Whether a record heard from the network is fit to keep: its name follows the config's
// name rule (common/names.h), since it reaches logs, JSON and metrics labels, and its
// address is a numeric "IP:PORT" in canonical form (no host names: resolving one would
// block the event loop, and a peer could make us resolve anything).
bool isUsableRecord(const Member& m);
bool isNumericAddress(const Address& a);

// Direct probe. `target` guards against an address reused by another node: only the node
// with that id answers. A zero target means "whoever is there" (a join probe to a seed).
struct Ping {
  uint32_t seq = 0;
  NodeId target;
  bool operator==(const Ping&) const = default;
};
// "Please probe target for me": the relay pings target and forwards the ack.
struct PingReq {
  uint32_t seq = 0;
  NodeId target;
  Address targetAddress;
  bool operator==(const PingReq&) const = default;
};
struct Ack {
  uint32_t seq = 0;
  bool operator==(const Ack&) const = default;
};
// `from` is the accuser: distinct accusers are the independent confirmations of Lifeguard.
struct Suspect {
  NodeId id;
  uint32_t incarnation = 0;
  NodeId from;
  bool operator==(const Suspect&) const = default;
};
// The full self-description of a member at an incarnation, signed by the member (its
// member.incarnation and member.signedIncarnation are the same); state is implied alive.
struct Alive {
  Member member;
  bool operator==(const Alive&) const = default;
};
struct Dead {
  NodeId id;
  uint32_t incarnation = 0;
  NodeId from;
  bool operator==(const Dead&) const = default;
};
// Only a node itself announces its graceful leave, and signs it.
struct Leave {
  NodeId id;
  uint32_t incarnation = 0;
  Signature signature{};
  bool operator==(const Leave&) const = default;
};
// Anti-entropy: the sender is pushing its state (SyncState records follow, in one reliable
// message where the transport has a reliable channel, else over several datagrams) and, if
// wantReply, asks for the receiver's in return.
struct SyncRequest {
  bool wantReply = true;
  bool operator==(const SyncRequest&) const = default;
};
// One member as the sender sees it, state included: the member's signed record, plus the
// state and its incarnation (and the signed leave if it left).
struct SyncState {
  Member member;
  bool operator==(const SyncState&) const = default;
};

using Message = std::variant<Ping, PingReq, Ack, Suspect, Alive, Dead, Leave, SyncRequest, SyncState>;

// Appends one framed message.
void encodeMessage(const Message& m, std::vector<uint8_t>& out);
std::vector<uint8_t> encodeMessage(const Message& m);
std::vector<uint8_t> encodePacket(const std::vector<Message>& messages);

struct DecodedPacket {
  std::vector<Message> messages;
  std::size_t unknownSkipped = 0;  // frames of types newer than this build
};
// Bad input is an error value, never a crash or an over-read.
Result<DecodedPacket> decodePacket(std::span<const uint8_t> data);

}  // namespace qmesh::membership
