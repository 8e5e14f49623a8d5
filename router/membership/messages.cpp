#include "router/membership/messages.h"

#include <arpa/inet.h>

#include "common/host_port.h"
#include "common/names.h"
#include "router/membership/wire.h"

namespace qmesh::membership {
namespace {

using wire::Reader;
using wire::Writer;

void writeId(Writer& w, const NodeId& id) { w.bytes(id.bytes); }
NodeId readId(Reader& r) {
  NodeId id;
  r.into(id.bytes);
  return id;
}

void writeSignature(Writer& w, const Signature& sig) { w.bytes(sig); }
Signature readSignature(Reader& r) {
  Signature sig{};
  r.into(sig);
  return sig;
}

void writeRecordFields(Writer& w, const Member& m) {
  w.str8(m.name);
  w.str8(m.address);
  w.blob16(m.meta);
}

void readRecordFields(Reader& r, Member& m) {
  m.name = r.str8();
  m.address = r.str8();
  m.meta = r.blob16();
  if (m.name.size() > kMaxNameBytes || m.address.size() > kMaxAddressBytes ||
      m.meta.size() > kMaxMetaBytes)
    r.fail();
}

// Alive: [id][incarnation][name][address][meta][signature]. The incarnation is the signed
// one: an alive claim is exactly the member's signed record.
void writeAlive(Writer& w, const Member& m) {
  writeId(w, m.id);
  w.u32(m.incarnation);
  writeRecordFields(w, m);
  writeSignature(w, m.signature);
}

Member readAlive(Reader& r) {
  Member m;
  m.id = readId(r);
  m.incarnation = r.u32();
  m.signedIncarnation = m.incarnation;
  readRecordFields(r, m);
  m.signature = readSignature(r);
  return m;
}

// SyncState: [id][incarnation][state][name][address][meta][signed incarnation][signature]
// [leave signature, only when state is left]. The state byte keeps the place it had before
// signatures, after id and incarnation.
void writeSyncState(Writer& w, const Member& m) {
  writeId(w, m.id);
  w.u32(m.incarnation);
  w.u8(static_cast<uint8_t>(m.state));
  writeRecordFields(w, m);
  w.u32(m.signedIncarnation);
  writeSignature(w, m.signature);
  if (m.state == MemberState::kLeft) writeSignature(w, m.leaveSignature);
}

Member readSyncState(Reader& r) {
  Member m;
  m.id = readId(r);
  m.incarnation = r.u32();
  const uint8_t s = r.u8();
  if (s > static_cast<uint8_t>(MemberState::kLeft)) r.fail();
  m.state = static_cast<MemberState>(s);
  readRecordFields(r, m);
  m.signedIncarnation = r.u32();
  m.signature = readSignature(r);
  if (m.state == MemberState::kLeft) m.leaveSignature = readSignature(r);
  // Only others' suspicions move the state's incarnation past the record's, never the
  // other way, and an alive member's state is its record.
  if (m.signedIncarnation > m.incarnation ||
      (m.state == MemberState::kAlive && m.signedIncarnation != m.incarnation))
    r.fail();
  return m;
}

struct BodyWriter {
  Writer& w;
  MessageType operator()(const Ping& m) {
    w.u32(m.seq);
    writeId(w, m.target);
    return MessageType::kPing;
  }
  MessageType operator()(const PingReq& m) {
    w.u32(m.seq);
    writeId(w, m.target);
    w.str8(m.targetAddress);
    return MessageType::kPingReq;
  }
  MessageType operator()(const Ack& m) {
    w.u32(m.seq);
    return MessageType::kAck;
  }
  MessageType operator()(const Suspect& m) {
    writeId(w, m.id);
    w.u32(m.incarnation);
    writeId(w, m.from);
    return MessageType::kSuspect;
  }
  MessageType operator()(const Alive& m) {
    writeAlive(w, m.member);
    return MessageType::kAlive;
  }
  MessageType operator()(const Dead& m) {
    writeId(w, m.id);
    w.u32(m.incarnation);
    writeId(w, m.from);
    return MessageType::kDead;
  }
  MessageType operator()(const Leave& m) {
    writeId(w, m.id);
    w.u32(m.incarnation);
    writeSignature(w, m.signature);
    return MessageType::kLeave;
  }
  MessageType operator()(const SyncRequest& m) {
    w.u8(m.wantReply ? 1 : 0);
    return MessageType::kSyncRequest;
  }
  MessageType operator()(const SyncState& m) {
    writeSyncState(w, m.member);
    return MessageType::kSyncState;
  }
};

// Returns false for a type this build does not know (the caller skips the frame).
bool readBody(MessageType type, Reader& r, Message& out) {
  switch (type) {
    case MessageType::kPing: {
      Ping m;
      m.seq = r.u32();
      m.target = readId(r);
      out = m;
      return true;
    }
    case MessageType::kPingReq: {
      PingReq m;
      m.seq = r.u32();
      m.target = readId(r);
      m.targetAddress = r.str8();
      if (m.targetAddress.size() > kMaxAddressBytes) r.fail();
      out = m;
      return true;
    }
    case MessageType::kAck:
      out = Ack{r.u32()};
      return true;
    case MessageType::kSuspect: {
      Suspect m;
      m.id = readId(r);
      m.incarnation = r.u32();
      m.from = readId(r);
      out = m;
      return true;
    }
    case MessageType::kAlive:
      out = Alive{readAlive(r)};
      return true;
    case MessageType::kDead: {
      Dead m;
      m.id = readId(r);
      m.incarnation = r.u32();
      m.from = readId(r);
      out = m;
      return true;
    }
    case MessageType::kLeave: {
      Leave m;
      m.id = readId(r);
      m.incarnation = r.u32();
      m.signature = readSignature(r);
      out = m;
      return true;
    }
    case MessageType::kSyncRequest: {
      const uint8_t flag = r.u8();
      if (flag > 1) r.fail();
      out = SyncRequest{flag == 1};
      return true;
    }
    case MessageType::kSyncState:
      out = SyncState{readSyncState(r)};
      return true;
  }
  return false;
}

}  // namespace

const char* toString(MemberState s) {
  switch (s) {
    case MemberState::kAlive: return "alive";
    case MemberState::kSuspect: return "suspect";
    case MemberState::kDead: return "dead";
    case MemberState::kLeft: return "left";
  }
  return "?";
}

bool isNumericAddress(const Address& a) {
  const auto hp = parseHostPort(a);
  if (!hp || hp->port == 0 || hp->str() != a) return false;  // canonical: what we would print
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, hp->host.c_str(), &v4) == 1 || inet_pton(AF_INET6, hp->host.c_str(), &v6) == 1;
}

bool isUsableRecord(const Member& m) { return isValidName(m.name) && isNumericAddress(m.address); }

Status validateMember(const Member& m) {
  if (m.name.size() > kMaxNameBytes)
    return makeError("member name '" + m.name + "' is longer than " +
                     std::to_string(kMaxNameBytes) + " bytes; choose a shorter node name");
  if (m.address.size() > kMaxAddressBytes)
    return makeError("gossip address '" + m.address + "' is longer than " +
                     std::to_string(kMaxAddressBytes) + " bytes");
  if (m.meta.size() > kMaxMetaBytes)
    return makeError("member metadata is " + std::to_string(m.meta.size()) +
                     " bytes; the limit is " + std::to_string(kMaxMetaBytes) +
                     " (larger state belongs in push-pull sync)");
  return Ok{};
}

void encodeMessage(const Message& m, std::vector<uint8_t>& out) {
  const std::size_t start = out.size();
  out.resize(start + 3);  // type and length, filled in once the body is written
  Writer w(out);
  const MessageType type = std::visit(BodyWriter{w}, m);
  const std::size_t len = out.size() - start - 3;
  out[start] = static_cast<uint8_t>(type);
  out[start + 1] = static_cast<uint8_t>(len >> 8);
  out[start + 2] = static_cast<uint8_t>(len);
}

std::vector<uint8_t> encodeMessage(const Message& m) {
  std::vector<uint8_t> out;
  encodeMessage(m, out);
  return out;
}

std::vector<uint8_t> encodePacket(const std::vector<Message>& messages) {
  std::vector<uint8_t> out;
  for (const Message& m : messages) encodeMessage(m, out);
  return out;
}

Result<DecodedPacket> decodePacket(std::span<const uint8_t> data) {
  DecodedPacket packet;
  Reader frames(data);
  if (data.empty()) return makeError("empty packet");
  while (!frames.atEnd()) {
    const auto type = static_cast<MessageType>(frames.u8());
    const uint16_t len = frames.u16();
    auto body = frames.bytes(len);
    if (!frames.ok()) return makeError("truncated message frame");
    Reader r(body);
    Message m;
    if (!readBody(type, r, m)) {
      ++packet.unknownSkipped;
      continue;
    }
    // A body must be consumed exactly: trailing bytes mean a framing or version bug.
    if (!r.ok() || !r.atEnd())
      return makeError("malformed body for message type " +
                       std::to_string(static_cast<int>(type)));
    packet.messages.push_back(std::move(m));
  }
  return packet;
}

}  // namespace qmesh::membership
