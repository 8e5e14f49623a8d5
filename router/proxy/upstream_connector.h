// The seam between the Forwarder and whatever serves a request: a local llama-server over
// loopback TCP (LocalUpstream) or another node's router over the encrypted data plane
// (MeshUpstream). The Forwarder drives every upstream through this interface alone:
//
//   connect(fresh)   a new connection, or (unless `fresh`) one kept from an earlier exchange
//   send, readHeader, readSome   one HTTP exchange (upstream_client.h)
//   cancelRead       wakes a pending read without losing data (the relay's keepalive)
//   close            drops the connection now: the upstream sees its client gone
//   releaseForReuse  after a complete response: keep the connection for the next request
//
// Single-threaded, like the rest of the router. Destroying a connector closes what it did
// not release.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "router/net.h"
#include "router/proxy/upstream_client.h"

namespace qmesh::router {

struct RouterServices;
struct Worker;

class UpstreamConnector {
 public:
  virtual ~UpstreamConnector() = default;

  // `fresh`: do not reuse a kept connection (the kept one just failed).
  virtual net::awaitable<error_code> connect(bool fresh) = 0;
  // The connection came from a pool: a failure on it may be the peer's keep-alive timeout
  // racing our reuse, not the worker's fault.
  virtual bool reused() const = 0;
  // Sets what this kind of upstream needs on the request: Host, keep-alive, hop headers.
  virtual void prepare(UpstreamRequest& req) const = 0;
  virtual net::awaitable<error_code> send(UpstreamRequest& req) = 0;
  // Some byte of the request was written (it may have reached the worker).
  virtual bool sentAny() const = 0;
  virtual net::awaitable<error_code> readHeader() = 0;
  virtual const http::response_header<>& header() const = 0;
  virtual net::awaitable<std::pair<error_code, std::size_t>> readSome(char* buf, std::size_t size) = 0;
  virtual bool done() const = 0;
  virtual void cancelRead() = 0;
  virtual void close() = 0;
  virtual void releaseForReuse() = 0;

  // A refused connect: the worker (or its whole node) is taken out of routing for a while.
  virtual void markUnreachable() = 0;
  // Error kinds in logs and metrics: "connect", "reset", "http_5xx", prefixed for the mesh.
  virtual std::string errorKind(std::string_view what) const = 0;
  // The x-qmesh-route value once this upstream is chosen: `self` is this node's name and
  // `why` the selection's reason. After readHeader a mesh hop includes the next node's route.
  virtual std::string route(std::string_view self, std::string_view why) const = 0;

  bool isEventStream() const {
    return header()[http::field::content_type].substr(0, 17) == "text/event-stream";
  }
};

// The connector for worker `w` (local or on another node).
std::unique_ptr<UpstreamConnector> makeUpstreamConnector(Worker& w, RouterServices& services, net::any_io_executor ex);

}  // namespace qmesh::router
