#include "router/metrics.h"

#include "router/routing/admission.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

namespace {

// Seconds; dense below 10 ms because the router's own overhead lives there.
const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,   0.5,   1,      2.5,   5,    10,    30,    60, 300};

std::string label(const std::string& model) { return "model=\"" + model + "\""; }

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Histogram& RouterMetrics::histogram(std::map<std::string, Histogram>& m, const std::string& model) {
  auto it = m.find(model);
  if (it == m.end()) it = m.emplace(model, Histogram(kLatencyBounds)).first;
  return it->second;
}

void RouterMetrics::requestFinished(const std::string& model, int status, double totalSeconds) {
  --inFlight_;
  ++requests_[{model, status}];
  if (!model.empty()) histogram(total_, model).observe(totalSeconds);
}

void RouterMetrics::firstByte(const std::string& model, double seconds) {
  histogram(ttfb_, model).observe(seconds);
}

void RouterMetrics::upstreamError(const std::string& model, const std::string& kind) {
  ++upstreamErrors_[{model, kind}];
}

uint64_t RouterMetrics::requests() const {
  uint64_t n = 0;
  for (const auto& [k, v] : requests_) n += v;
  return n;
}

std::string RouterMetrics::render(const WorkerDirectory& dir, const Admission& admission) const {
  std::string out;
  header(out, "qmesh_router_requests_total", "counter", "Requests answered, by model and HTTP status.");
  for (const auto& [k, v] : requests_)
    out += "qmesh_router_requests_total{model=\"" + k.first + "\",code=\"" + std::to_string(k.second) + "\"} " +
           std::to_string(v) + "\n";
  header(out, "qmesh_router_in_flight", "gauge", "Requests being read, queued or streamed.");
  out += "qmesh_router_in_flight " + std::to_string(inFlight_) + "\n";
  header(out, "qmesh_router_connections_refused_total", "counter",
         "Client connections turned away with a 503 because router.max_connections were open.");
  out += "qmesh_router_connections_refused_total " + std::to_string(connectionsRefused_) + "\n";
  header(out, "qmesh_router_connections_evicted_total", "counter",
         "Idle client connections (no request in progress) closed at router.max_connections to admit a new one.");
  out += "qmesh_router_connections_evicted_total " + std::to_string(connectionsEvicted_) + "\n";
  header(out, "qmesh_router_time_to_first_byte_seconds", "histogram",
         "Request received to first response body byte sent, per model.");
  for (const auto& [model, h] : ttfb_) h.render(out, "qmesh_router_time_to_first_byte_seconds", label(model));
  header(out, "qmesh_router_request_duration_seconds", "histogram", "Request received to response complete, per model.");
  for (const auto& [model, h] : total_) h.render(out, "qmesh_router_request_duration_seconds", label(model));
  header(out, "qmesh_router_upstream_errors_total", "counter", "Worker connect failures, resets and 5xx, by kind.");
  for (const auto& [k, v] : upstreamErrors_)
    out += "qmesh_router_upstream_errors_total{model=\"" + k.first + "\",kind=\"" + k.second + "\"} " +
           std::to_string(v) + "\n";
  header(out, "qmesh_stream_continuations_total", "counter",
         "Streams continued on another worker after theirs failed mid-stream, by what failed "
         "(reset, eof, stall, worker_down).");
  for (const auto& [k, v] : continued_)
    out += "qmesh_stream_continuations_total{" + label(k.first) + ",reason=\"" + k.second + "\"} " + std::to_string(v) + "\n";
  header(out, "qmesh_stream_continuations_refused_total", "counter",
         "Streams whose worker failed mid-stream and that ended in an error event instead, by why "
         "(n, logprobs, grammar, prompt, tool_calls, no_worker, limit).");
  for (const auto& [k, v] : continuationRefused_)
    out += "qmesh_stream_continuations_refused_total{" + label(k.first) + ",reason=\"" + k.second + "\"} " +
           std::to_string(v) + "\n";
  header(out, "qmesh_router_retries_total", "counter", "Requests retried on another worker before the first byte.");
  for (const auto& [model, v] : retries_) out += "qmesh_router_retries_total{" + label(model) + "} " + std::to_string(v) + "\n";
  header(out, "qmesh_router_client_disconnects_total", "counter", "Clients that hung up before the response ended.");
  for (const auto& [model, v] : clientGone_)
    out += "qmesh_router_client_disconnects_total{" + label(model) + "} " + std::to_string(v) + "\n";
  header(out, "qmesh_router_sse_events_total", "counter", "Server-sent events relayed to clients.");
  for (const auto& [model, v] : sseEvents_) out += "qmesh_router_sse_events_total{" + label(model) + "} " + std::to_string(v) + "\n";
  header(out, "qmesh_router_bytes_total", "counter", "Bytes received from clients and sent to clients.");
  out += "qmesh_router_bytes_total{direction=\"from_client\"} " + std::to_string(bytesFromClient_) + "\n";
  out += "qmesh_router_bytes_total{direction=\"to_client\"} " + std::to_string(bytesToClient_) + "\n";
  header(out, "qmesh_router_queue_rejections_total", "counter", "Requests refused by admission, by reason.");
  for (const char* code : {"queue_full", "queue_timeout", "no_ready_worker", "model_load_failed"})
    out += std::string("qmesh_router_queue_rejections_total{reason=\"") + code + "\"} " +
           std::to_string(admission.rejected(code)) + "\n";
  header(out, "qmesh_router_worker_outstanding", "gauge", "Requests holding a slot of each worker.");
  for (const auto& w : dir.all())
    out += "qmesh_router_worker_outstanding{model=\"" + w->info.model + "\",worker=\"" + w->id + "\"} " +
           std::to_string(w->outstanding) + "\n";
  header(out, "qmesh_router_worker_slots", "gauge", "Slots of each worker.");
  for (const auto& w : dir.all())
    out += "qmesh_router_worker_slots{model=\"" + w->info.model + "\",worker=\"" + w->id + "\"} " +
           std::to_string(w->info.slots) + "\n";
  header(out, "qmesh_router_worker_ready", "gauge", "1 when the supervisor reports the worker ready.");
  for (const auto& w : dir.all())
    out += "qmesh_router_worker_ready{model=\"" + w->info.model + "\",worker=\"" + w->id + "\"} " +
           std::string(w->info.state == WorkerState::Ready ? "1" : "0") + "\n";
  header(out, "qmesh_router_queue_length", "gauge", "Requests waiting for a slot, per model.");
  for (const auto& m : dir.models())
    out += "qmesh_router_queue_length{" + label(m) + "} " + std::to_string(admission.queued(m)) + "\n";
  return out;
}

}  // namespace qmesh::router
