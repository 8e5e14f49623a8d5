// Everything the router needs, from the node YAML (supervised) or the command line (static).
// In supervised mode the workers come from the supervisor's control API; in static mode they
// are listed with --worker and assumed ready (benchmarks, tests without a supervisor).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/node_config.h"
#include "common/result.h"

namespace qmesh::router {

struct StaticWorker {
  std::string model;
  std::string host;
  uint16_t port = 0;
  int64_t slots = 4;
  std::string digest;  // the GGUF's sha256 (hex), if given: streams continue only between equal ones
};

// The mesh side of a router (node YAML mesh: section, or the --mesh-* flags in static mode).
struct MeshSettings {
  bool enabled = false;                    // false: a mesh of one, no sockets opened
  HostPort gossip{"0.0.0.0", 0};           // UDP gossip + TCP push-pull
  std::optional<HostPort> advertise;       // what peers dial, if not derivable from gossip
  HostPort data{"0.0.0.0", 0};             // encrypted router-to-router listener
  std::vector<std::string> seeds;
  std::filesystem::path key_file;          // re-read on SIGHUP: install/use/remove keys
  std::filesystem::path identity_file;     // the node's Ed25519 identity (created if absent)
  // Members last seen alive, rejoined at start (router/mesh/member_snapshot.h). Default:
  // mesh.members beside identity_file.
  std::filesystem::path members_file;
  std::vector<std::array<uint8_t, 32>> keys;  // primary first; filled at start from key_file/join
};

struct RouterConfig {
  std::string node_name;
  HostPort listen{"127.0.0.1", 8080};
  std::optional<HostPort> control;            // supervisor control API; empty = static mode
  std::vector<StaticWorker> static_workers;
  std::vector<std::string> api_keys;          // empty = no authentication
  std::vector<std::string> admin_keys;        // console and /api/* (router/console/admin_access.h)
  // Console admin actions: the supervisor's control token (read at each action: a new one is
  // written at each supervisor start) and an invite maker (null: no mesh or static mode).
  std::filesystem::path control_token_file;
  std::function<Result<std::string>()> make_invite;
  int64_t max_body_bytes = 8 << 20;
  int64_t max_connections = 1024;             // concurrent client connections (see RouterSection)
  int64_t queue_depth = 64;                   // waiting requests per model
  Millis queue_timeout{30000};
  Millis header_timeout{10000};               // also the idle keep-alive limit
  Millis body_timeout{30000};
  Millis keepalive_interval{15000};           // ": keepalive" on idle SSE streams
  // A client that reads nothing for this long while we write is gone; llama-server's
  // slot matters more than its patience.
  Millis write_timeout{120000};
  Millis connect_timeout{2000};               // loopback connect: anything slow is broken
  // A worker that refused a connection is skipped this long unless the supervisor reports
  // it restarted (new pid) sooner.
  Millis unreachable_hold{2000};
  // SIGTERM drains (router.h): streams in flight get drain_timeout, then (the supervisor
  // stops the workers and they continue elsewhere) shutdown_grace more before they are cut.
  Millis drain_timeout{20000};
  Millis shutdown_grace{5000};
  // A stream whose worker sends nothing this long after its header is stalled and is
  // continued elsewhere (issue 12); continued at most max_continuations times.
  Millis stall_timeout{30000};
  int64_t max_continuations = 2;
  bool prefix_affinity = true;                // false: placement by load alone (selection_policy.h)
  std::string log_level = "info";
  std::string log_format = "text";
  MeshSettings mesh;
};

// Supervised mode: node.name, node.control and the router: section.
RouterConfig fromNodeConfig(const NodeConfig& node);

// "MODEL=http://127.0.0.1:PORT[,slots=N][,digest=SHA256]" (the --worker flag).
Result<StaticWorker> parseWorkerSpec(const std::string& spec);

}  // namespace qmesh::router
