// One TCP connection carrying one reliable frame, either way (see udp_transport_internal.h).
#include "router/membership/udp_transport_internal.h"

#include <algorithm>

namespace qmesh::membership {

namespace udp_detail {
namespace {

void putBigEndian(std::vector<uint8_t>& out, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t getBigEndian(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::vector<uint8_t> buildFrame(const Address& from, std::span<const uint8_t> data) {
  std::vector<uint8_t> frame;
  frame.reserve(2 + from.size() + 4 + data.size());
  putBigEndian(frame, static_cast<uint32_t>(from.size()), 2);
  frame.insert(frame.end(), from.begin(), from.end());
  putBigEndian(frame, static_cast<uint32_t>(data.size()), 4);
  frame.insert(frame.end(), data.begin(), data.end());
  return frame;
}

}  // namespace udp_detail

using namespace udp_detail;

UdpTransport::Connection::Connection(const std::shared_ptr<Core>& core, tcp::socket socket, bool inbound)
    : core_(core), id_(core->nextConnectionId++), socket_(std::move(socket)), deadline_(core->io),
      inbound_(inbound) {}

UdpTransport::Connection::~Connection() {
  if (auto core = core_.lock()) {
    releaseBudget(*core);
    core->forget(id_, inbound_);
  }
}

void UdpTransport::Connection::startOutbound(const std::shared_ptr<Core>& core, const tcp::endpoint& to,
                                             std::vector<uint8_t> frame, std::size_t dataBytes) {
  auto c = std::make_shared<Connection>(core, tcp::socket(core->io), false);
  core->outbound_.emplace(c->id(), c);
  c->buf_ = std::move(frame);
  c->expected_ = dataBytes;
  c->arm(core->options.reliableSendTimeout);
  c->socket_.async_connect(to, [c](const error_code& ec) { c->onConnect(ec); });
}

void UdpTransport::Connection::startInbound(const std::shared_ptr<Core>& core, tcp::socket socket) {
  error_code ec;
  const auto source = socket.remote_endpoint(ec).address();
  if (ec) {  // reset before we looked
    ++core->counters.reliableDropped;
    return;
  }
  auto c = std::make_shared<Connection>(core, std::move(socket), true);
  core->admitInbound(c, source);
  c->acceptedAt_ = steady_clock::now();
  c->arm(std::min(core->options.firstBytesTimeout, core->options.reliableReadTimeout));
  net::async_read(c->socket_, net::buffer(c->head_),
                  [c](const error_code& ec, std::size_t) { c->onAddressLength(ec); });
}

void UdpTransport::Connection::abort() {
  deadline_.cancel();
  error_code ignored;
  socket_.close(ignored);
}

void UdpTransport::Connection::arm(std::chrono::milliseconds timeout) {
  deadline_.expires_after(timeout);
  deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec) return;
    if (self->inbound_ && !self->headerRead_)
      if (auto core = self->live()) ++core->counters.inboundFirstBytesTimeouts;
    self->abort();
  });
}

std::shared_ptr<UdpTransport::Core> UdpTransport::Connection::live() {
  auto core = core_.lock();
  return core && !core->closed ? core : nullptr;
}

void UdpTransport::Connection::done(Core& core) {
  abort();
  releaseBudget(core);
  core.forget(id_, inbound_);
}

void UdpTransport::Connection::releaseBudget(Core& core) { setBudget(core, 0); }

void UdpTransport::Connection::setBudget(Core& core, std::size_t bytes) {
  core.counters.inboundBufferedBytes = core.counters.inboundBufferedBytes - budgeted_ + bytes;
  budgeted_ = bytes;
  core.counters.inboundBufferedPeak = std::max(core.counters.inboundBufferedPeak, core.counters.inboundBufferedBytes);
}

void UdpTransport::Connection::onConnect(const error_code& ec) {
  auto core = live();
  if (!core) return;
  if (ec) return fail(*core);
  net::async_write(socket_, net::buffer(buf_),
                   [self = shared_from_this()](const error_code& e, std::size_t) { self->onWritten(e); });
}

void UdpTransport::Connection::onWritten(const error_code& ec) {
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

void UdpTransport::Connection::fail(Core& core) {
  ++core.counters.reliableFailed;
  done(core);
}

void UdpTransport::Connection::drop(Core& core) {
  ++core.counters.reliableDropped;
  done(core);
}

void UdpTransport::Connection::onAddressLength(const error_code& ec) {
  auto core = live();
  if (!core) return;
  const std::size_t n = getBigEndian(head_.data(), 2);
  if (ec || n == 0 || n > kMaxAddressBytes) return drop(*core);
  buf_.resize(n + 4);
  net::async_read(socket_, net::buffer(buf_),
                  [self = shared_from_this()](const error_code& e, std::size_t) { self->onAddress(e); });
}

void UdpTransport::Connection::onAddress(const error_code& ec) {
  auto core = live();
  if (!core) return;
  if (ec) return drop(*core);
  const std::size_t n = buf_.size() - 4;
  from_.assign(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
  expected_ = getBigEndian(buf_.data() + n, 4);
  if (expected_ > kMaxReliable || !parseHostPort(from_)) return drop(*core);
  buf_.clear();
  // The header is in: the rest of the frame gets what is left of the read deadline.
  headerRead_ = true;
  const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - acceptedAt_);
  arm(std::max(core->options.reliableReadTimeout - spent, std::chrono::milliseconds(0)));
  sink_ = core->newSink();
  readPiece(*core);
}

// One piece at a time: a peer that announces 8 MiB and sends nothing costs nothing, and
// one whose piece the sink refuses is dropped before anything more is read.
void UdpTransport::Connection::readPiece(Core& core) {
  if (received_ == expected_) return finish(core);
  const std::size_t want = std::min(kReliableChunk, expected_ - received_);
  const std::size_t held = sink_->heldBytes();
  if (core.counters.inboundBufferedBytes - budgeted_ + held + want > core.options.maxInboundBufferedBytes) {
    ++core.counters.inboundOverMemoryBudget;
    return drop(core);
  }
  setBudget(core, held + want);
  buf_.resize(want);
  net::async_read(socket_, net::buffer(buf_),
                  [self = shared_from_this()](const error_code& ec, std::size_t) { self->onPiece(ec); });
}

void UdpTransport::Connection::onPiece(const error_code& ec) {
  auto core = live();
  if (!core) return;
  if (ec) return drop(*core);
  received_ += buf_.size();
  if (!sink_->chunk(buf_)) {
    ++core->counters.reliableChunksRejected;
    return drop(*core);
  }
  readPiece(*core);
}

void UdpTransport::Connection::finish(Core& core) {
  auto sink = std::move(sink_);
  const Address from = from_;
  const std::size_t bytes = expected_;
  done(core);  // releases the budget: the sink hands the data on at once
  // The sink may run the receive handler, which may close or destroy the transport.
  auto keep = core.shared_from_this();
  if (sink->finish(from)) {
    if (!core.closed) {
      ++core.counters.reliableReceived;
      core.counters.reliableBytesReceived += bytes;
    }
  } else if (!core.closed) {
    ++core.counters.reliableChunksRejected;
    ++core.counters.reliableDropped;
  }
}

}  // namespace qmesh::membership
