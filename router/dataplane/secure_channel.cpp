#include "router/dataplane/secure_channel.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace qmesh::dataplane {
namespace detail {

ChannelCore::ChannelCore(tcp::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}

std::size_t ChannelCore::readSize() const {
  const std::size_t have = cipherIn.size();
  if (have < SecretStreamFramer::kLengthBytes) return kMinRead;
  const auto* p = static_cast<const uint8_t*>(cipherIn.data().data());
  const std::size_t frame = SecretStreamFramer::kLengthBytes +
      std::min<std::size_t>((std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3],
                            SecretStreamFramer::kMaxCiphertext);
  return std::max(kMinRead, frame > have ? frame - have : 0);
}

error_code ChannelCore::fillPlain(bool& needBytes) {
  needBytes = false;
  while (plainAvailable() == 0) {
    if (readError) return readError;
    const auto* data = static_cast<const uint8_t*>(cipherIn.data().data());
    plainPos = 0;
    const auto r = framer.open({data, cipherIn.size()}, plainIn);
    if (r.ec) return readError = r.ec;
    if (r.status == SecretStreamFramer::Status::kNeedMore) {
      if (sawEof) return readError = framer.endOfStream();
      needBytes = true;
      return {};
    }
    cipherIn.consume(r.consumed);
    // FINAL may carry data of its own (ours never does): hand that out, then eof forever.
    if (r.status == SecretStreamFramer::Status::kFinal) readError = net::error::eof;
  }
  return {};
}

void ChannelCore::onSocketRead(std::size_t n, const error_code& ec) {
  cipherIn.commit(n);
  if (ec == net::error::eof) sawEof = true;
}

void ChannelCore::closeSocket() {
  error_code ignored;
  deadline.cancel();
  if (socket.is_open()) {
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
}

}  // namespace detail

namespace {

using Core = detail::ChannelCore;

// Arms the handshake deadline; expiry closes the socket, which fails whatever is pending.
class Deadline {
 public:
  Deadline(const std::shared_ptr<Core>& core, std::chrono::milliseconds timeout) : core_(core) {
    core->timedOut = false;
    core->handshaking = true;
    core->deadline.expires_after(timeout);
    core->deadline.async_wait([weak = std::weak_ptr<Core>(core)](error_code ec) {
      auto c = weak.lock();
      // The flag, not the error code: expiry may already be queued when the handshake wins.
      if (ec || !c || !c->handshaking) return;
      c->timedOut = true;
      c->closeSocket();
    });
  }
  ~Deadline() {
    core_->handshaking = false;
    core_->deadline.cancel();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  std::shared_ptr<Core> core_;
};

// A failed handshake leaves nothing usable: close, and name the failure.
error_code concludeHandshake(Core& core, error_code ec) {
  if (!ec) {
    core.established = true;
    return {};
  }
  if (core.timedOut) ec = dataplane_errc::handshake_timeout;
  else if (ec == net::error::eof) ec = dataplane_errc::truncated;
  core.closeSocket();
  return ec;
}

SecretStreamFramer::Header headerFrom(const uint8_t* p) {
  SecretStreamFramer::Header h;
  std::copy(p, p + h.size(), h.begin());
  return h;
}

net::awaitable<error_code> clientSteps(std::shared_ptr<Core> core, const Identity& self, NodeId expected) {
  error_code ec;
  ClientHandshake hs(self, expected);
  co_await net::async_write(core->socket, net::buffer(hs.hello()), awaitEc(ec));
  if (ec) co_return ec;
  std::array<uint8_t, kReplyHeadBytes> head;
  co_await net::async_read(core->socket, net::buffer(head), awaitEc(ec));
  if (ec || (ec = hs.checkReplyHead(head))) co_return ec;
  std::array<uint8_t, kReplyBodyBytes + SecretStreamFramer::kHeaderBytes> body;
  co_await net::async_read(core->socket, net::buffer(body), awaitEc(ec));
  if (ec) co_return ec;
  SessionKeys keys;
  if ((ec = hs.finish(std::span(body).first<kReplyBodyBytes>(), keys))) co_return ec;

  core->framer.initPull(keys.rx, headerFrom(body.data() + kReplyBodyBytes));
  const auto header = core->framer.initPush(keys.tx);
  // Our header and an empty confirm frame: proof that we hold the session key.
  std::vector<uint8_t> out(header.begin(), header.end());
  core->framer.seal({}, false, out);
  co_await net::async_write(core->socket, net::buffer(out), awaitEc(ec));
  if (!ec) core->peer = expected;
  co_return ec;
}

// Best effort: the refusal (if any) only improves the client's error message.
net::awaitable<error_code> refuse(std::shared_ptr<Core> core, std::span<const uint8_t> reply, error_code why) {
  error_code ignored;
  if (!reply.empty())
    co_await net::async_write(core->socket, net::buffer(reply.data(), reply.size()), awaitEc(ignored));
  co_return why;
}

net::awaitable<error_code> serverSteps(std::shared_ptr<Core> core, const Identity& self, AcceptFn accept) {
  error_code ec;
  ServerHandshake hs(self);
  std::array<uint8_t, kPrefixBytes> prefix;
  co_await net::async_read(core->socket, net::buffer(prefix), awaitEc(ec));
  if (ec) co_return ec;
  if ((ec = hs.receivePrefix(prefix))) co_return co_await refuse(core, hs.reply(), ec);
  std::array<uint8_t, kClientHelloBodyBytes> body;
  co_await net::async_read(core->socket, net::buffer(body), awaitEc(ec));
  if (ec) co_return ec;
  SessionKeys keys;
  if ((ec = hs.receiveBody(body, accept, keys))) co_return co_await refuse(core, hs.reply(), ec);
  core->peer = hs.client();

  const auto header = core->framer.initPush(keys.tx);
  const std::array<net::const_buffer, 2> reply{net::buffer(hs.reply().data(), hs.reply().size()),
                                               net::buffer(header)};
  co_await net::async_write(core->socket, reply, awaitEc(ec));
  if (ec) co_return ec;

  // The client's header and confirm frame. Exact reads: data the client pipelines after
  // them stays in the socket for the channel's own reads.
  constexpr std::size_t kConfirmBytes = SecretStreamFramer::kLengthBytes + SecretStreamFramer::kTagBytes;
  std::array<uint8_t, SecretStreamFramer::kHeaderBytes + kConfirmBytes> confirm;
  co_await net::async_read(core->socket, net::buffer(confirm), awaitEc(ec));
  if (ec) co_return ec;
  core->framer.initPull(keys.rx, headerFrom(confirm.data()));
  std::vector<uint8_t> plain;
  const auto r = core->framer.open(std::span(confirm).subspan(SecretStreamFramer::kHeaderBytes), plain);
  if (r.ec || r.status != SecretStreamFramer::Status::kMessage || r.consumed != kConfirmBytes)
    co_return r.ec == dataplane_errc::frame_too_large ? error_code(dataplane_errc::bad_hello)
                                                      : error_code(dataplane_errc::decrypt_failed);
  co_return ec;
}

// Writes all of `data`; a cancel() aimed at a read must not cut a frame in half.
net::awaitable<error_code> writeWhole(std::shared_ptr<Core> core, std::span<const uint8_t> data) {
  std::size_t done = 0;
  error_code ec;
  do {
    ec = {};
    done += co_await net::async_write(core->socket, net::buffer(data.data() + done, data.size() - done),
                                      awaitEc(ec));
  } while (ec == net::error::operation_aborted && core->socket.is_open() && done < data.size());
  co_return done == data.size() ? error_code{} : ec;
}

}  // namespace

SecureChannel::SecureChannel(executor_type ex) : SecureChannel(tcp::socket(ex)) {}

SecureChannel::SecureChannel(tcp::socket socket) : core_(std::make_shared<Core>(std::move(socket))) {}

SecureChannel::~SecureChannel() { close(); }

SecureChannel& SecureChannel::operator=(SecureChannel&& other) noexcept {
  if (this != &other) {
    close();
    core_ = std::move(other.core_);
  }
  return *this;
}

net::awaitable<error_code> SecureChannel::connect(std::string host, uint16_t port, const Identity& self,
                                                  NodeId expectedPeer, std::chrono::milliseconds timeout) {
  auto core = core_;
  error_code ec;
  const auto addr = net::ip::make_address(host, ec);
  if (ec) co_return ec;
  Deadline deadline(core, timeout);
  co_await core->socket.async_connect(tcp::endpoint(addr, port), awaitEc(ec));
  if (ec) {
    if (core->timedOut) ec = net::error::timed_out;
    core->closeSocket();
    co_return ec;
  }
  // SSE events are small and must not wait for Nagle and the peer's delayed ACK.
  core->socket.set_option(tcp::no_delay(true), ec);
  if (!ec) ec = co_await clientSteps(core, self, expectedPeer);
  co_return concludeHandshake(*core, ec);
}

net::awaitable<error_code> SecureChannel::handshakeAsClient(const Identity& self, NodeId expectedPeer,
                                                            std::chrono::milliseconds timeout) {
  auto core = core_;
  Deadline deadline(core, timeout);
  const error_code ec = co_await clientSteps(core, self, expectedPeer);
  co_return concludeHandshake(*core, ec);
}

net::awaitable<error_code> SecureChannel::handshakeAsServer(const Identity& self, AcceptFn accept,
                                                            std::chrono::milliseconds timeout) {
  auto core = core_;
  Deadline deadline(core, timeout);
  error_code ec;
  core->socket.set_option(tcp::no_delay(true), ec);
  if (!ec) ec = co_await serverSteps(core, self, std::move(accept));
  co_return concludeHandshake(*core, ec);
}

net::awaitable<error_code> SecureChannel::sendFinal() {
  auto core = core_;
  if (!core->established) co_return net::error::not_connected;
  if (core->writeError) co_return core->writeError;
  if (core->framer.finalSent()) co_return error_code{};
  std::vector<uint8_t> frame;
  core->framer.seal({}, true, frame);
  error_code ec = co_await writeWhole(core, frame);
  if (ec) {
    core->writeError = ec;
    co_return ec;
  }
  core->socket.shutdown(tcp::socket::shutdown_send, ec);
  co_return error_code{};  // a failed half-close is harmless: FINAL is already out
}

void SecureChannel::cancel() {
  error_code ignored;
  if (core_) core_->socket.cancel(ignored);
}

bool SecureChannel::quiescent() const {
  if (!core_ || !core_->established || !core_->socket.is_open()) return false;
  const Core& c = *core_;
  if (c.readError || c.writeError || c.sawEof || c.framer.finalSent()) return false;
  if (c.plainAvailable() != 0 || c.cipherIn.size() != 0) return false;
  // const_cast: native_handle() is non-const in Asio, and MSG_PEEK changes nothing.
  char b;
  const ssize_t n = ::recv(const_cast<tcp::socket&>(c.socket).native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void SecureChannel::close() {
  if (core_) core_->closeSocket();
}

}  // namespace qmesh::dataplane
