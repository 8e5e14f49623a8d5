#include "router/proxy/origin_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "common/node_config.h"

namespace qmesh::router {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool isIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT" -> host (no brackets) and port (0 = none).
// False when it is none of these.
bool splitAuthority(std::string_view text, std::string& host, uint16_t& port) {
  std::string_view portText;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    if (!rest.empty()) portText = rest.substr(1);
  } else {
    const auto colon = text.find(':');
    host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) portText = text.substr(colon + 1);
  }
  port = 0;
  if (portText.empty()) return !host.empty();
  unsigned p = 0;
  const auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), p);
  if (ec != std::errc() || end != portText.data() + portText.size() || p == 0 || p > 65535) return false;
  port = static_cast<uint16_t>(p);
  return !host.empty();
}

}  // namespace

bool acceptableHostName(std::string_view hostName, const OriginPolicy& policy) {
  const std::string host = lower(hostName);
  if (host == "localhost" || host == "127.0.0.1" || host == "::1") return true;
  if (isWildcardHost(policy.listenHost)) return isIpLiteral(host);
  return host == lower(policy.listenHost);
}

std::optional<std::string> refuseHostOrOrigin(std::string_view method, std::string_view hostHeader,
                                              std::string_view origin, const OriginPolicy& policy) {
  std::string host;
  uint16_t port = 0;
  if (!hostHeader.empty() && (!splitAuthority(hostHeader, host, port) || !acceptableHostName(host, policy)))
    return std::string("the Host header does not name this router (a DNS rebinding attempt?); use "
                       "localhost, 127.0.0.1 or the router.listen address, or set router.api_keys");
  const bool safeMethod = method == "GET" || method == "HEAD" || method == "OPTIONS";
  if (safeMethod || origin.empty()) return std::nullopt;
  constexpr std::string_view scheme = "http://";
  const bool ours = origin.substr(0, scheme.size()) == scheme &&
                    splitAuthority(origin.substr(scheme.size()), host, port) &&
                    acceptableHostName(host, policy) && (port == 0 ? policy.port == 80 : port == policy.port);
  if (ours) return std::nullopt;
  return std::string("cross-origin requests are refused (Origin is not this router); set router.api_keys to "
                     "serve other origins");
}

}  // namespace qmesh::router
