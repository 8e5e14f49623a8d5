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

#include "common/host_port.h"
#include "common/model_memory.h"
#include "common/result.h"

namespace qmesh {

using Millis = std::chrono::milliseconds;

struct NodeSection {
  std::string name;                    // default: the host name
  std::filesystem::path data_dir;      // default: $XDG_STATE_HOME/qmesh/<name>
  HostPort control{"127.0.0.1", 7070};  // supervisor control API; loopback only
  std::string log_level = "info";      // trace, debug, info, warn, error
  std::string log_format = "text";     // text or json (one object per line)
  std::filesystem::path llama_server;  // empty: the packaged binary for this platform
  // What the models may take together (weights + KV cache, common/model_memory.h); a model
  // that does not fit is refused at startup. Empty: no budget.
  MemoryBudget memory_budget;          // written "16GiB", "17179869184" or "80%" (of RAM)
  // SIGTERM or `qmesh-supervisor drain`: how long streams in flight may run on this node's
  // workers before they are stopped and the streams continue on other nodes (issue 12).
  // 20 s: most chat answers finish well within it, and with stop_grace (5 s) the whole drain
  // fits Kubernetes' default terminationGracePeriodSeconds (30 s).
  Millis drain_timeout{20000};
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
  // gguf given as an https://, http:// or file:// URL: where it is downloaded from, and the
  // sha256 (64 lowercase hex digits) it must have. `gguf` is then the downloaded file,
  // <node.data_dir>/models/sha256-<digest>.gguf (common/node_config_models.cpp).
  std::string url;
  std::string sha256;
  int64_t ctx_size = 2048;          // 0 = the model's own context length
  int64_t parallel = 4;             // llama-server slots
  int64_t threads = 0;              // 0 = llama-server decides
  int64_t gpu_layers = 0;
  uint16_t port = 0;                // 0 = a free port picked at each spawn
  bool embeddings = false;
  std::vector<std::string> extra_args;
  // llama-server processes for this model on this node, each with its own port and
  // `parallel` slots, routed, restarted and reported separately (child names: NAME, NAME#2..).
  int64_t replicas = 1;
  // load: on_demand: not spawned at start (state `unloaded`) but by `qmesh-supervisor load`
  // or POST /children/NAME/load; `unload` ends it again. Default (always): from the start.
  bool on_demand = false;
  // idle_unload: unloaded once no request has been in flight or queued for it this long
  // (the router keeps that clock: router/routing/on_demand.h); the next request loads it
  // again. 0 = never (the default).
  Millis idle_unload{0};
};

// The supervisor's name for replica `index` (0-based) of a model: the model's own name for the
// first, NAME#2, NAME#3... after it ('#' is no model-name character, so no clash).
std::string replicaName(const std::string& model, int64_t index);

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
  // Issue 12: a stream whose worker sends nothing this long after answering is stalled and
  // continued on another worker; at most max_continuations times per request (0: never).
  Millis stall_timeout{30000};
  int64_t max_continuations = 2;
  // A chat goes to the worker that already holds its prefix in llama-server's prompt cache
  // (router/routing/selection_policy.h). false: by load alone, the baseline of
  // bench/prefix_affinity.py.
  bool prefix_affinity = true;
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
