// Host names in the mesh addresses of the config (mesh.seeds, mesh.advertise), turned into
// the numeric addresses gossip deals in. Peers accept only numeric addresses in member
// records and the UDP transport refuses names: a lookup blocks, and on the event loop it
// would stall gossip, probes and every request for as long as the DNS server likes.
//
//   seeds:     numeric ones handed on at once; names looked up with async_resolve, and the
//              whole list handed on again when the last lookup is done. Resolved once per
//              start (a seed is only needed to join).
//   advertise: resolved once at start, before the loop serves anything (the node's own
//              record must carry a number from the first packet on).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/node_config.h"
#include "common/result.h"
#include "router/net.h"

namespace qmesh::router {

class SeedResolver {
 public:
  // `numeric`: every address known so far as IP:PORT; `final`: no lookup is left.
  using Ready = std::function<void(std::vector<std::string> numeric, bool final)>;

  explicit SeedResolver(net::io_context& io) : resolver_(io) {}
  // Cancels lookups in flight: `ready` is not called after destruction.
  ~SeedResolver() { resolver_.cancel(); }

  // Calls `ready` at once with the numeric addresses (final if there is no name), then once
  // more, final, after the names' lookups. Names that do not resolve are logged and left out.
  void resolve(const std::vector<std::string>& addresses, Ready ready);

 private:
  net::ip::udp::resolver resolver_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// mesh.advertise with a host name: resolved (blocking, at start); a number is returned as is.
// An error names the setting and the fix.
Result<std::optional<HostPort>> resolveAdvertisedAddress(net::io_context& io, std::optional<HostPort> advertise);

}  // namespace qmesh::router
