#include "src/metrics.h"

#include <cstdio>
#include <cstring>

#include "src/base/json_string.h"

namespace thriftd {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

void AddCounters(const std::uint64_t (&from)[kCallOutcomes], std::uint64_t (&to)[kCallOutcomes]) {
  for (int i = 0; i < kCallOutcomes; ++i) to[i] += from[i];
}

void Family(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

/// `labels` is already formatted (`a="x",b="y"`), or empty for none.
void Sample(std::string* out, const std::string& name, const std::string& labels,
            const std::string& value) {
  *out += name;
  if (!labels.empty()) *out += '{' + labels + '}';
  *out += ' ';
  *out += value;
  *out += '\n';
}

std::string Label(const char* key, const std::string& value) {
  return std::string(key) + "=\"" + EscapeLabelValue(value) + '"';
}

// A method's labels from its scoreboard name: `service` is the name the App
// exports it under ("kv:KeyValue.get" -> kv), or for the App's default
// service the IDL's ("PingPong.ping" -> PingPong); `method` is the
// processor's "Service.method". Calls that reached no method have no service.
std::string MethodLabels(const std::string& key) {
  if (key == kUnknownMethod) return Label("method", key);
  std::size_t colon = key.find(':');
  if (colon != std::string::npos) {
    return Label("service", key.substr(0, colon)) + ',' + Label("method", key.substr(colon + 1));
  }
  return Label("service", key.substr(0, key.find('.'))) + ',' + Label("method", key);
}

void RenderHistogram(std::string* out, const std::string& method, const MethodTotals& totals) {
  const std::string name = "thriftd_request_duration_seconds";
  const std::string method_label = MethodLabels(method);
  std::uint64_t cumulative = 0;
  for (int i = 0; i < kLatencyBuckets; ++i) {
    cumulative += totals.latency_buckets[i];
    std::string le = i + 1 < kLatencyBuckets
                         ? MicrosAsSeconds(static_cast<std::uint64_t>(kLatencyBoundsUs[i]))
                         : "+Inf";
    Sample(out, name + "_bucket", method_label + ',' + Label("le", le), std::to_string(cumulative));
  }
  Sample(out, name + "_sum", method_label, MicrosAsSeconds(totals.latency_sum_us));
  Sample(out, name + "_count", method_label, std::to_string(cumulative));
}

}  // namespace

void MetricsTotals::AddSlot(const ScoreboardSlot& slot) {
  requests += slot.requests.load(kRelaxed);
  errors += slot.errors.load(kRelaxed);
  bytes_in += slot.bytes_in.load(kRelaxed);
  bytes_out += slot.bytes_out.load(kRelaxed);
  for (const MethodStats& stats : slot.methods) {
    // The worker writes the name before publishing the entry with `used`.
    if (stats.used.load(std::memory_order_acquire) == 0) continue;
    std::string name(stats.name, strnlen(stats.name, MethodStats::kNameSize));
    MethodTotals& totals = methods[name.empty() ? kUnknownMethod : name];
    for (int i = 0; i < kCallOutcomes; ++i) totals.calls[i] += stats.calls[i].load(kRelaxed);
    for (int i = 0; i < kLatencyBuckets; ++i) {
      totals.latency_buckets[i] += stats.latency_buckets[i].load(kRelaxed);
    }
    totals.latency_sum_us += stats.latency_sum_us.load(kRelaxed);
  }
  std::uint64_t unlisted[kCallOutcomes];
  bool any = false;
  for (int i = 0; i < kCallOutcomes; ++i) {
    unlisted[i] = slot.unlisted_calls[i].load(kRelaxed);
    any = any || unlisted[i] != 0;
  }
  // "unknown" appears with the first such call, not on every scrape.
  if (any) AddCounters(unlisted, methods[kUnknownMethod].calls);
}

void MetricsTotals::Add(const MetricsTotals& other) {
  for (const auto& [name, from] : other.methods) {
    MethodTotals& to = methods[name];
    AddCounters(from.calls, to.calls);
    for (int i = 0; i < kLatencyBuckets; ++i) to.latency_buckets[i] += from.latency_buckets[i];
    to.latency_sum_us += from.latency_sum_us;
  }
  requests += other.requests;
  errors += other.errors;
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '"':
        escaped += "\\\"";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string MicrosAsSeconds(std::uint64_t micros) {
  std::string text = std::to_string(micros / 1000000);
  std::uint64_t fraction = micros % 1000000;
  if (fraction == 0) return text;
  std::string digits = std::to_string(fraction);
  digits.insert(0, 6 - digits.size(), '0');
  digits.erase(digits.find_last_not_of('0') + 1);
  return text + '.' + digits;
}

std::string RenderPrometheus(const MetricsSnapshot& snapshot) {
  std::string out;
  const auto& methods = snapshot.totals.methods;

  Family(&out, "thriftd_workers", "gauge", "Worker processes by state.");
  Sample(&out, "thriftd_workers", Label("state", "booting"),
         std::to_string(snapshot.workers_booting));
  Sample(&out, "thriftd_workers", Label("state", "ready"), std::to_string(snapshot.workers_ready));
  Sample(&out, "thriftd_workers", Label("state", "draining"),
         std::to_string(snapshot.workers_draining));

  Family(&out, "thriftd_requests_total", "counter",
         "Thrift calls served, by service, method and outcome.");
  for (const auto& [method, totals] : methods) {
    for (int i = 0; i < kCallOutcomes; ++i) {
      Sample(&out, "thriftd_requests_total",
             MethodLabels(method) + ',' +
                 Label("outcome", CallOutcomeName(static_cast<CallOutcome>(i))),
             std::to_string(totals.calls[i]));
    }
  }

  Family(&out, "thriftd_request_errors_total", "counter",
         "Thrift calls that did not end in a normal reply, by service and method.");
  for (const auto& [method, totals] : methods) {
    std::uint64_t errors = 0;
    for (int i = 0; i < kCallOutcomes; ++i) {
      if (static_cast<CallOutcome>(i) != CallOutcome::kOk) errors += totals.calls[i];
    }
    Sample(&out, "thriftd_request_errors_total", MethodLabels(method), std::to_string(errors));
  }

  Family(&out, "thriftd_request_duration_seconds", "histogram",
         "Time to serve a Thrift call, by service and method.");
  for (const auto& [method, totals] : methods) {
    // Calls that never reached a method have no latency.
    if (method != kUnknownMethod) RenderHistogram(&out, method, totals);
  }

  Family(&out, "thriftd_connections", "gauge", "Client connections held by the workers.");
  Sample(&out, "thriftd_connections", "", std::to_string(snapshot.connections));
  Family(&out, "thriftd_received_bytes_total", "counter", "Bytes read from clients.");
  Sample(&out, "thriftd_received_bytes_total", "", std::to_string(snapshot.totals.bytes_in));
  Family(&out, "thriftd_sent_bytes_total", "counter", "Bytes written to clients.");
  Sample(&out, "thriftd_sent_bytes_total", "", std::to_string(snapshot.totals.bytes_out));

  std::map<std::string, std::uint64_t> restarts = snapshot.restarts_by_reason;
  for (const char* reason : kRestartReasons) restarts.emplace(reason, 0);
  Family(&out, "thriftd_worker_restarts_total", "counter", "Workers replaced, by reason.");
  for (const auto& [reason, count] : restarts) {
    Sample(&out, "thriftd_worker_restarts_total", Label("reason", reason), std::to_string(count));
  }

  Family(&out, "thriftd_build_info", "gauge",
         "thriftd's version and the Thrift version it was built with.");
  Sample(
      &out, "thriftd_build_info",
      Label("version", snapshot.version) + ',' + Label("thrift_version", snapshot.thrift_version),
      "1");
  return out;
}

HealthReport RenderHealth(const HealthSnapshot& health) {
  HealthReport report;
  report.serving = !health.stopping && health.workers_ready > 0;
  const char* status = health.stopping                                ? "stopping"
                       : health.workers_ready == 0                    ? "unavailable"
                       : health.workers_ready < health.workers_wanted ? "degraded"
                                                                      : "ok";
  report.body = std::string("{\"status\": \"") + status +
                "\", \"workers_ready\": " + std::to_string(health.workers_ready) +
                ", \"workers_wanted\": " + std::to_string(health.workers_wanted) +
                ", \"generation\": " + std::to_string(health.generation) + ", \"listeners\": [";
  for (std::size_t i = 0; i < health.listeners.size(); ++i) {
    const HealthListener& listener = health.listeners[i];
    report.body += std::string(i > 0 ? ", " : "") + "{\"address\": ";
    AppendJsonString(&report.body, listener.address);
    report.body += ", \"listening\": ";
    AppendJsonString(&report.body, listener.listening);
    if (listener.port > 0) report.body += ", \"port\": " + std::to_string(listener.port);
    report.body += "}";
  }
  report.body += "]}\n";
  return report;
}

}  // namespace thriftd
