// The only way the membership protocol touches the network. Production wraps a UDP socket;
// tests and the simulator use InMemoryNetwork; SealedTransport decorates either with the
// AEAD envelope. Probes and gossip stay on datagrams on purpose: SWIM's timing assumptions
// (a lost ping is a lost ping) only hold on an unreliable, unordered channel. Only the bulk
// full-state sync (push-pull) uses the optional reliable channel below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "router/membership/node_id.h"

namespace qmesh::membership {

// "host:port" — opaque to the protocol; only transports parse it.
using Address = std::string;

// Every datagram on the wire, crypto overhead included, fits here: it stays under a
// 1,500-byte Ethernet MTU after IP/UDP headers and common tunnel encapsulations.
inline constexpr std::size_t kMaxDatagram = 1400;
// A reliable message (full-state push-pull) may be this large: ~1,000 members' records.
inline constexpr std::size_t kMaxReliable = 8u << 20;

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

  // The member that sent the packet being delivered, as a sealing layer authenticated it
  // (SealedTransport: the envelope's sender id, which only a holder of the mesh key can
  // write). Valid only while the receive handler runs; nullptr from a transport that
  // authenticates nobody (the bare networks of simulations), where claims are taken as sent.
  virtual const NodeId* authenticatedSender() const { return nullptr; }

  // Largest payload send() accepts; a decorator that adds framing reports less.
  virtual std::size_t maxPayload() const { return kMaxDatagram; }

  // Bulk state (the push-pull full sync) goes over a reliable channel where there is one:
  // delivered whole and intact, or not at all (peer down, partitioned) — a TCP connection
  // per message on UDP. It arrives through the same receive handler, `from` being the
  // sender's advertised address (so a reply can be sent there). Up to kMaxReliable bytes.
  virtual bool supportsReliable() const { return false; }
  virtual void sendReliable(const Address& to, std::span<const uint8_t> data) {
    (void)to;
    (void)data;
  }
};

}  // namespace qmesh::membership
