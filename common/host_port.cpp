#include "common/host_port.h"

#include <arpa/inet.h>

#include <charconv>

namespace qmesh {

std::string HostPort::str() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> parseHostPort(const std::string& text) {
  HostPort hp;
  std::string portText;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return makeError("'" + text + "' is not HOST:PORT (IPv6 is written [::1]:8080)");
    hp.host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return makeError("'" + text + "' is not HOST:PORT (e.g. 127.0.0.1:8080)");
    hp.host = text.substr(0, colon);
    portText = text.substr(colon + 1);
  }
  if (hp.host.empty()) hp.host = "127.0.0.1";
  if (hp.host == "localhost") hp.host = "127.0.0.1";
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (portText.empty() || ec != std::errc() || end != portText.data() + portText.size() || port > 65535)
    return makeError("'" + text + "' has no valid port (0 to 65535)");
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

Result<HostPort> parseListenAddress(const std::string& text) {
  auto hp = parseHostPort(text);
  if (!hp) return hp;
  const bool bracketed = !text.empty() && text[0] == '[';
  unsigned char buf[16];
  const bool v4 = inet_pton(AF_INET, hp->host.c_str(), buf) == 1;
  const bool v6 = inet_pton(AF_INET6, hp->host.c_str(), buf) == 1;
  if (v6 && !bracketed)
    return makeError("'" + text + "': write an IPv6 address in brackets, e.g. [::]:8080 or [::1]:8080");
  if (!v4 && !v6)
    return makeError("'" + text + "': '" + hp->host +
                     "' is not an IP address; listen on an address such as 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080");
  return hp;
}

bool isLoopbackHost(const std::string& host) {
  return host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

bool isWildcardHost(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::";
}

}  // namespace qmesh
