#include "router/membership/sealed_transport.h"

#include <algorithm>

#include "router/membership/sealed_stream.h"

namespace qmesh::membership {

SealedTransport::SealedTransport(std::unique_ptr<Transport> inner, const Keyring& keyring,
                                 NodeId self, uint64_t bootEpoch, const Clock* clock)
    : inner_(std::move(inner)),
      datagrams_(keyring, self, bootEpoch, Channel::kDatagram, clock),
      reliable_(keyring, self, bootEpoch, Channel::kReliable, clock) {}

void SealedTransport::send(const Address& to, std::span<const uint8_t> data) {
  auto sealed = datagrams_.seal(data);
  if (sealed) inner_->send(to, *sealed);  // else counted as tooLarge by the envelope
}

void SealedTransport::sendReliable(const Address& to, std::span<const uint8_t> data) {
  auto sealed = reliable_.seal(data);
  if (sealed) inner_->sendReliable(to, *sealed);
}

void SealedTransport::setReceiveHandler(ReceiveHandler handler) {
  handler_ = std::move(handler);
  if (!handler_) {
    inner_->setReceiveHandler(nullptr);
    inner_->setReliableSinkFactory(nullptr);
    return;
  }
  inner_->setReceiveHandler([this](const Address& from, std::span<const uint8_t> data) {
    // Datagrams, and whole reliable messages from a transport that does not stream; the
    // clear format byte says which envelope opens it (and anything else is the datagram
    // envelope's to count as a bad version).
    const bool reliable = !data.empty() && data[0] == Envelope::kReliableVersion;
    auto opened = reliable ? reliable_.open(data) : datagrams_.open(data);
    if (opened) deliverOpened(from, opened->sender, opened->plaintext);
  });
  // A streaming transport hands each push-pull piece to an opener that verifies it before
  // the next is read (sealed_stream.h).
  inner_->setReliableSinkFactory([this]() -> std::unique_ptr<ReliableChunkSink> {
    return std::make_unique<SealedStreamOpener>(
        reliable_, [this](const Address& from, const NodeId& sender, std::span<const uint8_t> plaintext) {
          deliverOpened(from, sender, plaintext);
        });
  });
}

void SealedTransport::deliverOpened(const Address& from, const NodeId& sender, std::span<const uint8_t> plaintext) {
  if (!handler_) return;
  receiving_ = sender;  // for authenticatedSender(), while the handler runs
  handler_(from, plaintext);
  receiving_.reset();
}

std::size_t SealedTransport::maxPayload() const {
  const std::size_t inner = inner_->maxPayload();
  return std::min(Envelope::kMaxPlaintext, inner > Envelope::kOverhead ? inner - Envelope::kOverhead : 0);
}

void SealedTransport::forgetPeer(const NodeId& id) {
  datagrams_.forgetPeer(id);
  reliable_.forgetPeer(id);
}

}  // namespace qmesh::membership
