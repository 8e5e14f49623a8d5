// The receiving side of the data plane: accepts encrypted connections from other routers,
// runs the handshake, and hands each authenticated channel to its owner (the router serves
// mesh hops on it directly: proxy/hop_session.h).
//
//   peer router --TCP/SecureChannel--> DataPlaneListener --onChannel(channel)--> owner
//                  handshake (1 s), accept(peer)?           channel.peer() is proved
//
// What the listener guards is the time before authentication: anyone can connect, so
// pending handshakes are capped and short. An authenticated channel is the owner's alone;
// stop() ends only the handshakes still pending.
//
// Single-threaded on one io_context. Bad input from the network ends that connection and
// is counted, never more. After stop() returns no callback is called again.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/host_port.h"
#include "router/dataplane/secure_channel.h"

namespace qmesh::dataplane {

struct DataPlaneListenerOptions {
  // From accept to the client's key confirmation, first bytes included. An honest peer on a
  // LAN needs one round trip and ~0.3 ms of signing and verifying; a second is generous for
  // a loaded one, and short enough that a stranger holding connections open silently gets
  // each pending slot for at most that long.
  std::chrono::milliseconds handshakeTimeout{1000};
  // Connections accepted whose handshake has not finished yet: anyone can open them, so
  // they are capped, overall and per source address; beyond a cap the oldest pending one
  // is closed at once and counted (membership/pending_admission.h says why the oldest).
  // Sizes: a peer opens one channel per concurrent request it forwards here that finds no
  // pooled channel, so even a burst rarely has more than a dozen pending from one node; 32
  // per source leaves headroom. 256 overall bounds what strangers hold to 256 descriptors
  // and a few MiB. Authenticated channels are not counted here.
  std::size_t maxPendingHandshakes = 256;
  std::size_t maxPendingPerSource = 32;
  // A peer silent this long (no ACK of data or keepalive probe) breaks its channel, idle or
  // busy: router.header_timeout, so the other end's limit matches (see tcp_liveness.h).
  std::chrono::milliseconds silentPeerLimit{10000};
  // e.g. "is an alive mesh member"; unset rejects everyone. Asked before the signature is
  // verified (see SecureChannel::handshakeAsServer): a pure lookup.
  AcceptFn accept;
  // An authenticated channel (its peer() passed `accept` and proved its id): the owner's
  // now. Unset closes it.
  std::function<void(SecureChannel channel)> onChannel;
};

struct DataPlaneCounters {
  static constexpr std::size_t kReasons = static_cast<std::size_t>(dataplane_errc::handshake_timeout) + 1;

  uint64_t accepted = 0;
  uint64_t pendingHandshakes = 0;      // accepted, handshake not finished (a gauge)
  uint64_t evictedPendingCap = 0;      // closed unfinished: maxPendingHandshakes newer ones came
  uint64_t evictedPerSourceCap = 0;    // closed unfinished: maxPendingPerSource newer from its address
  std::array<uint64_t, kReasons> handshakeFailuresByReason{};  // indexed by dataplane_errc
  uint64_t handshakeIoErrors = 0;      // resets and other socket errors during a handshake
  uint64_t authenticated = 0;          // channels handed to the owner

  uint64_t handshakeFailures(dataplane_errc reason) const {
    return handshakeFailuresByReason[static_cast<std::size_t>(reason)];
  }
};

namespace detail {
struct ListenerShared;
}

class DataPlaneListener {
 public:
  // `self` is copied: handshakes may outlive the listener.
  DataPlaneListener(net::any_io_executor ex, const Identity& self, DataPlaneListenerOptions options);
  ~DataPlaneListener();  // stop()
  DataPlaneListener(const DataPlaneListener&) = delete;
  DataPlaneListener& operator=(const DataPlaneListener&) = delete;

  // Binds and listens. address_in_use (and other errors) come back as the value, so the
  // caller can tell the operator which address and exit.
  error_code open(const HostPort& listen);
  uint16_t port() const;  // the bound port (useful with port 0)
  void start();           // the accept loop
  // Closes the acceptor and every connection still in its handshake.
  void stop();
  const DataPlaneCounters& counters() const;

 private:
  std::shared_ptr<detail::ListenerShared> shared_;
};

}  // namespace qmesh::dataplane
