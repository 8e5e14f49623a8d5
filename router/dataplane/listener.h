// The receiving side of the data plane: accepts encrypted connections from other routers
// and bridges each, as plaintext, to this node's own router HTTP listener on loopback.
//
//   peer router --TCP/SecureChannel--> DataPlaneListener --bridge--> 127.0.0.1:<router http>
//                  handshake (1 s), accept(peer)?    onBridgeOpen(localPort, peer) first
//
// The router recognises a mesh hop by the local port of the bridge's loopback connection
// (reported before any byte is forwarded) and skips client auth and re-forwarding for it.
// It should look the port up when the request arrives, not at accept time: its accept and
// our connect completion race. A bridge relays the end of a stream as precisely as it can,
// because that is how a client disconnect on the first node cancels work on this one:
//
//   target EOF           -> FINAL to the peer, then close (after at most finalLinger for the
//                           peer's side to finish; closing with unread input would reset
//                           the connection and could destroy the FINAL in flight)
//   peer FINAL           -> shutdown(send) on the target: the request is complete
//   peer truncated, decrypt failure, reset, target reset
//                        -> close both at once: the router sees its client gone and frees
//                           the llama-server slot
//
// Single-threaded on one io_context. Bad input from the network ends that connection and
// is counted, never more. After stop() returns no callback is called again.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/node_config.h"
#include "router/dataplane/secure_channel.h"

namespace qmesh::dataplane {

struct DataPlaneListenerOptions {
  HostPort target{"127.0.0.1", 8080};  // this node's router HTTP listener (an IP literal)
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
  // and a few MiB. Authenticated bridges are not counted here.
  std::size_t maxPendingHandshakes = 256;
  std::size_t maxPendingPerSource = 32;
  std::chrono::milliseconds targetConnectTimeout{2000};
  // A peer silent this long (no ACK of data or keepalive probe) breaks its channel, idle or
  // busy: router.header_timeout, so the other end's limit matches (see tcp_liveness.h).
  std::chrono::milliseconds silentPeerLimit{10000};
  std::chrono::milliseconds finalLinger{5000};
  // e.g. "is an alive mesh member"; unset rejects everyone. Asked before the signature is
  // verified (see SecureChannel::handshakeAsServer): a pure lookup.
  AcceptFn accept;
  std::function<void(uint16_t bridgeLocalPort, const NodeId& peer)> onBridgeOpen;
  std::function<void(uint16_t bridgeLocalPort)> onBridgeClosed;
};

struct DataPlaneCounters {
  static constexpr std::size_t kReasons = static_cast<std::size_t>(dataplane_errc::handshake_timeout) + 1;

  uint64_t accepted = 0;
  uint64_t pendingHandshakes = 0;      // accepted, handshake not finished (a gauge)
  uint64_t evictedPendingCap = 0;      // closed unfinished: maxPendingHandshakes newer ones came
  uint64_t evictedPerSourceCap = 0;    // closed unfinished: maxPendingPerSource newer from its address
  std::array<uint64_t, kReasons> handshakeFailuresByReason{};  // indexed by dataplane_errc
  uint64_t handshakeIoErrors = 0;      // resets and other socket errors during a handshake
  uint64_t targetConnectFailures = 0;  // the local router did not take the bridge
  uint64_t bridged = 0;                // bridges opened
  uint64_t activeBridges = 0;
  uint64_t bytesFromPeers = 0;         // plaintext, peer -> target
  uint64_t bytesToPeers = 0;           // plaintext, target -> peer

  uint64_t handshakeFailures(dataplane_errc reason) const {
    return handshakeFailuresByReason[static_cast<std::size_t>(reason)];
  }
};

namespace detail {
struct ListenerShared;
}

class DataPlaneListener {
 public:
  // `self` is copied: bridges may outlive a handshake's caller.
  DataPlaneListener(net::any_io_executor ex, const Identity& self, DataPlaneListenerOptions options);
  ~DataPlaneListener();  // stop()
  DataPlaneListener(const DataPlaneListener&) = delete;
  DataPlaneListener& operator=(const DataPlaneListener&) = delete;

  // Binds and listens. address_in_use (and other errors) come back as the value, so the
  // caller can tell the operator which address and exit.
  error_code open(const HostPort& listen);
  uint16_t port() const;  // the bound port (useful with port 0)
  void start();           // the accept loop
  // Closes the acceptor and every connection; calls onBridgeClosed for each open bridge.
  void stop();
  const DataPlaneCounters& counters() const;

 private:
  std::shared_ptr<detail::ListenerShared> shared_;
};

}  // namespace qmesh::dataplane
