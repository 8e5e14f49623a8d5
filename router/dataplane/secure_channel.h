// One encrypted, mutually authenticated TCP connection between two qmesh routers.
//
//   connect() / handshakeAs*()      see handshake.h: signed ephemeral key exchange
//   async_read_some/async_write_some  secretstream frames, see framer.h
//   sendFinal()                     authenticated end of stream (then TCP half-close)
//
// Why: forwarded prompts and completions cross the LAN between nodes; the channel gives
// them confidentiality with forward secrecy, binds both ends to their mesh identities
// (NodeId = Ed25519 key, so a node holding the mesh key still cannot pose as another), and
// detects truncation: a stream that ends without FINAL reads as `truncated`, never as a
// clean end. It is an Asio AsyncReadStream/AsyncWriteStream, so Beast's http::async_read*,
// http::async_write and net::async_write run over it unchanged.
//
// Concurrency contract (single-threaded io_context, like the rest of the router): at most
// one read and one write in flight; sendFinal() counts as a write. Operations never
// complete inside the initiating call. cancel() aborts a pending read with
// operation_aborted and loses nothing: ciphertext and decrypted plaintext are buffered in
// the channel, and the next read continues exactly where the stream was (the SSE relay
// cancels reads to inject keepalives). A frame being written is always finished, because
// half a frame would desynchronise the stream; only close() stops a write. Pending
// operations keep the channel's state alive, so destroying the channel with operations in
// flight is safe (they complete with an error).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/net.h"
#include "router/dataplane/errors.h"
#include "router/dataplane/framer.h"
#include "router/dataplane/handshake.h"

namespace qmesh::dataplane {

namespace detail {

// The channel's state, shared with its pending operations.
struct ChannelCore {
  // Reads ask for the rest of the current frame, at least this much: one recv per frame
  // for bulk data, while an idle SSE stream holds only small buffers.
  static constexpr std::size_t kMinRead = 16 * 1024;

  explicit ChannelCore(tcp::socket s);

  // Readies decrypted plaintext. needBytes: the socket must be read first.
  error_code fillPlain(bool& needBytes);
  void onSocketRead(std::size_t n, const error_code& ec);
  std::size_t readSize() const;
  std::size_t plainAvailable() const { return plainIn.size() - plainPos; }
  void closeSocket();

  tcp::socket socket;
  net::steady_timer deadline;
  bool handshaking = false;  // the deadline may act only while this holds
  bool timedOut = false;
  bool established = false;
  NodeId peer;
  SecretStreamFramer framer;
  beast::flat_buffer cipherIn;
  bool sawEof = false;
  std::vector<uint8_t> plainIn;
  std::size_t plainPos = 0;
  error_code readError;    // sticky: eof after FINAL, truncated, decrypt_failed, too large
  std::vector<uint8_t> gather;
  std::vector<uint8_t> frameOut;
  error_code writeError;   // sticky: the outgoing stream broke mid-frame
};

template <class Buffers>
class ReadOp {
 public:
  ReadOp(std::shared_ptr<ChannelCore> core, const Buffers& buffers) : core_(std::move(core)), buffers_(buffers) {}

  template <class Self>
  void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
    ChannelCore& c = *core_;
    if (state_ == kStart) {
      state_ = kRun;
      return net::post(c.socket.get_executor(), std::move(self));
    }
    if (state_ == kReading) {
      state_ = kRun;
      c.onSocketRead(n, ec);
      // Aborted (cancel) or a socket error: nothing consumed, so nothing lost.
      if (ec && ec != net::error::eof) return self.complete(ec, 0);
    }
    if (!c.established) return self.complete(net::error::not_connected, 0);
    if (net::buffer_size(buffers_) == 0) return self.complete({}, 0);
    bool needBytes = false;
    if (error_code e = c.fillPlain(needBytes)) return self.complete(e, 0);
    if (needBytes) {
      state_ = kReading;
      return c.socket.async_read_some(c.cipherIn.prepare(c.readSize()), std::move(self));
    }
    const std::size_t copied =
        net::buffer_copy(buffers_, net::buffer(c.plainIn.data() + c.plainPos, c.plainAvailable()));
    c.plainPos += copied;
    self.complete({}, copied);
  }

 private:
  enum State { kStart, kRun, kReading };
  std::shared_ptr<ChannelCore> core_;
  Buffers buffers_;
  State state_ = kStart;
};

template <class Buffers>
class WriteOp {
 public:
  WriteOp(std::shared_ptr<ChannelCore> core, const Buffers& buffers) : core_(std::move(core)), buffers_(buffers) {}

  template <class Self>
  void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
    ChannelCore& c = *core_;
    if (state_ == kStart) {
      state_ = kSeal;
      return net::post(c.socket.get_executor(), std::move(self));
    }
    if (state_ == kSeal) {
      if (!c.established) return self.complete(net::error::not_connected, 0);
      if (c.writeError) return self.complete(c.writeError, 0);
      if (c.framer.finalSent()) return self.complete(net::error::shut_down, 0);
      c.gather.resize(std::min(net::buffer_size(buffers_), SecretStreamFramer::kMaxPlaintext));
      plainBytes_ = net::buffer_copy(net::buffer(c.gather), buffers_);
      if (plainBytes_ == 0) return self.complete({}, 0);
      c.frameOut.clear();
      c.framer.seal(c.gather, false, c.frameOut);
      state_ = kWriting;
      return net::async_write(c.socket, net::buffer(c.frameOut), std::move(self));
    }
    written_ += n;
    // cancel() is meant for reads; finish the frame unless the socket is gone.
    if (ec == net::error::operation_aborted && c.socket.is_open() && written_ < c.frameOut.size())
      return net::async_write(c.socket, net::buffer(c.frameOut.data() + written_, c.frameOut.size() - written_),
                              std::move(self));
    if (written_ < c.frameOut.size()) {
      c.writeError = ec ? ec : net::error::broken_pipe;
      return self.complete(c.writeError, 0);
    }
    self.complete({}, plainBytes_);
  }

 private:
  enum State { kStart, kSeal, kWriting };
  std::shared_ptr<ChannelCore> core_;
  Buffers buffers_;
  State state_ = kStart;
  std::size_t plainBytes_ = 0;
  std::size_t written_ = 0;
};

}  // namespace detail

class SecureChannel {
 public:
  using executor_type = net::any_io_executor;

  explicit SecureChannel(executor_type ex);
  explicit SecureChannel(tcp::socket socket);  // an accepted connection
  ~SecureChannel();
  SecureChannel(SecureChannel&&) noexcept = default;
  SecureChannel& operator=(SecureChannel&& other) noexcept;  // closes the replaced connection

  executor_type get_executor() { return core_->socket.get_executor(); }

  // Connects to host (an IP literal), sets TCP_NODELAY and runs the client handshake, all
  // under one deadline. timed_out if the TCP connect did not finish in time,
  // handshake_timeout if the handshake did not. These are lazily started coroutines, so
  // everything is taken by value except `self`, which must outlive the operation (it is
  // not copied so that secret keys are not either).
  net::awaitable<error_code> connect(std::string host, uint16_t port, const Identity& self, NodeId expectedPeer,
                                     std::chrono::milliseconds timeout);
  net::awaitable<error_code> handshakeAsClient(const Identity& self, NodeId expectedPeer,
                                               std::chrono::milliseconds timeout);
  // For an accepted connection. `accept` decides whether the client may talk to this node;
  // it is asked with the id the hello claims BEFORE the signature is verified (a stranger
  // must not cost a verify), so it must be a side-effect-free lookup: only a client that
  // passes it and then proves the id is ever handed over. A refused client is told so (it reads
  // peer_rejected). `self` must outlive the operation.
  net::awaitable<error_code> handshakeAsServer(const Identity& self, AcceptFn accept,
                                               std::chrono::milliseconds timeout);

  template <class MutableBufferSequence, class ReadHandler>
  BOOST_ASIO_INITFN_RESULT_TYPE(ReadHandler, void(error_code, std::size_t))
  async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return net::async_compose<ReadHandler, void(error_code, std::size_t)>(
        detail::ReadOp<MutableBufferSequence>(core_, buffers), handler, core_->socket);
  }

  // Encrypts up to 64 KiB of `buffers` into one frame and completes, with that many
  // plaintext bytes, once the whole frame is written.
  template <class ConstBufferSequence, class WriteHandler>
  BOOST_ASIO_INITFN_RESULT_TYPE(WriteHandler, void(error_code, std::size_t))
  async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return net::async_compose<WriteHandler, void(error_code, std::size_t)>(
        detail::WriteOp<ConstBufferSequence>(core_, buffers), handler, core_->socket);
  }

  // Sends FINAL and half-closes TCP: the peer reads eof after everything written before.
  // Later writes fail with shut_down. Idempotent.
  net::awaitable<error_code> sendFinal();
  // Aborts a pending read (operation_aborted) without losing any data.
  void cancel();
  // Drops the connection at once; the peer reads `truncated` (or a reset).
  void close();
  bool isOpen() const { return core_ && core_->socket.is_open(); }
  // Established, open, nothing buffered or waiting on the socket, no error and no FINAL
  // either way: a channel at rest between two exchanges, safe to start another on. A peer
  // that closed it (FINAL, FIN or reset) makes the socket readable, so this sees that too.
  // Call it with no read or write in flight.
  bool quiescent() const;
  bool established() const { return core_ && core_->established; }
  // The authenticated peer, once a handshake succeeded.
  const NodeId& peer() const { return core_->peer; }
  // For endpoints and socket options only: reading or writing it bypasses the encryption.
  tcp::socket& socket() { return core_->socket; }

 private:
  std::shared_ptr<detail::ChannelCore> core_;
};

}  // namespace qmesh::dataplane
