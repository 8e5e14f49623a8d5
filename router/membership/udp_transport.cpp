#include "router/membership/udp_transport.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include "router/membership/udp_transport_internal.h"

namespace qmesh::membership {

namespace {

// Port 0: the UDP port the kernel picks may be taken for TCP; try another this many times.
constexpr int kPortPickAttempts = 16;
// EMFILE and friends: keep accepting, but without spinning.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);

// A dual-stack IPv6 socket reports IPv4 peers as ::ffff:a.b.c.d; peers know them as a.b.c.d.
Address addressOf(const net::ip::address& a, uint16_t port) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return HostPort{net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string(), port}.str();
  return HostPort{a.to_string(), port}.str();
}

std::optional<std::string> firstInterfaceIpv4() {
  ifaddrs* raw = nullptr;
  if (getifaddrs(&raw) != 0) return std::nullopt;
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> list(raw, freeifaddrs);
  for (const ifaddrs* i = list.get(); i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    return net::ip::address_v4(ntohl(sin->sin_addr.s_addr)).to_string();
  }
  return std::nullopt;
}

Address advertisedAddress(const net::ip::address& bound, uint16_t port,
                          const std::optional<HostPort>& advertise) {
  if (advertise) return HostPort{advertise->host, advertise->port ? advertise->port : port}.str();
  if (!bound.is_unspecified()) return addressOf(bound, port);
  return HostPort{firstInterfaceIpv4().value_or("127.0.0.1"), port}.str();
}

}  // namespace

// ---- Core -----------------------------------------------------------------------------

error_code UdpTransport::Core::bindBoth(const net::ip::address& addr, uint16_t wanted,
                                        const char** which) {
  closeSockets();
  error_code ec;
  *which = "UDP";
  socket.open(addr.is_v6() ? udp::v6() : udp::v4(), ec);
  if (!ec) socket.bind(udp::endpoint(addr, wanted), ec);
  const uint16_t actual = ec ? 0 : socket.local_endpoint(ec).port();
  if (!ec) {
    *which = "TCP";
    acceptor.open(addr.is_v6() ? tcp::v6() : tcp::v4(), ec);
  }
  // SO_REUSEADDR on the listener only: a restarted node can rebind while connections of its
  // previous run sit in TIME_WAIT, and Linux still refuses a port someone listens on. On the
  // UDP socket it would let two processes share the port, so it is not set there.
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(tcp::endpoint(addr, actual), ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    closeSockets();
    return ec;
  }
  port = actual;
  v6 = addr.is_v6();
  return {};
}

void UdpTransport::Core::closeSockets() {
  error_code ignored;
  socket.close(ignored);
  acceptor.close(ignored);
}

void UdpTransport::Core::close() {
  if (closed) return;
  closed = true;
  closeSockets();
  acceptRetry.cancel();
  // Closing the socket cancelled the send in flight; Asio no longer touches its buffer.
  queue.clear();
  sending = false;
  std::vector<std::shared_ptr<Connection>> open;
  for (auto* m : {&inbound_, &outbound_})
    for (auto& [raw, weak] : *m)
      if (auto c = weak.lock()) open.push_back(std::move(c));
  inbound_.clear();
  outbound_.clear();
  for (auto& c : open) c->abort();
  handler = nullptr;
  sinkFactory = nullptr;
}

std::optional<udp::endpoint> UdpTransport::Core::endpointFor(const Address& to) {
  const auto hp = parseHostPort(to);
  error_code ec;
  // Numeric only: a host name would mean a lookup, which blocks the loop, and the addresses
  // come from the network. Config seeds are resolved before they get here (MeshNode).
  auto addr = hp && hp->port != 0 ? net::ip::make_address(hp->host, ec) : net::ip::address{};
  if (!hp || hp->port == 0 || ec) {
    ++counters.resolveFailures;
    return std::nullopt;
  }
  // Match the socket's family: an IPv6 socket reaches IPv4 peers through mapped addresses.
  if (v6 && addr.is_v4()) addr = net::ip::make_address_v6(net::ip::v4_mapped, addr.to_v4());
  if (!v6 && addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
  return udp::endpoint(addr, hp->port);
}

void UdpTransport::Core::sendNext() {
  if (sending || queue.empty() || closed) return;
  sending = true;
  const Outgoing& out = queue.front();
  socket.async_send_to(net::buffer(out.data), out.to,
                       [weak = weak_from_this()](const error_code& ec, std::size_t n) {
                         auto self = weak.lock();
                         if (!self || self->closed) return;
                         if (ec) {
                           ++self->counters.sendErrors;
                         } else {
                           ++self->counters.datagramsSent;
                           self->counters.bytesSent += n;
                         }
                         self->sending = false;
                         self->queue.pop_front();
                         self->sendNext();
                       });
}

void UdpTransport::Core::receiveNext() {
  socket.async_receive_from(net::buffer(rx), rxFrom,
                            [weak = weak_from_this()](const error_code& ec, std::size_t n) {
                              // Held for the whole call: the handler may destroy the transport.
                              auto self = weak.lock();
                              if (!self || self->closed) return;
                              self->onReceive(ec, n);
                            });
}

void UdpTransport::Core::onReceive(const error_code& ec, std::size_t n) {
  if (ec) {
    ++counters.receiveErrors;
  } else if (n > kMaxDatagram) {
    ++counters.droppedOversizeIn;
  } else {
    ++counters.datagramsReceived;
    counters.bytesReceived += n;
    deliver(addressOf(rxFrom.address(), rxFrom.port()), std::span<const uint8_t>(rx.data(), n));
  }
  if (!closed) receiveNext();
}

void UdpTransport::Core::acceptNext() {
  acceptor.async_accept([weak = weak_from_this()](const error_code& ec, tcp::socket s) {
    auto self = weak.lock();
    if (!self || self->closed) return;
    self->onAccept(ec, std::move(s));
  });
}

void UdpTransport::Core::onAccept(const error_code& ec, tcp::socket s) {
  if (ec) {
    ++counters.acceptErrors;
    acceptRetry.expires_after(kAcceptBackoff);
    acceptRetry.async_wait([weak = weak_from_this()](const error_code& e) {
      auto self = weak.lock();
      if (!e && self && !self->closed) self->acceptNext();
    });
    return;
  }
  Connection::startInbound(shared_from_this(), std::move(s));
  acceptNext();
}

void UdpTransport::Core::admitInbound(const std::shared_ptr<Connection>& c, const net::ip::address& source) {
  const auto before = inboundAdmission.counters();
  const auto evicted = inboundAdmission.admit(c->id(), source);
  counters.connectionsOverLimit += inboundAdmission.counters().evictedTotalCap - before.evictedTotalCap;
  counters.inboundOverSourceLimit += inboundAdmission.counters().evictedPerSourceCap - before.evictedPerSourceCap;
  // Closing fails the oldest one's pending read: it ends as dropped, like any other.
  for (uint64_t id : evicted)
    if (auto it = inbound_.find(id); it != inbound_.end())
      if (auto old = it->second.lock()) old->abort();
  inbound_.emplace(c->id(), c);
}

void UdpTransport::Core::forget(uint64_t id, bool inbound) {
  if (!inbound) {
    outbound_.erase(id);
    return;
  }
  inbound_.erase(id);
  inboundAdmission.release(id);
}

void UdpTransport::Core::deliver(const Address& from, std::span<const uint8_t> data) {
  // A copy: the handler may replace itself (or close the transport) while it runs.
  if (ReceiveHandler h = handler) h(from, data);
}

namespace {

// Without a sink from above: the pieces are gathered and the whole data handed to the
// receive handler, as a transport that does not stream would.
class GatheringSink final : public ReliableChunkSink {
 public:
  using Deliver = std::function<void(const Address&, std::span<const uint8_t>)>;
  explicit GatheringSink(Deliver deliver) : deliver_(std::move(deliver)) {}
  bool chunk(std::span<const uint8_t> piece) override {
    data_.insert(data_.end(), piece.begin(), piece.end());
    return true;
  }
  bool finish(const std::string& from) override {
    deliver_(from, data_);
    return true;
  }
  std::size_t heldBytes() const override { return data_.size(); }

 private:
  Deliver deliver_;
  std::vector<uint8_t> data_;
};

}  // namespace

std::unique_ptr<ReliableChunkSink> UdpTransport::Core::newSink() {
  if (sinkFactory)
    if (auto sink = sinkFactory()) return sink;
  return std::make_unique<GatheringSink>([weak = weak_from_this()](const Address& from, std::span<const uint8_t> d) {
    if (auto core = weak.lock(); core && !core->closed) core->deliver(from, d);
  });
}

// ---- UdpTransport ---------------------------------------------------------------------

Result<std::unique_ptr<UdpTransport>> UdpTransport::open(net::io_context& io, const HostPort& bind,
                                                         std::optional<HostPort> advertise,
                                                         const Options& options, OpenFailure* failure) {
  auto fail = [&](OpenFailure why, std::string message) -> Error {
    if (failure) *failure = why;
    return makeError(std::move(message));
  };
  if (failure) *failure = OpenFailure::kNone;
  const std::string shown = bind.str();
  error_code ec;
  const auto addr = net::ip::make_address(bind.host.empty() ? "0.0.0.0" : bind.host, ec);
  if (ec)
    return fail(OpenFailure::kBadAddress,
                "gossip address " + shown + " cannot be bound: '" + bind.host +
                    "' is not a numeric IP address (use 0.0.0.0 for every interface, or one of "
                    "this machine's addresses)");
  if (advertise && (advertise->host.empty() || advertise->str().size() > udp_detail::kMaxAddressBytes ||
                    advertise->host == "0.0.0.0" || advertise->host == "::"))
    return fail(OpenFailure::kBadAddress, "advertised gossip address " + advertise->str() +
                                              " is not an address peers can reach: give this "
                                              "node's own IP address or host name");

  auto core = std::make_shared<Core>(io, options);
  const char* which = "UDP";
  const int attempts = bind.port == 0 ? kPortPickAttempts : 1;
  for (int i = 0; i < attempts; ++i) {
    ec = core->bindBoth(addr, bind.port, &which);
    if (ec != net::error::address_in_use) break;
  }
  if (ec == net::error::address_in_use && bind.port == 0)
    return fail(OpenFailure::kOther, "gossip address " + shown + ": found no port free for both UDP and TCP in " +
                                         std::to_string(kPortPickAttempts) + " attempts");
  if (ec == net::error::address_in_use)
    return fail(OpenFailure::kAddressInUse,
                "gossip address " + shown + " is already in use (" + which + "): " + ec.message() +
                    " (another qmesh router or program has that port; pick another one)");
  if (ec == net::error::access_denied)
    return fail(OpenFailure::kOther, "gossip address " + shown + " cannot be bound (" + which +
                                         "): " + ec.message() + " (ports below 1024 need privileges)");
  if (ec == boost::system::errc::address_not_available)
    return fail(OpenFailure::kBadAddress, "gossip address " + shown + " cannot be bound (" + which + "): " +
                                              ec.message() + " (it is not an address of this machine)");
  if (ec)
    return fail(OpenFailure::kOther,
                "gossip address " + shown + " cannot be bound (" + which + "): " + ec.message());

  core->local = advertisedAddress(addr, core->port, advertise);
  core->receiveNext();
  core->acceptNext();
  return std::unique_ptr<UdpTransport>(new UdpTransport(std::move(core)));
}

UdpTransport::UdpTransport(std::shared_ptr<Core> core) : core_(std::move(core)) {}

UdpTransport::~UdpTransport() { close(); }

void UdpTransport::close() { core_->close(); }

void UdpTransport::send(const Address& to, std::span<const uint8_t> data) {
  Core& c = *core_;
  if (c.closed) return;
  if (data.size() > maxPayload()) {
    ++c.counters.droppedOversizeOut;
    return;
  }
  if (c.queue.size() >= c.options.maxQueuedDatagrams) {
    ++c.counters.droppedQueueFull;
    return;
  }
  const auto ep = c.endpointFor(to);
  if (!ep) return;
  c.queue.push_back({*ep, std::vector<uint8_t>(data.begin(), data.end())});
  c.sendNext();
}

void UdpTransport::sendReliable(const Address& to, std::span<const uint8_t> data) {
  Core& c = *core_;
  if (c.closed) return;
  if (data.size() > kMaxReliable) {
    ++c.counters.reliableFailed;
    return;
  }
  if (c.outbound_.size() >= c.options.maxOutboundConnections) {
    ++c.counters.connectionsOverLimit;
    ++c.counters.reliableFailed;
    return;
  }
  const auto ep = c.endpointFor(to);
  if (!ep) {
    ++c.counters.reliableFailed;
    return;
  }
  Connection::startOutbound(core_, tcp::endpoint(ep->address(), ep->port()), udp_detail::buildFrame(c.local, data),
                            data.size());
}

void UdpTransport::setReceiveHandler(ReceiveHandler handler) {
  if (!core_->closed) core_->handler = std::move(handler);
}

void UdpTransport::setReliableSinkFactory(ReliableSinkFactory factory) {
  if (!core_->closed) core_->sinkFactory = std::move(factory);
}

const Address& UdpTransport::localAddress() const { return core_->local; }
uint16_t UdpTransport::boundPort() const { return core_->port; }
const UdpTransportCounters& UdpTransport::counters() const { return core_->counters; }

}  // namespace qmesh::membership
