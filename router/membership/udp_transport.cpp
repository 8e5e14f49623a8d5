#include "router/membership/udp_transport.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <arpa/inet.h>

#include <array>
#include <deque>
#include <unordered_map>
#include <vector>

namespace qmesh::membership {

namespace net = router::net;
using router::error_code;
using tcp = net::ip::tcp;
using udp = net::ip::udp;
using std::chrono::steady_clock;

namespace {

// Larger than any UDP payload (65,507 bytes), so an oversize datagram is seen whole and
// counted rather than silently truncated to something that might parse.
constexpr std::size_t kReceiveBuffer = 64 * 1024;
// The u16 length allows more, but no "host:port" is this long; a bigger one is garbage.
constexpr std::size_t kMaxAddressBytes = 255;
// A frame's data is read this much at a time, so a peer that announces 8 MiB and sends
// nothing costs us nothing: memory grows with what actually arrived.
constexpr std::size_t kReadChunk = 256 * 1024;
// Resolved host names and recent failures; cleared when full (addresses come from gossip).
constexpr std::size_t kMaxCachedAddresses = 4096;
// A name that did not resolve is not retried before this: every lookup blocks the loop.
constexpr auto kResolveRetry = std::chrono::seconds(30);
// Port 0: the UDP port the kernel picks may be taken for TCP; try another this many times.
constexpr int kPortPickAttempts = 16;
// EMFILE and friends: keep accepting, but without spinning.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);

void putBigEndian(std::vector<uint8_t>& out, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t getBigEndian(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

std::vector<uint8_t> buildFrame(const Address& from, std::span<const uint8_t> data) {
  std::vector<uint8_t> frame;
  frame.reserve(2 + from.size() + 4 + data.size());
  putBigEndian(frame, static_cast<uint32_t>(from.size()), 2);
  frame.insert(frame.end(), from.begin(), from.end());
  putBigEndian(frame, static_cast<uint32_t>(data.size()), 4);
  frame.insert(frame.end(), data.begin(), data.end());
  return frame;
}

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

// ---- shared state ---------------------------------------------------------------------

struct UdpTransport::Core : std::enable_shared_from_this<Core> {
  Core(net::io_context& io, const Options& options)
      : io(io), options(options), socket(io), acceptor(io), acceptRetry(io), rx(kReceiveBuffer) {}

  error_code bindBoth(const net::ip::address& addr, uint16_t wanted, const char** which);
  void closeSockets();
  void close();
  std::optional<udp::endpoint> endpointFor(const Address& to);
  std::optional<udp::endpoint> resolve(const Address& to);
  void sendNext();
  void receiveNext();
  void onReceive(const error_code& ec, std::size_t n);
  void acceptNext();
  void onAccept(const error_code& ec, tcp::socket s);
  void deliver(const Address& from, std::span<const uint8_t> data);
  void forget(Connection* c, bool inbound) { (inbound ? inbound_ : outbound_).erase(c); }

  net::io_context& io;
  Options options;
  udp::socket socket;
  tcp::acceptor acceptor;
  net::steady_timer acceptRetry;
  Address local;
  uint16_t port = 0;
  bool v6 = false;  // the sockets' family
  ReceiveHandler handler;
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

  std::unordered_map<Address, udp::endpoint> resolved;
  std::unordered_map<Address, steady_clock::time_point> unresolvable;  // retry after
  std::unordered_map<Connection*, std::weak_ptr<Connection>> inbound_, outbound_;
};

// ---- one TCP connection carrying one reliable frame -------------------------------------

// Owned by its pending completions (shared_from_this); registered with the Core only so
// that close() can abort it. Every path ends in done(), which unregisters it.
class UdpTransport::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(const std::shared_ptr<Core>& core, tcp::socket socket, bool inbound)
      : core_(core), socket_(std::move(socket)), deadline_(core->io), inbound_(inbound) {}
  ~Connection() {
    if (auto core = core_.lock()) core->forget(this, inbound_);
  }

  static void startOutbound(const std::shared_ptr<Core>& core, const tcp::endpoint& to,
                            std::vector<uint8_t> frame, std::size_t dataBytes) {
    auto c = std::make_shared<Connection>(core, tcp::socket(core->io), false);
    core->outbound_.emplace(c.get(), c);
    c->buf_ = std::move(frame);
    c->expected_ = dataBytes;
    c->arm(core->options.reliableSendTimeout);
    c->socket_.async_connect(to, [c](const error_code& ec) { c->onConnect(ec); });
  }

  static void startInbound(const std::shared_ptr<Core>& core, tcp::socket socket) {
    auto c = std::make_shared<Connection>(core, std::move(socket), true);
    core->inbound_.emplace(c.get(), c);
    c->arm(core->options.reliableReadTimeout);
    net::async_read(c->socket_, net::buffer(c->head_),
                    [c](const error_code& ec, std::size_t) { c->onAddressLength(ec); });
  }

  void abort() {
    deadline_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  // The deadline closes the socket, which fails whichever operation is pending.
  void arm(std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->abort();
    });
  }

  // The Core, unless the transport was closed or destroyed: then the completion is ignored.
  std::shared_ptr<Core> live() {
    auto core = core_.lock();
    return core && !core->closed ? core : nullptr;
  }

  void done(Core& core) {
    abort();
    core.forget(this, inbound_);
  }

  void onConnect(const error_code& ec) {
    auto core = live();
    if (!core) return;
    if (ec) return fail(*core);
    net::async_write(socket_, net::buffer(buf_),
                     [self = shared_from_this()](const error_code& e, std::size_t) { self->onWritten(e); });
  }

  void onWritten(const error_code& ec) {
    auto core = live();
    if (!core) return;
    if (ec) return fail(*core);
    ++core->counters.reliableSent;
    core->counters.reliableBytesSent += expected_;
    // The kernel still owns the unsent tail; close() lets it drain and then sends FIN
    // (the peer never writes to us, so there is nothing unread that would turn it into RST).
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    done(*core);
  }

  void fail(Core& core) {
    ++core.counters.reliableFailed;
    done(core);
  }

  void drop(Core& core) {
    ++core.counters.reliableDropped;
    done(core);
  }

  void onAddressLength(const error_code& ec) {
    auto core = live();
    if (!core) return;
    const std::size_t n = getBigEndian(head_.data(), 2);
    if (ec || n == 0 || n > kMaxAddressBytes) return drop(*core);
    buf_.resize(n + 4);
    net::async_read(socket_, net::buffer(buf_),
                    [self = shared_from_this()](const error_code& e, std::size_t) { self->onAddress(e); });
  }

  void onAddress(const error_code& ec) {
    auto core = live();
    if (!core) return;
    if (ec) return drop(*core);
    const std::size_t n = buf_.size() - 4;
    from_.assign(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
    expected_ = getBigEndian(buf_.data() + n, 4);
    if (expected_ > kMaxReliable || !parseHostPort(from_)) return drop(*core);
    buf_.clear();
    readData(*core);
  }

  void readData(Core& core) {
    if (buf_.size() == expected_) return deliver(core);
    const std::size_t got = buf_.size();
    const std::size_t want = std::min(kReadChunk, expected_ - got);
    buf_.resize(got + want);
    net::async_read(socket_, net::buffer(buf_.data() + got, want),
                    [self = shared_from_this()](const error_code& ec, std::size_t) {
                      auto core = self->live();
                      if (!core) return;
                      if (ec) return self->drop(*core);
                      self->readData(*core);
                    });
  }

  void deliver(Core& core) {
    ++core.counters.reliableReceived;
    core.counters.reliableBytesReceived += buf_.size();
    done(core);
    core.deliver(from_, buf_);
  }

  std::weak_ptr<Core> core_;
  tcp::socket socket_;
  net::steady_timer deadline_;
  const bool inbound_;
  std::array<uint8_t, 2> head_{};
  std::vector<uint8_t> buf_;  // outbound: the whole frame; inbound: address, then data
  std::size_t expected_ = 0;  // data bytes of the frame
  Address from_;
};

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
}

std::optional<udp::endpoint> UdpTransport::Core::endpointFor(const Address& to) {
  if (auto it = resolved.find(to); it != resolved.end()) return it->second;
  const auto now = steady_clock::now();
  if (auto it = unresolvable.find(to); it != unresolvable.end()) {
    if (now < it->second) {
      ++counters.resolveFailures;
      return std::nullopt;
    }
    unresolvable.erase(it);
  }
  const auto ep = resolve(to);
  if (!ep) {
    ++counters.resolveFailures;
    if (unresolvable.size() >= kMaxCachedAddresses) unresolvable.clear();
    unresolvable[to] = now + kResolveRetry;
    return std::nullopt;
  }
  if (resolved.size() >= kMaxCachedAddresses) resolved.clear();
  resolved.emplace(to, *ep);
  return ep;
}

std::optional<udp::endpoint> UdpTransport::Core::resolve(const Address& to) {
  const auto hp = parseHostPort(to);
  if (!hp || hp->port == 0) return std::nullopt;
  error_code ec;
  auto addr = net::ip::make_address(hp->host, ec);
  if (ec) {
    // A host name: looked up once, synchronously (only names from config or gossip, rare).
    udp::resolver resolver(io);
    const auto results = resolver.resolve(hp->host, std::to_string(hp->port),
                                          net::ip::resolver_base::numeric_service, ec);
    if (ec || results.empty()) return std::nullopt;
    addr = results.begin()->endpoint().address();
    for (const auto& r : results)
      if (r.endpoint().address().is_v6() == v6) {
        addr = r.endpoint().address();
        break;
      }
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
  if (inbound_.size() >= options.maxInboundConnections) {
    ++counters.connectionsOverLimit;  // `s` closes as it goes out of scope
  } else {
    Connection::startInbound(shared_from_this(), std::move(s));
  }
  acceptNext();
}

void UdpTransport::Core::deliver(const Address& from, std::span<const uint8_t> data) {
  // A copy: the handler may replace itself (or close the transport) while it runs.
  if (ReceiveHandler h = handler) h(from, data);
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
  if (advertise && (advertise->host.empty() || advertise->str().size() > kMaxAddressBytes ||
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
  Connection::startOutbound(core_, tcp::endpoint(ep->address(), ep->port()), buildFrame(c.local, data),
                            data.size());
}

void UdpTransport::setReceiveHandler(ReceiveHandler handler) {
  if (!core_->closed) core_->handler = std::move(handler);
}

const Address& UdpTransport::localAddress() const { return core_->local; }
uint16_t UdpTransport::boundPort() const { return core_->port; }
const UdpTransportCounters& UdpTransport::counters() const { return core_->counters; }

}  // namespace qmesh::membership
