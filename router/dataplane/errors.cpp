#include "router/dataplane/errors.h"

#include <string>

namespace qmesh::dataplane {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "qmesh.dataplane"; }
  std::string message(int value) const override {
    switch (static_cast<dataplane_errc>(value)) {
      case dataplane_errc::bad_hello: return "not a qmesh data-plane hello";
      case dataplane_errc::unsupported_version: return "peer speaks an unsupported data-plane version";
      case dataplane_errc::bad_signature: return "handshake signature does not match the claimed node id";
      case dataplane_errc::peer_rejected: return "peer rejected this node (not an alive mesh member in its view)";
      case dataplane_errc::wrong_peer: return "peer is not the node that was expected at this address";
      case dataplane_errc::truncated: return "data-plane stream ended without a FINAL frame";
      case dataplane_errc::frame_too_large: return "data-plane frame exceeds the size limit";
      case dataplane_errc::decrypt_failed: return "data-plane frame failed authentication";
      case dataplane_errc::handshake_timeout: return "data-plane handshake timed out";
    }
    return "unknown data-plane error";
  }
};

}  // namespace

const boost::system::error_category& dataplane_category() {
  static const Category category;
  return category;
}

}  // namespace qmesh::dataplane
