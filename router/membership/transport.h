// The only way the membership protocol touches the network. Production wraps a UDP socket;
// tests and the simulator use InMemoryNetwork; SealedTransport decorates either with the
// AEAD envelope. Probes and gossip stay on datagrams on purpose: SWIM's timing assumptions
// (a lost ping is a lost ping) only hold on an unreliable, unordered channel. Only the bulk
// full-state sync (push-pull) uses the optional reliable channel below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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
// A streaming reliable transport (UdpTransport) reads a message this many bytes at a time
// (the last piece shorter) and hands each piece to a ReliableChunkSink before it reads the
// next, so a sealing layer can verify every piece first: nothing unauthenticated larger
// than this is ever held per connection. Part of the protocol: senders that seal in chunks
// (SealedStream) cut their messages at the same boundaries.
inline constexpr std::size_t kReliableChunk = 64 * 1024;

// Takes one incoming reliable message piece by piece (see kReliableChunk). Installed by the
// layer above a streaming transport (SealedTransport), one sink per message.
class ReliableChunkSink {
 public:
  virtual ~ReliableChunkSink() = default;
  // The next piece, in order. false: it is bad (forged, out of order, after the end); the
  // transport drops the connection, counts it and reads nothing more.
  virtual bool chunk(std::span<const uint8_t> piece) = 0;
  // Every piece arrived. false: the message is incomplete (truncated) and is dropped and
  // counted; true: the sink has handed it to the protocol (`from`: the frame's address).
  virtual bool finish(const std::string& from) = 0;
  // Bytes the sink keeps (verified plaintext), for the transport's memory budget.
  virtual std::size_t heldBytes() const = 0;
};

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
  // A streaming transport gives each incoming reliable message to a sink from `factory`
  // instead of the receive handler (null: back to the handler). Others deliver whole
  // messages to the handler and ignore this; the layer above then reads them in pieces itself.
  using ReliableSinkFactory = std::function<std::unique_ptr<ReliableChunkSink>()>;
  virtual void setReliableSinkFactory(ReliableSinkFactory factory) { (void)factory; }
};

}  // namespace qmesh::membership
