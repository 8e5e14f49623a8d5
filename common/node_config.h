// The node's YAML config as plain structs with defaults. Parsed and validated in one place
// (parseNodeConfig); everything else receives it already valid.
//
//   node:        who this node is and where its supervisor listens
//   supervisor:  health polling, restart and stop policy for every child
//   models:      one llama-server per entry
//   router:      the OpenAI-compatible front (qmesh-router)
//   mesh:        gossip with other nodes
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace qmesh {

using Millis = std::chrono::milliseconds;

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

struct NodeSection {
  std::string name;                    // default: the host name
  std::filesystem::path data_dir;      // default: $XDG_STATE_HOME/qmesh/<name>
  HostPort control{"127.0.0.1", 7070};  // supervisor control API; loopback only
  std::string log_level = "info";      // trace, debug, info, warn, error
  std::string log_format = "text";     // text or json (one object per line)
  std::filesystem::path llama_server;  // empty: the packaged binary for this platform
};

struct HealthSettings {
  Millis interval{1000};            // between /health polls of a live child
  Millis timeout{2000};             // one poll; a SIGSTOPped server times out here
  int64_t failure_threshold = 3;    // consecutive failed polls of a ready child = hung
  Millis startup_timeout{600000};   // spawn to ready; big models load slowly
};

struct RestartSettings {
  Millis backoff_initial{250};
  Millis backoff_max{30000};
  double backoff_multiplier = 2.0;
  double jitter = 0.2;              // +/- this fraction, so crashed siblings do not sync up
  int64_t max_restarts = 5;         // more than this many inside `window` = crash loop: failed
  Millis window{60000};
};

struct SupervisorSection {
  HealthSettings health;
  RestartSettings restart;
  Millis stop_grace{5000};          // SIGTERM to SIGKILL
};

struct ModelConfig {
  std::string name;                 // the alias clients send as "model"
  std::filesystem::path gguf;       // absolute after parsing; "builtin:demo" = the demo model
  int64_t ctx_size = 2048;          // 0 = the model's own context length
  int64_t parallel = 4;             // llama-server slots
  int64_t threads = 0;              // 0 = llama-server decides
  int64_t gpu_layers = 0;
  uint16_t port = 0;                // 0 = a free port picked at each spawn
  bool embeddings = false;
  std::vector<std::string> extra_args;
};

struct RouterSection {
  bool enabled = true;              // the supervisor starts qmesh-router
  HostPort listen{"127.0.0.1", 8080};
  std::vector<std::string> api_keys;  // empty = no authentication
  std::vector<std::string> admin_keys;  // the console and /api/* (router/console/admin_access.h)
  int64_t max_body_bytes = 8 << 20;
  // Concurrent client connections; beyond it a new one gets a 503 and is closed. Each may
  // need an upstream connection too, so the router keeps twice this many descriptors (and
  // lowers the cap, with a warning, when RLIMIT_NOFILE cannot be raised that far).
  int64_t max_connections = 1024;
  int64_t queue_depth = 64;         // waiting requests per model beyond the free slots
  Millis queue_timeout{30000};
  Millis header_timeout{10000};     // slow clients cannot hold a connection forever
  Millis body_timeout{30000};
  Millis keepalive_interval{15000};  // SSE comment on idle streams
};

// Parsed and checked in node_config_mesh.cpp. Keys and invites: common/mesh_setup.h.
struct MeshSection {
  // UDP gossip and TCP push-pull share this port. Port 0 = mesh disabled: a mesh of one.
  HostPort gossip{"0.0.0.0", 0};
  // The gossip address other nodes dial (behind NAT, or when gossip binds a wildcard).
  // Empty: the router's transport picks one.
  std::optional<HostPort> advertise;
  // The encrypted router-to-router listener. Default: gossip host, gossip port + 1 (filled
  // in at parse time when the mesh is enabled); port 0 = an ephemeral port.
  HostPort data{"0.0.0.0", 0};
  std::vector<std::string> seeds;   // other nodes' gossip addresses, HOST:PORT
  std::string join;                 // invite token (validated at parse time)
  std::filesystem::path key_file;       // default: <node.data_dir>/mesh.keys
  std::filesystem::path identity_file;  // default: <node.data_dir>/node.id
  bool enabled() const { return gossip.port != 0; }
};

// mesh.data's default: the gossip host, gossip port + 1, so one firewall rule range covers
// both. None for gossip port 65535.
std::optional<HostPort> defaultMeshDataAddress(const HostPort& gossip);

struct NodeConfig {
  std::filesystem::path file;       // absolute path of the YAML it came from
  NodeSection node;
  SupervisorSection supervisor;
  std::vector<ModelConfig> models;
  RouterSection router;
  MeshSection mesh;
};

// `file` is only used in messages and to resolve relative paths.
Result<NodeConfig> parseNodeConfig(const std::string& yaml, const std::filesystem::path& file);
Result<NodeConfig> loadNodeConfig(const std::filesystem::path& file);

}  // namespace qmesh
