#include "router/mesh/seed_resolver.h"

#include <memory>

#include "common/logging.h"
#include "router/membership/messages.h"

namespace qmesh::router {

namespace {

// Most meshes are IPv4 (the transport's default socket is), so a name's IPv4 address is the
// one peers will reach; an IPv6-only name still gets its first address.
net::ip::udp::endpoint preferIpv4(const net::ip::udp::resolver::results_type& found) {
  for (const auto& r : found)
    if (r.endpoint().address().is_v4()) return r.endpoint();
  return found.begin()->endpoint();
}

}  // namespace

void SeedResolver::resolve(const std::vector<std::string>& addresses, Ready ready) {
  auto known = std::make_shared<std::vector<std::string>>();
  std::vector<HostPort> names;
  for (const auto& a : addresses) {
    if (membership::isNumericAddress(a)) known->push_back(a);
    else if (auto hp = parseHostPort(a); hp && hp->port != 0) names.push_back(*hp);
    else spdlog::warn("mesh: seed '{}' is not HOST:PORT; skipped", a);
  }
  ready(*known, names.empty());
  if (names.empty()) return;
  auto pending = std::make_shared<std::size_t>(names.size());
  auto shared = std::make_shared<Ready>(std::move(ready));
  for (const HostPort& name : names) {
    resolver_.async_resolve(
        name.host, std::to_string(name.port), net::ip::resolver_base::numeric_service,
        [alive = std::weak_ptr<int>(alive_), name, pending, known, shared](
            error_code ec, net::ip::udp::resolver::results_type found) {
          if (alive.expired() || ec == net::error::operation_aborted) return;
          if (ec || found.empty()) {
            spdlog::warn("mesh: seed {} does not resolve ({}); skipped until the next start", name.str(),
                         ec ? ec.message() : "no address");
          } else {
            const auto ep = preferIpv4(found);
            known->push_back(HostPort{ep.address().to_string(), ep.port()}.str());
            spdlog::info("mesh: seed {} is {}", name.str(), known->back());
          }
          if (--*pending == 0) (*shared)(*known, true);
        });
  }
}

Result<std::optional<HostPort>> resolveAdvertisedAddress(net::io_context& io, std::optional<HostPort> advertise) {
  if (!advertise) return advertise;
  error_code ec;
  net::ip::make_address(advertise->host, ec);
  if (!ec) return advertise;
  net::ip::udp::resolver resolver(io);
  const auto found = resolver.resolve(advertise->host, "", ec);
  if (ec || found.empty())
    return makeError("mesh.advertise: cannot resolve '" + advertise->host + "'" + (ec ? ": " + ec.message() : "") +
                     " (give this node's IP address as the other nodes reach it)");
  const std::string ip = preferIpv4(found).address().to_string();
  spdlog::info("mesh: mesh.advertise {} is {} (resolved once, at start)", advertise->host, ip);
  advertise->host = ip;
  return advertise;
}

}  // namespace qmesh::router
