// The production Transport: gossip datagrams over one UDP socket, and the reliable channel
// (full-state push-pull) over TCP on the same port, one connection per message, as
// memberlist's net_transport does. Peers therefore need only one address each.
//
//   send()          ──▶ bounded queue ──▶ async_send_to (one in flight)        UDP
//   receive loop    ◀── 64 KiB buffer; over kMaxDatagram dropped, counted      UDP
//   sendReliable()  ──▶ connect + write one frame + close, under one deadline  TCP
//   accept loop     ◀── header within 1 s, whole frame under a deadline,       TCP
//                       deliver, close; capped overall and per source address
//
// Reliable frame (integers big-endian):
//   [u16 n][n bytes: the sender's advertised "host:port"][u32 m][m bytes of data]
// The data is read in pieces of kReliableChunk bytes, each handed to the ReliableChunkSink
// of the layer above (setReliableSinkFactory) before the next is read, so SealedTransport
// verifies every piece first (sealed_stream.h). Without a sink factory the pieces are
// gathered and the whole data goes to the receive handler. The address in the frame, not
// the TCP peer's (ephemeral) one, is what the handler sees as `from`, so a reply can be sent
// there. It is not authenticated here, and this transport never interprets the data.
//
// Addresses are "host:port" with a numeric IPv4 host or a bracketed IPv6 one; a host name
// is refused and counted (resolveFailures): looking it up would block the loop, and the
// addresses come from the network. Config seeds are resolved asynchronously by the owner.
// Bad input from the network (oversize datagrams, short or garbage frames) is dropped and
// counted, never thrown.
//
// Concurrency: none. Everything, including the receive handler, runs on the io_context's one
// thread; the handler is never called from inside send() or sendReliable(). The transport
// may be closed or destroyed from inside its own receive handler; after close() or
// destruction no handler runs and nothing is counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "common/host_port.h"
#include "common/net.h"
#include "common/result.h"
#include "router/membership/transport.h"

namespace qmesh::membership {

struct UdpTransportCounters {
  // Datagrams (UDP).
  uint64_t datagramsSent = 0;       // accepted by the kernel
  uint64_t datagramsReceived = 0;   // handed to the receive handler
  uint64_t bytesSent = 0;           // datagram payload bytes
  uint64_t bytesReceived = 0;
  uint64_t droppedOversizeOut = 0;  // send() refused: over maxPayload()
  uint64_t droppedOversizeIn = 0;   // arrived larger than kMaxDatagram
  uint64_t droppedQueueFull = 0;    // send() while the outgoing queue was full
  uint64_t sendErrors = 0;          // the kernel refused a datagram (no route, wrong family)
  uint64_t receiveErrors = 0;
  uint64_t resolveFailures = 0;     // unparseable or non-numeric address: not sent
  // Reliable messages (TCP, one connection each). Every sendReliable() call ends up counted
  // in exactly one of reliableSent and reliableFailed (unless the transport closes first).
  uint64_t reliableSent = 0;        // whole frame written to the kernel
  uint64_t reliableReceived = 0;    // whole frame read and handed to the receive handler
  uint64_t reliableBytesSent = 0;   // data bytes, framing excluded
  uint64_t reliableBytesReceived = 0;
  uint64_t reliableFailed = 0;      // refused (over kMaxReliable, bad address, too many
                                    // connections) or connect/write failed or timed out
  uint64_t reliableDropped = 0;     // inbound: short, garbage, over kMaxReliable, or too slow
  uint64_t connectionsOverLimit = 0;  // outbound refused over the cap; inbound: the oldest
                                      // pending closed to admit one over maxInboundConnections
  uint64_t inboundOverSourceLimit = 0;  // inbound: the oldest from an address closed to admit
                                        // one over maxInboundPerSource
  uint64_t inboundOverMemoryBudget = 0;  // inbound: dropped, frames being read held the budget
  uint64_t inboundFirstBytesTimeouts = 0;  // inbound: no whole frame header within firstBytesTimeout
  uint64_t inboundBufferedBytes = 0;  // gauge: reserved by inbound frames still being read
  uint64_t inboundBufferedPeak = 0;   // the most inboundBufferedBytes ever was
  uint64_t reliableChunksRejected = 0;  // inbound: the sink refused a piece or an incomplete
                                        // message (forged, reordered, truncated): dropped
  uint64_t acceptErrors = 0;
};

class UdpTransport final : public Transport {
 public:
  // Why open() failed, so that the main can pick its exit code (4 for kAddressInUse) without
  // parsing the message. Result's Error carries only the message.
  enum class OpenFailure { kNone, kAddressInUse, kBadAddress, kOther };

  struct Options {
    // Datagrams waiting for the socket. They only pile up while the kernel's send buffer is
    // full or within one turn of the loop; beyond this UDP is best effort: drop, count.
    std::size_t maxQueuedDatagrams = 1024;
    // Concurrent TCP connections each way. A push-pull is one connection per sync round, so
    // a handful is normal; the cap stops a flood from exhausting file descriptors. Inbound
    // connections are unauthenticated until their frame is opened above us, so beyond a cap
    // (overall, or per source address) the oldest one is closed and the new one admitted
    // (membership/pending_admission.h says why). One member rarely has more than two in
    // flight to us (its sync round and a join or reply), so 8 per source is headroom.
    std::size_t maxInboundConnections = 32;
    std::size_t maxInboundPerSource = 8;
    std::size_t maxOutboundConnections = 32;
    // Bytes that inbound frames still being read may hold together: the piece being read
    // plus what the sink kept. A frame's data is read in kReliableChunk pieces as it
    // arrives, never allocated from its (unauthenticated) length, and with a verifying sink
    // a stranger holds at most one piece per connection before it is refused. This bounds
    // what authenticated members' frames hold too: without it 32 connections of 8 MiB each
    // could pin 256 MiB. Honest push-pull states are a few hundred bytes per member, so two
    // maximal frames is generous.
    std::size_t maxInboundBufferedBytes = 2 * kMaxReliable;
    // The frame header (sender address and data length) must arrive this soon after
    // accept: an honest sender writes it in its first segment.
    std::chrono::milliseconds firstBytesTimeout{1000};
    // Connect and write one frame. LAN-sized: 8 MiB (kMaxReliable) needs ~35 Mbit/s to make it;
    // a peer that cannot accept in time is treated as unreachable, as a lost ping would be.
    std::chrono::milliseconds reliableSendTimeout{2000};
    // Read one whole frame. Longer than the sender's own deadline so that a frame the sender
    // managed to write is not cut short by ours; a silent connection is closed after this.
    std::chrono::milliseconds reliableReadTimeout{5000};
  };

  // Binds a UDP socket and a TCP listener to the same `bind` address (a numeric IPv4 or IPv6
  // address, 0.0.0.0 or :: for all interfaces). Port 0 picks a port free for both.
  // localAddress() is, in order: `advertise` (its port 0 meaning the bound port); the bind
  // host if it is not a wildcard; for a wildcard, the first non-loopback IPv4 address of an
  // up interface (getifaddrs), falling back to 127.0.0.1 when there is none. Set `advertise`
  // whenever the node is reached through NAT or has several interfaces.
  static Result<std::unique_ptr<UdpTransport>> open(net::io_context& io, const HostPort& bind,
                                                    std::optional<HostPort> advertise,
                                                    const Options& options, OpenFailure* failure = nullptr);
  static Result<std::unique_ptr<UdpTransport>> open(net::io_context& io, const HostPort& bind,
                                                    std::optional<HostPort> advertise) {
    return open(io, bind, std::move(advertise), Options{});
  }

  ~UdpTransport() override;
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;

  void send(const Address& to, std::span<const uint8_t> data) override;
  void setReceiveHandler(ReceiveHandler handler) override;
  const Address& localAddress() const override;
  bool supportsReliable() const override { return true; }
  void sendReliable(const Address& to, std::span<const uint8_t> data) override;
  void setReliableSinkFactory(ReliableSinkFactory factory) override;

  // The port both sockets are bound to (the advertised port may differ behind NAT).
  uint16_t boundPort() const;
  const UdpTransportCounters& counters() const;
  // Stops both loops, aborts every connection and drops queued datagrams; idempotent. Later
  // sends are ignored.
  void close();

 private:
  struct Core;
  class Connection;
  explicit UdpTransport(std::shared_ptr<Core> core);
  // Shared with in-flight completions, which hold it weakly: a completion that finds it gone
  // (or closed) returns without touching anything.
  std::shared_ptr<Core> core_;
};

}  // namespace qmesh::membership
