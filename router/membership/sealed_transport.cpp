#include "router/membership/sealed_transport.h"

#include <algorithm>

namespace qmesh::membership {

SealedTransport::SealedTransport(std::unique_ptr<Transport> inner, const Keyring& keyring,
                                 NodeId self, uint64_t bootEpoch)
    : inner_(std::move(inner)), envelope_(keyring, self, bootEpoch) {}

void SealedTransport::send(const Address& to, std::span<const uint8_t> data) {
  auto sealed = envelope_.seal(data);
  if (sealed) inner_->send(to, *sealed);  // else counted as tooLarge by the envelope
}

void SealedTransport::setReceiveHandler(ReceiveHandler handler) {
  handler_ = std::move(handler);
  if (!handler_) {
    inner_->setReceiveHandler(nullptr);
    return;
  }
  inner_->setReceiveHandler([this](const Address& from, std::span<const uint8_t> data) {
    auto opened = envelope_.open(data);
    if (opened && handler_) handler_(from, opened->plaintext);
  });
}

std::size_t SealedTransport::maxPayload() const {
  const std::size_t inner = inner_->maxPayload();
  return std::min(Envelope::kMaxPlaintext, inner > Envelope::kOverhead ? inner - Envelope::kOverhead : 0);
}

}  // namespace qmesh::membership
