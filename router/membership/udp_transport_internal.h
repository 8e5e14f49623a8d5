// Internal to UdpTransport: its shared state (Core) and the TCP connection that carries one
// reliable frame (Connection). Only udp_transport*.cpp include this.
//
// Reliable frame on the wire: u16 sender-address length, the sender's "host:port", u32
// data length, the data; one frame per connection, then FIN. The receiver reads the data in
// pieces of kReliableChunk bytes (the last shorter) and gives each to the connection's
// ReliableChunkSink before reading the next; the sink from SealedTransport authenticates
// each piece as one secretstream chunk (sealed_stream.h), so a frame that fails is dropped
// after at most one piece of unauthenticated bytes, whatever length it announced. Without a
// sink factory (a bare transport) a gathering sink hands the whole data to the handler.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "router/membership/pending_admission.h"
#include "router/membership/udp_transport.h"

namespace qmesh::membership {

using tcp = net::ip::tcp;
using udp = net::ip::udp;
using std::chrono::steady_clock;

namespace udp_detail {

// Larger than any UDP payload (65,507 bytes), so an oversize datagram is seen whole and
// counted rather than silently truncated to something that might parse.
constexpr std::size_t kReceiveBuffer = 64 * 1024;
// The u16 length allows more, but no "host:port" is this long; a bigger one is garbage.
constexpr std::size_t kMaxAddressBytes = 255;

std::vector<uint8_t> buildFrame(const Address& from, std::span<const uint8_t> data);

}  // namespace udp_detail

struct UdpTransport::Core : std::enable_shared_from_this<Core> {
  Core(net::io_context& io, const Options& options)
      : io(io), options(options), socket(io), acceptor(io), acceptRetry(io), rx(udp_detail::kReceiveBuffer),
        inboundAdmission({options.maxInboundConnections, options.maxInboundPerSource}) {}

  error_code bindBoth(const net::ip::address& addr, uint16_t wanted, const char** which);
  void closeSockets();
  void close();
  std::optional<udp::endpoint> endpointFor(const Address& to);
  void sendNext();
  void receiveNext();
  void onReceive(const error_code& ec, std::size_t n);
  void acceptNext();
  void onAccept(const error_code& ec, tcp::socket s);
  void deliver(const Address& from, std::span<const uint8_t> data);
  std::unique_ptr<ReliableChunkSink> newSink();
  void forget(uint64_t id, bool inbound);
  // Registers an accepted connection, closing the oldest ones over the caps.
  void admitInbound(const std::shared_ptr<Connection>& c, const net::ip::address& source);

  net::io_context& io;
  Options options;
  udp::socket socket;
  tcp::acceptor acceptor;
  net::steady_timer acceptRetry;
  Address local;
  uint16_t port = 0;
  bool v6 = false;  // the sockets' family
  ReceiveHandler handler;
  ReliableSinkFactory sinkFactory;  // null: whole frames go to `handler`
  UdpTransportCounters counters;
  bool closed = false;

  std::vector<uint8_t> rx;
  udp::endpoint rxFrom;
  struct Outgoing {
    udp::endpoint to;
    std::vector<uint8_t> data;
  };
  std::deque<Outgoing> queue;  // the front one is in flight while `sending`
  bool sending = false;

  std::unordered_map<uint64_t, std::weak_ptr<Connection>> inbound_, outbound_;  // by id
  uint64_t nextConnectionId = 0;
  PendingAdmission inboundAdmission;  // every inbound connection is pending until it ends
};

// Owned by its pending completions (shared_from_this); registered with the Core only so
// that close() can abort it. Every path ends in done(), which unregisters it.
class UdpTransport::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(const std::shared_ptr<Core>& core, tcp::socket socket, bool inbound);
  ~Connection();
  uint64_t id() const { return id_; }

  static void startOutbound(const std::shared_ptr<Core>& core, const tcp::endpoint& to,
                            std::vector<uint8_t> frame, std::size_t dataBytes);
  static void startInbound(const std::shared_ptr<Core>& core, tcp::socket socket);
  void abort();

 private:
  void onFirstBytesDeadline();
  void releaseBudget(Core& core);
  void setBudget(Core& core, std::size_t bytes);
  // The deadline closes the socket, which fails whichever operation is pending.
  void arm(std::chrono::milliseconds timeout);
  // The Core, unless the transport was closed or destroyed: then the completion is ignored.
  std::shared_ptr<Core> live();
  void done(Core& core);
  void onConnect(const error_code& ec);
  void onWritten(const error_code& ec);
  void fail(Core& core);
  void drop(Core& core);
  void onAddressLength(const error_code& ec);
  void onAddress(const error_code& ec);
  void readPiece(Core& core);
  void onPiece(const error_code& ec);
  void finish(Core& core);

  std::weak_ptr<Core> core_;
  const uint64_t id_;
  tcp::socket socket_;
  net::steady_timer deadline_;
  const bool inbound_;
  std::array<uint8_t, 2> head_{};
  std::vector<uint8_t> buf_;  // outbound: the whole frame; inbound: address, then a piece
  std::size_t expected_ = 0;  // data bytes of the frame
  std::size_t received_ = 0;  // inbound: data bytes read so far
  std::unique_ptr<ReliableChunkSink> sink_;  // inbound: takes each piece
  std::size_t budgeted_ = 0;  // inbound: our share of counters.inboundBufferedBytes
  bool headerRead_ = false;   // inbound: address and length arrived
  steady_clock::time_point acceptedAt_{};
  Address from_;
};

}  // namespace qmesh::membership
