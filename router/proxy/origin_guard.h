// DNS rebinding and cross-site requests against a router without API keys. A web page the
// user visits can make the browser send requests to 127.0.0.1:8080, either under its own
// domain re-pointed at 127.0.0.1 (the Host header then names that domain) or as a
// cross-origin POST (the Origin header names the page). Without keys nothing else stops
// them, so both headers are checked; with keys the key is the protection and any Host works
// (reverse proxies, LAN names).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qmesh::router {

struct OriginPolicy {
  std::string listenHost;  // router.listen's host ("0.0.0.0" / "::" = every interface)
  uint16_t port = 0;       // the port actually bound
};

// True when `host` (a Host header's host part, IPv6 without brackets, any case) names this
// router: localhost, a loopback literal, the listen address, or, when listening on every
// interface, any IP literal (a rebinding attack needs a name, never a literal).
bool acceptableHostName(std::string_view host, const OriginPolicy& policy);

// Why the request must be refused (a message for a 403), or nullopt. An absent Host (HTTP/1.0
// tools) passes: browsers always send one. Origin is checked for every method but GET, HEAD
// and OPTIONS, and must be http://<acceptable host>:<our port>.
std::optional<std::string> refuseHostOrOrigin(std::string_view method, std::string_view host,
                                              std::string_view origin, const OriginPolicy& policy);

}  // namespace qmesh::router
