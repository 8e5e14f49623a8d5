// A host and port as the config and the wire write them ("127.0.0.1:8080", "[::1]:8080"),
// apart from the YAML config (node_config.h) so that code which only dials or listens does
// not include the whole config.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace qmesh {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string str() const;
};
// "HOST:PORT", "[::1]:PORT" or ":PORT" (host defaults to 127.0.0.1).
Result<HostPort> parseHostPort(const std::string& text);
// An address to listen on: parseHostPort, and the host must be an IP literal (localhost
// becomes 127.0.0.1) with IPv6 in brackets ("[::]:8080"), since a name would need DNS and
// "::1:8080" is ambiguous.
Result<HostPort> parseListenAddress(const std::string& text);
bool isLoopbackHost(const std::string& host);
// "0.0.0.0", "::" or empty: binds every interface, so it is no address to dial.
bool isWildcardHost(const std::string& host);

}  // namespace qmesh
