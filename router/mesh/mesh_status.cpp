// MeshNode's reports: /api/mesh (JSON for operators and tests) and the qmesh_mesh_*
// Prometheus series on /metrics.
#include <nlohmann/json.hpp>

#include "common/mesh_keys.h"
#include "router/membership/gossip.h"
#include "router/membership/keyring.h"
#include "router/membership/sealed_transport.h"
#include "router/membership/udp_transport.h"
#include "router/dataplane/channel_pool.h"
#include "router/dataplane/listener.h"
#include "router/mesh/mesh_node.h"
#include "router/mesh/node_meta.h"

namespace qmesh::router {

using membership::Member;
using membership::MemberState;
using nlohmann::json;

namespace {

json memberJson(const Member& m) {
  json j = {{"id", peerKey(m.id)},
            {"name", m.name},
            {"state", membership::toString(m.state)},
            {"incarnation", m.incarnation},
            {"gossip", m.address}};
  if (auto meta = decodeNodeMeta(m.meta)) {
    json workers = json::array();
    for (const auto& w : meta->workers)
      workers.push_back({{"model", w.model},
                         {"state", std::string(toString(w.state))},
                         {"slots", w.slots},
                         {"in_flight", w.inFlight},
                         {"queued", w.queued},
                         {"health", w.health}});
    j["version"] = meta->version;
    j["data"] = meta->dataAddress;
    j["cpu_percent"] = meta->cpuPercent;
    j["mem_percent"] = meta->memPercent;
    j["load"] = meta->loadTenths / 10.0;
    j["boot_unix"] = meta->bootUnix;
    // Where a model loaded nowhere would be loaded (routing/load_placement.h); null: no budget.
    j["free_memory_mib"] = meta->freeMemoryMiB == NodeMeta::kNoBudget ? json(nullptr) : json(meta->freeMemoryMiB);
    j["loads_in_progress"] = meta->loadsInProgress;
    j["workers"] = workers;
  }
  return j;
}


json envelopeJson(const membership::EnvelopeStats& e) {
  return {{"sealed", e.sealed},         {"opened", e.opened},         {"rejected", e.rejected()},
          {"malformed", e.malformed},   {"bad_version", e.badVersion}, {"auth_failed", e.authFailed},
          {"replayed", e.replayed},     {"reflected", e.reflected},    {"too_large", e.tooLarge},
          {"truncated", e.truncated}};
}

json transportJson(const membership::UdpTransportCounters& c) {
  return {{"datagrams_sent", c.datagramsSent},     {"datagrams_received", c.datagramsReceived},
          {"bytes_sent", c.bytesSent},             {"bytes_received", c.bytesReceived},
          {"reliable_sent", c.reliableSent},       {"reliable_received", c.reliableReceived},
          {"reliable_failed", c.reliableFailed},   {"reliable_dropped", c.reliableDropped},
          {"dropped_oversize_in", c.droppedOversizeIn}, {"dropped_queue_full", c.droppedQueueFull},
          // Push-pull connections from anyone, before their frame authenticates.
          {"connections_over_limit", c.connectionsOverLimit},
          {"inbound_over_source_limit", c.inboundOverSourceLimit},
          {"inbound_over_memory_budget", c.inboundOverMemoryBudget},
          {"inbound_first_bytes_timeouts", c.inboundFirstBytesTimeouts},
          // A push-pull piece that failed its check (sealed_stream.h): dropped there.
          {"reliable_chunks_rejected", c.reliableChunksRejected},
          {"inbound_buffered_peak", c.inboundBufferedPeak}};
}

json dataPlaneJson(const dataplane::DataPlaneCounters& c, int64_t activeHops, const dataplane::ChannelPool& pool) {
  uint64_t failures = c.handshakeIoErrors;
  for (uint64_t n : c.handshakeFailuresByReason) failures += n;
  const auto& p = pool.counters();
  return {{"accepted", c.accepted},
          {"handshake_failures", failures},
          {"handshake_timeouts", c.handshakeFailures(dataplane::dataplane_errc::handshake_timeout)},
          {"pending_handshakes", c.pendingHandshakes},
          {"evicted_pending_cap", c.evictedPendingCap},
          {"evicted_per_source_cap", c.evictedPerSourceCap},
          {"authenticated", c.authenticated},
          // Authenticated channels from other routers being served (HopSession).
          {"active_hops", activeHops},
          // Outgoing channels kept for reuse (ChannelPool).
          {"pool",
           {{"idle", pool.idle()},
            {"reused", p.reused},
            {"returned", p.returned},
            {"stale", p.stale},
            {"expired", p.expired},
            {"overflow", p.overflow},
            {"dropped", p.dropped}}}};
}

void counter(std::string& out, const char* name, const std::string& labels, uint64_t v) {
  out += std::string(name) + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(v) + "\n";
}

}  // namespace

json MeshNode::statusJson(int64_t hopSessions) const {
  json members = json::array();
  std::map<std::string, int> byState;
  for (const auto& [id, m] : gossip_->members().all()) {
    json j = memberJson(m);
    j["self"] = id == identity_.id();
    members.push_back(std::move(j));
    ++byState[membership::toString(m.state)];
  }
  json keys = json::array();
  for (const auto& e : keyring_->entries()) keys.push_back(meshKeyFingerprint(e.key));
  const auto& g = gossip_->stats();
  return json{{"enabled", true},
              {"node", st_.config.node_name},
              {"id", peerKey(identity_.id())},
              {"gossip", gossipAddress()},
              {"data", dataAddress()},
              {"leaving", stopping_},
              {"members", members},
              {"member_states", json(byState)},
              {"keys", keys},
              {"stats",
               {{"gossip",
                 {{"packets_in", g.packetsIn},
                  {"malformed", g.malformed},
                  {"probes", g.probes},
                  {"indirect_probes", g.indirectProbes},
                  {"suspicions_raised", g.suspicionsRaised},
                  {"dead_declared", g.deadDeclared},
                  {"refutations", g.refutations},
                  {"bad_signature", g.badSignature},
                  {"unusable_records", g.unusableRecords},
                  {"relayed_accusations", g.relayedAccusations},
                  {"invalid_meta", invalidMeta_},
                  {"push_pulls", g.pushPulls},
                  {"reaped", g.reaped}}},
                {"envelope", envelopeJson(sealed_->stats())},
                {"envelope_reliable", envelopeJson(sealed_->reliableStats())},
                {"transport", transportJson(udp_->counters())},
                {"data_plane", dataPlaneJson(dataPlane_->counters(), hopSessions, st_.meshChannels)}}}};
}

void MeshNode::renderMetrics(std::string& out) const {
  std::map<std::string, int> byState = {{"alive", 0}, {"suspect", 0}, {"dead", 0}, {"left", 0}};
  for (const auto& [id, m] : gossip_->members().all()) ++byState[membership::toString(m.state)];
  out += "# HELP qmesh_mesh_members Members of the mesh by state, as this node sees them (itself included).\n";
  out += "# TYPE qmesh_mesh_members gauge\n";
  for (const auto& [state, n] : byState) counter(out, "qmesh_mesh_members", "state=\"" + state + "\"", n);
  out += "# HELP qmesh_mesh_packets_rejected_total Gossip packets (udp) and push-pull messages (tcp) dropped "
         "before parsing, by reason.\n";
  out += "# TYPE qmesh_mesh_packets_rejected_total counter\n";
  out += "# TYPE qmesh_mesh_packets_opened_total counter\n";
  for (const auto& [channel, e] : {std::pair{"udp", sealed_->stats()}, std::pair{"tcp", sealed_->reliableStats()}}) {
    const std::string ch = std::string("channel=\"") + channel + "\",";
    counter(out, "qmesh_mesh_packets_rejected_total", ch + "reason=\"auth_failed\"", e.authFailed);
    counter(out, "qmesh_mesh_packets_rejected_total", ch + "reason=\"replayed\"", e.replayed);
    counter(out, "qmesh_mesh_packets_rejected_total", ch + "reason=\"malformed\"", e.malformed);
    counter(out, "qmesh_mesh_packets_rejected_total", ch + "reason=\"bad_version\"", e.badVersion);
    counter(out, "qmesh_mesh_packets_rejected_total", ch + "reason=\"reflected\"", e.reflected);
    counter(out, "qmesh_mesh_packets_rejected_total", ch + "reason=\"truncated\"", e.truncated);
    counter(out, "qmesh_mesh_packets_opened_total", std::string("channel=\"") + channel + "\"", e.opened);
  }
  // Connections anyone can open, closed before they authenticated, next to the packets above.
  const auto& dp = dataPlane_->counters();
  const auto& udp = udp_->counters();
  out += "# HELP qmesh_mesh_connections_dropped_total Unauthenticated data-plane (data) and push-pull (tcp) "
         "connections closed before authenticating, by reason.\n";
  out += "# TYPE qmesh_mesh_connections_dropped_total counter\n";
  counter(out, "qmesh_mesh_connections_dropped_total", "channel=\"data\",reason=\"pending_cap\"", dp.evictedPendingCap);
  counter(out, "qmesh_mesh_connections_dropped_total", "channel=\"data\",reason=\"per_source_cap\"",
          dp.evictedPerSourceCap);
  counter(out, "qmesh_mesh_connections_dropped_total", "channel=\"data\",reason=\"timeout\"",
          dp.handshakeFailures(dataplane::dataplane_errc::handshake_timeout));
  counter(out, "qmesh_mesh_connections_dropped_total", "channel=\"tcp\",reason=\"pending_cap\"",
          udp.connectionsOverLimit);
  counter(out, "qmesh_mesh_connections_dropped_total", "channel=\"tcp\",reason=\"per_source_cap\"",
          udp.inboundOverSourceLimit);
  counter(out, "qmesh_mesh_connections_dropped_total", "channel=\"tcp\",reason=\"memory_budget\"",
          udp.inboundOverMemoryBudget);
  counter(out, "qmesh_mesh_connections_dropped_total", "channel=\"tcp\",reason=\"chunk_rejected\"",
          udp.reliableChunksRejected);
  counter(out, "qmesh_mesh_connections_dropped_total", "channel=\"tcp\",reason=\"timeout\"",
          udp.inboundFirstBytesTimeouts);
  out += "# TYPE qmesh_mesh_bad_signatures_total counter\n";
  counter(out, "qmesh_mesh_bad_signatures_total", "", gossip_->stats().badSignature);
  const auto& g = gossip_->stats();
  out += "# HELP qmesh_mesh_invalid_claims_total Member records or worker info whose names or addresses break "
         "the config's rules: dropped.\n";
  out += "# TYPE qmesh_mesh_invalid_claims_total counter\n";
  counter(out, "qmesh_mesh_invalid_claims_total", "kind=\"record\"", g.unusableRecords);
  counter(out, "qmesh_mesh_invalid_claims_total", "kind=\"worker_info\"", invalidMeta_);
  out += "# TYPE qmesh_mesh_suspicions_raised_total counter\n";
  counter(out, "qmesh_mesh_suspicions_raised_total", "", g.suspicionsRaised);
  out += "# TYPE qmesh_mesh_refutations_total counter\n";
  counter(out, "qmesh_mesh_refutations_total", "", g.refutations);
  out += "# HELP qmesh_mesh_data_channels_accepted_total Encrypted channels other routers opened to this one.\n";
  out += "# TYPE qmesh_mesh_data_channels_accepted_total counter\n";
  counter(out, "qmesh_mesh_data_channels_accepted_total", "", dataPlane_->counters().accepted);
  out += "# HELP qmesh_mesh_data_channels_reused_total Requests sent on a pooled channel instead of a new one.\n";
  out += "# TYPE qmesh_mesh_data_channels_reused_total counter\n";
  counter(out, "qmesh_mesh_data_channels_reused_total", "", st_.meshChannels.counters().reused);
}

}  // namespace qmesh::router
