// The only way the membership protocol touches the network. Production wraps a UDP socket;
// tests and the simulator use InMemoryNetwork; SealedTransport decorates either with the
// AEAD envelope. Kept to datagrams on purpose: SWIM's timing assumptions (a lost ping is a
// lost ping) only hold on an unreliable, unordered channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace qmesh::membership {

// "host:port" — opaque to the protocol; only transports parse it.
using Address = std::string;

// Every datagram on the wire, crypto overhead included, fits here: it stays under a
// 1,500-byte Ethernet MTU after IP/UDP headers and common tunnel encapsulations.
inline constexpr std::size_t kMaxDatagram = 1400;

class Transport {
 public:
  using ReceiveHandler = std::function<void(const Address& from, std::span<const uint8_t> data)>;

  virtual ~Transport() = default;

  // Best effort: may drop, delay or reorder. Datagrams over maxPayload() are not sent (and a
  // transport counts them); callers size their packets to maxPayload().
  virtual void send(const Address& to, std::span<const uint8_t> data) = 0;

  // Called for each datagram that arrives, on the caller's event loop; never re-entrantly
  // from inside send().
  virtual void setReceiveHandler(ReceiveHandler handler) = 0;

  virtual const Address& localAddress() const = 0;

  // Largest payload send() accepts; a decorator that adds framing reports less.
  virtual std::size_t maxPayload() const { return kMaxDatagram; }
};

}  // namespace qmesh::membership
