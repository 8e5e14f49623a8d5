// A Transport decorator that seals every outgoing datagram with the Envelope and opens
// every incoming one; only packets that authenticate (and are not replays) reach the
// protocol. The protocol sees a smaller maxPayload(): the crypto overhead is inside the
// 1,400-byte datagram limit.
#pragma once

#include <memory>

#include "router/membership/envelope.h"
#include "router/membership/transport.h"

namespace qmesh::membership {

class SealedTransport final : public Transport {
 public:
  SealedTransport(std::unique_ptr<Transport> inner, const Keyring& keyring, NodeId self,
                  uint64_t bootEpoch);

  void send(const Address& to, std::span<const uint8_t> data) override;
  void setReceiveHandler(ReceiveHandler handler) override;
  const Address& localAddress() const override { return inner_->localAddress(); }
  std::size_t maxPayload() const override;

  const EnvelopeStats& stats() const { return envelope_.stats(); }
  Transport& inner() { return *inner_; }

 private:
  std::unique_ptr<Transport> inner_;
  Envelope envelope_;
  ReceiveHandler handler_;
};

}  // namespace qmesh::membership
