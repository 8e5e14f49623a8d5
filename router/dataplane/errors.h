// Errors of the encrypted router-to-router data plane, as a Boost.System category so they
// travel through Asio and Beast completion handlers unchanged and compare with ==.
//
// Each failure has its own code because each means something different to an operator:
// bad_signature is an impostor or a corrupted key, peer_rejected a membership view that
// disagrees, wrong_peer a stale address, truncated a dropped connection, decrypt_failed
// tampering (or a bug), handshake_timeout a silent or overloaded peer.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace qmesh::dataplane {

enum class dataplane_errc {
  bad_hello = 1,        // not a qmesh data-plane hello (wrong magic, malformed key)
  unsupported_version,  // the peer speaks another protocol version
  bad_signature,        // the hello is not signed by the node it claims to come from
  peer_rejected,        // the server does not accept this client (not an alive member)
  wrong_peer,           // the server is not the node the client meant to reach
  truncated,            // the TCP stream ended without the sender's FINAL frame
  frame_too_large,      // a frame length above the protocol limit
  decrypt_failed,       // a frame failed authentication: tampered, reordered or replayed
  handshake_timeout,    // the handshake did not finish before its deadline
};

const boost::system::error_category& dataplane_category();

inline boost::system::error_code make_error_code(dataplane_errc e) {
  return {static_cast<int>(e), dataplane_category()};
}

}  // namespace qmesh::dataplane

namespace boost::system {
template <>
struct is_error_code_enum<qmesh::dataplane::dataplane_errc> : std::true_type {};
}  // namespace boost::system
