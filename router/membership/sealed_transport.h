// A Transport decorator that seals every outgoing datagram and reliable message with the
// Envelope and opens every incoming one; only packets that authenticate (and are not
// replays) reach the protocol. The protocol sees a smaller maxPayload(): the crypto
// overhead is inside the 1,400-byte datagram limit. Reliable messages (push-pull) are
// sealed on their own channel: push-pull subkey, own counter and replay windows, no
// datagram limit (up to kMaxReliable), and their own stats; they are sealed as a stream of
// chunks (sealed_stream.h), and over a streaming transport (UdpTransport) each arriving
// piece is verified by a SealedStreamOpener before the transport reads the next.
#pragma once

#include <memory>
#include <optional>

#include "router/membership/envelope.h"
#include "router/membership/transport.h"

namespace qmesh::membership {

class SealedTransport final : public Transport {
 public:
  // `clock`: see Envelope (it times a sender's epoch handover).
  SealedTransport(std::unique_ptr<Transport> inner, const Keyring& keyring, NodeId self,
                  uint64_t bootEpoch, const Clock* clock = nullptr);

  void send(const Address& to, std::span<const uint8_t> data) override;
  void setReceiveHandler(ReceiveHandler handler) override;
  const Address& localAddress() const override { return inner_->localAddress(); }
  const NodeId* authenticatedSender() const override { return receiving_ ? &*receiving_ : nullptr; }
  std::size_t maxPayload() const override;
  bool supportsReliable() const override { return inner_->supportsReliable(); }
  void sendReliable(const Address& to, std::span<const uint8_t> data) override;

  // The mesh forgot this member (reaped): drop its replay windows, keep what still rejects
  // its old packets (Envelope::forgetPeer). Wire it to Gossip's reap listener.
  void forgetPeer(const NodeId& id);

  const EnvelopeStats& stats() const { return datagrams_.stats(); }
  const EnvelopeStats& reliableStats() const { return reliable_.stats(); }
  const Envelope& datagramEnvelope() const { return datagrams_; }
  const Envelope& reliableEnvelope() const { return reliable_; }
  Transport& inner() { return *inner_; }

 private:
  void deliverOpened(const Address& from, const NodeId& sender, std::span<const uint8_t> plaintext);

  std::unique_ptr<Transport> inner_;
  Envelope datagrams_;
  Envelope reliable_;
  ReceiveHandler handler_;
  std::optional<NodeId> receiving_;  // the opened packet's sender, while the handler runs
};

}  // namespace qmesh::membership
