#include "router/dataplane/tcp_liveness.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>

namespace qmesh::dataplane {

using std::chrono::seconds;

TcpLiveness tcpLivenessFor(std::chrono::milliseconds limit) {
  const auto whole = std::chrono::duration_cast<seconds>(limit);
  TcpLiveness t;
  t.idle = std::max(seconds(1), whole / 2);
  t.interval = std::max(seconds(1), (whole - t.idle) / 3);
  // Enough probes to span the limit (rounded up); TCP_USER_TIMEOUT ends it at the limit.
  t.probes = static_cast<int>(std::max<seconds::rep>(1, (whole - t.idle + t.interval - seconds(1)) / t.interval));
  t.userTimeout = std::max(limit, std::chrono::milliseconds(1000));
  return t;
}

error_code applyTcpLiveness(tcp::socket& socket, const TcpLiveness& settings) {
  error_code ec;
  socket.set_option(net::socket_base::keep_alive(true), ec);
  if (ec) return ec;
  const int fd = socket.native_handle();
  const int values[][2] = {{TCP_KEEPIDLE, static_cast<int>(settings.idle.count())},
                           {TCP_KEEPINTVL, static_cast<int>(settings.interval.count())},
                           {TCP_KEEPCNT, settings.probes},
                           {TCP_USER_TIMEOUT, static_cast<int>(settings.userTimeout.count())}};
  for (const auto& [name, value] : values)
    if (::setsockopt(fd, IPPROTO_TCP, name, &value, sizeof value) != 0)
      return error_code(errno, boost::system::system_category());
  return ec;
}

}  // namespace qmesh::dataplane
