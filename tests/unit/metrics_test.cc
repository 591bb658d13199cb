// Metrics: folding scoreboard slots into totals, and the Prometheus text.
#include "src/metrics.h"

#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>

namespace thriftd {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// A zeroed slot, as Scoreboard::Reset leaves one.
std::unique_ptr<ScoreboardSlot> ZeroedSlot() {
  auto slot = std::make_unique<ScoreboardSlot>();
  std::memset(static_cast<void*>(slot.get()), 0, sizeof(ScoreboardSlot));
  return slot;
}

MethodStats& Claim(ScoreboardSlot& slot, int index, const char* name) {
  MethodStats& stats = slot.methods[index];
  std::strncpy(stats.name, name, MethodStats::kNameSize - 1);
  stats.used.store(1, std::memory_order_release);
  return stats;
}

void Count(MethodStats& stats, CallOutcome outcome, int bucket, std::uint64_t latency_us) {
  stats.calls[static_cast<int>(outcome)].fetch_add(1, kRelaxed);
  stats.latency_buckets[bucket].fetch_add(1, kRelaxed);
  stats.latency_sum_us.fetch_add(latency_us, kRelaxed);
}

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST_CASE("AddSlot folds a slot's counters in, merging methods by name") {
  auto slot = ZeroedSlot();
  slot->requests.store(7, kRelaxed);
  slot->errors.store(2, kRelaxed);
  slot->bytes_in.store(1000, kRelaxed);
  slot->bytes_out.store(2000, kRelaxed);
  MethodStats& ping = Claim(*slot, 0, "Svc.ping");
  Count(ping, CallOutcome::kOk, 0, 50);
  Count(ping, CallOutcome::kOk, 3, 700);
  Count(ping, CallOutcome::kDeclaredException, kLatencyBuckets - 1, 20000000);
  MethodStats& get = Claim(*slot, 5, "Svc.get");
  Count(get, CallOutcome::kApplicationException, 1, 200);
  // A name without `used` is an entry still being claimed: not counted.
  std::strcpy(slot->methods[6].name, "Svc.half");
  slot->methods[6].calls[0].store(9, kRelaxed);
  slot->unlisted_calls[static_cast<int>(CallOutcome::kProtocolError)].store(3, kRelaxed);

  MetricsTotals totals;
  totals.AddSlot(*slot);
  totals.AddSlot(*slot);  // a second worker with the same counts

  CHECK(totals.requests == 14);
  CHECK(totals.errors == 4);
  CHECK(totals.bytes_in == 2000);
  CHECK(totals.bytes_out == 4000);
  REQUIRE(totals.methods.size() == 3);
  const MethodTotals& p = totals.methods.at("Svc.ping");
  CHECK(p.calls[0] == 4);
  CHECK(p.calls[1] == 2);
  CHECK(p.calls[2] == 0);
  CHECK(p.latency_buckets[0] == 2);
  CHECK(p.latency_buckets[3] == 2);
  CHECK(p.latency_buckets[kLatencyBuckets - 1] == 2);
  CHECK(p.latency_sum_us == 2 * (50 + 700 + 20000000));
  CHECK(totals.methods.at("Svc.get").calls[2] == 2);
  const MethodTotals& unknown = totals.methods.at(kUnknownMethod);
  CHECK(unknown.calls[3] == 6);
  CHECK(unknown.calls[0] == 0);
  CHECK(unknown.latency_sum_us == 0);
}

TEST_CASE("AddSlot adds no \"unknown\" method until a call misses one") {
  auto slot = ZeroedSlot();
  Claim(*slot, 0, "Svc.ping");
  MetricsTotals totals;
  totals.AddSlot(*slot);
  CHECK(totals.methods.size() == 1);
  CHECK(totals.methods.count("Svc.ping") == 1);
}

TEST_CASE("Add sums two totals, method by method") {
  MetricsTotals a;
  a.requests = 1;
  a.bytes_out = 10;
  a.methods["Svc.ping"].calls[0] = 2;
  a.methods["Svc.ping"].latency_buckets[4] = 2;
  a.methods["Svc.ping"].latency_sum_us = 3000;
  MetricsTotals b;
  b.requests = 2;
  b.errors = 1;
  b.bytes_in = 5;
  b.methods["Svc.ping"].calls[0] = 1;
  b.methods["Svc.ping"].latency_buckets[4] = 1;
  b.methods["Svc.ping"].latency_sum_us = 1000;
  b.methods["Svc.get"].calls[1] = 4;

  a.Add(b);
  CHECK(a.requests == 3);
  CHECK(a.errors == 1);
  CHECK(a.bytes_in == 5);
  CHECK(a.bytes_out == 10);
  CHECK(a.methods.at("Svc.ping").calls[0] == 3);
  CHECK(a.methods.at("Svc.ping").latency_buckets[4] == 3);
  CHECK(a.methods.at("Svc.ping").latency_sum_us == 4000);
  CHECK(a.methods.at("Svc.get").calls[1] == 4);
}

TEST_CASE("MicrosAsSeconds writes exact decimals") {
  CHECK(MicrosAsSeconds(0) == "0");
  CHECK(MicrosAsSeconds(1) == "0.000001");
  CHECK(MicrosAsSeconds(100) == "0.0001");
  CHECK(MicrosAsSeconds(2500) == "0.0025");
  CHECK(MicrosAsSeconds(1000000) == "1");
  CHECK(MicrosAsSeconds(2500000) == "2.5");
  CHECK(MicrosAsSeconds(11000050) == "11.00005");
}

TEST_CASE("RenderPrometheus renders a small snapshot exactly") {
  MetricsSnapshot snapshot;
  MethodTotals& ping = snapshot.totals.methods["Svc.ping"];
  ping.calls[0] = 3;
  ping.calls[1] = 1;
  ping.latency_buckets[0] = 1;
  ping.latency_buckets[3] = 2;
  ping.latency_buckets[kLatencyBuckets - 1] = 1;
  ping.latency_sum_us = 11000050;
  snapshot.totals.methods[kUnknownMethod].calls[3] = 2;
  snapshot.totals.bytes_in = 123;
  snapshot.totals.bytes_out = 456;
  snapshot.workers_booting = 1;
  snapshot.workers_ready = 2;
  snapshot.workers_draining = 0;
  snapshot.connections = 5;
  snapshot.restarts_by_reason["killed"] = 1;
  snapshot.version = "0.1.0";
  snapshot.thrift_version = "0.17.0";

  const std::string expected =
      "# HELP thriftd_workers Worker processes by state.\n"
      "# TYPE thriftd_workers gauge\n"
      "thriftd_workers{state=\"booting\"} 1\n"
      "thriftd_workers{state=\"ready\"} 2\n"
      "thriftd_workers{state=\"draining\"} 0\n"
      "# HELP thriftd_requests_total Thrift calls served, by service, method and outcome.\n"
      "# TYPE thriftd_requests_total counter\n"
      "thriftd_requests_total{service=\"Svc\",method=\"Svc.ping\",outcome=\"ok\"} 3\n"
      "thriftd_requests_total{service=\"Svc\",method=\"Svc.ping\",outcome=\"declared_exception\"} "
      "1\n"
      "thriftd_requests_total{service=\"Svc\",method=\"Svc.ping\",outcome=\"application_"
      "exception\"} 0\n"
      "thriftd_requests_total{service=\"Svc\",method=\"Svc.ping\",outcome=\"protocol_error\"} 0\n"
      "thriftd_requests_total{method=\"unknown\",outcome=\"ok\"} 0\n"
      "thriftd_requests_total{method=\"unknown\",outcome=\"declared_exception\"} 0\n"
      "thriftd_requests_total{method=\"unknown\",outcome=\"application_exception\"} 0\n"
      "thriftd_requests_total{method=\"unknown\",outcome=\"protocol_error\"} 2\n"
      "# HELP thriftd_request_errors_total Thrift calls that did not end in a normal reply, by "
      "service and method.\n"
      "# TYPE thriftd_request_errors_total counter\n"
      "thriftd_request_errors_total{service=\"Svc\",method=\"Svc.ping\"} 1\n"
      "thriftd_request_errors_total{method=\"unknown\"} 2\n"
      "# HELP thriftd_request_duration_seconds Time to serve a Thrift call, by service and "
      "method.\n"
      "# TYPE thriftd_request_duration_seconds histogram\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.0001\"} "
      "1\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.00025\"} "
      "1\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.0005\"} "
      "1\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.001\"} "
      "3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.0025\"} "
      "3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.005\"} "
      "3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.01\"} 3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.025\"} "
      "3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.05\"} 3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.1\"} 3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.25\"} 3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"0.5\"} 3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"1\"} 3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"2.5\"} 3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"10\"} 3\n"
      "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.ping\",le=\"+Inf\"} 4\n"
      "thriftd_request_duration_seconds_sum{service=\"Svc\",method=\"Svc.ping\"} 11.00005\n"
      "thriftd_request_duration_seconds_count{service=\"Svc\",method=\"Svc.ping\"} 4\n"
      "# HELP thriftd_connections Client connections held by the workers.\n"
      "# TYPE thriftd_connections gauge\n"
      "thriftd_connections 5\n"
      "# HELP thriftd_received_bytes_total Bytes read from clients.\n"
      "# TYPE thriftd_received_bytes_total counter\n"
      "thriftd_received_bytes_total 123\n"
      "# HELP thriftd_sent_bytes_total Bytes written to clients.\n"
      "# TYPE thriftd_sent_bytes_total counter\n"
      "thriftd_sent_bytes_total 456\n"
      "# HELP thriftd_worker_restarts_total Workers replaced, by reason.\n"
      "# TYPE thriftd_worker_restarts_total counter\n"
      "thriftd_worker_restarts_total{reason=\"boot_error\"} 0\n"
      "thriftd_worker_restarts_total{reason=\"exited\"} 0\n"
      "thriftd_worker_restarts_total{reason=\"killed\"} 1\n"
      "thriftd_worker_restarts_total{reason=\"max_requests\"} 0\n"
      "thriftd_worker_restarts_total{reason=\"reload\"} 0\n"
      "thriftd_worker_restarts_total{reason=\"timeout\"} 0\n"
      "# HELP thriftd_build_info thriftd's version and the Thrift version it was built with.\n"
      "# TYPE thriftd_build_info gauge\n"
      "thriftd_build_info{version=\"0.1.0\",thrift_version=\"0.17.0\"} 1\n";
  CHECK(RenderPrometheus(snapshot) == expected);
}

TEST_CASE("the latency histogram is cumulative and ends with +Inf equal to the count") {
  MetricsSnapshot snapshot;
  MethodTotals& get = snapshot.totals.methods["KeyValue.get"];
  for (int i = 0; i < kLatencyBuckets; ++i) get.latency_buckets[i] = 1;  // one call per bucket
  get.latency_sum_us = 250;
  std::string text = RenderPrometheus(snapshot);
  const std::string bucket =
      "thriftd_request_duration_seconds_bucket{service=\"KeyValue\",method=\"KeyValue.get\",";
  CHECK(Contains(text, bucket + "le=\"0.0001\"} 1\n"));
  CHECK(Contains(text, bucket + "le=\"0.00025\"} 2\n"));
  CHECK(Contains(text, bucket + "le=\"0.001\"} 4\n"));
  CHECK(Contains(text, bucket + "le=\"10\"} 15\n"));
  CHECK(Contains(text, bucket + "le=\"+Inf\"} 16\n"));
  CHECK(Contains(text,
                 "thriftd_request_duration_seconds_sum{service=\"KeyValue\",method=\"KeyValue."
                 "get\"} 0.00025\n"));
  CHECK(Contains(
      text,
      "thriftd_request_duration_seconds_count{service=\"KeyValue\",method=\"KeyValue.get\"} 16\n"));
}

TEST_CASE("a method that has not been called keeps all its series at 0") {
  MetricsSnapshot snapshot;
  snapshot.totals.methods["Svc.idle"];
  std::string text = RenderPrometheus(snapshot);
  for (const char* outcome :
       {"ok", "declared_exception", "application_exception", "protocol_error"}) {
    CHECK(Contains(
        text, std::string("thriftd_requests_total{service=\"Svc\",method=\"Svc.idle\",outcome=\"") +
                  outcome + "\"} 0\n"));
  }
  CHECK(Contains(text, "thriftd_request_errors_total{service=\"Svc\",method=\"Svc.idle\"} 0\n"));
  CHECK(Contains(text,
                 "thriftd_request_duration_seconds_bucket{service=\"Svc\",method=\"Svc.idle\",le="
                 "\"+Inf\"} 0\n"));
  CHECK(Contains(
      text, "thriftd_request_duration_seconds_count{service=\"Svc\",method=\"Svc.idle\"} 0\n"));
}

TEST_CASE("a named service's calls carry its name as the service label") {
  MetricsSnapshot snapshot;
  snapshot.totals.methods["kv:KeyValue.get"].calls[0] = 2;
  snapshot.totals.methods["admin:Admin.clear"].calls[1] = 1;
  std::string text = RenderPrometheus(snapshot);
  CHECK(Contains(
      text, "thriftd_requests_total{service=\"kv\",method=\"KeyValue.get\",outcome=\"ok\"} 2\n"));
  CHECK(
      Contains(text, "thriftd_request_errors_total{service=\"admin\",method=\"Admin.clear\"} 1\n"));
  CHECK(Contains(text,
                 "thriftd_request_duration_seconds_count{service=\"kv\",method=\"KeyValue.get\"} "
                 "0\n"));
}

TEST_CASE("label values escape backslash, double quote and newline") {
  CHECK(EscapeLabelValue("plain.name") == "plain.name");
  CHECK(EscapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");

  MetricsSnapshot snapshot;
  snapshot.totals.methods["Svc.\"odd\"\n"].calls[0] = 1;
  snapshot.version = "1.0\\beta";
  std::string text = RenderPrometheus(snapshot);
  CHECK(Contains(
      text,
      "thriftd_requests_total{service=\"Svc\",method=\"Svc.\\\"odd\\\"\\n\",outcome=\"ok\"} 1\n"));
  CHECK(Contains(text, "thriftd_build_info{version=\"1.0\\\\beta\",thrift_version=\"\"} 1\n"));
}

TEST_CASE("restart reasons: the known ones at 0, others as counted") {
  MetricsSnapshot snapshot;
  snapshot.restarts_by_reason["timeout"] = 4;
  snapshot.restarts_by_reason["oom"] = 1;
  std::string text = RenderPrometheus(snapshot);
  for (const char* reason : kRestartReasons) {
    std::string expected = std::string(reason) == "timeout" ? "4" : "0";
    CHECK(Contains(text, std::string("thriftd_worker_restarts_total{reason=\"") + reason + "\"} " +
                             expected + "\n"));
  }
  CHECK(Contains(text, "thriftd_worker_restarts_total{reason=\"oom\"} 1\n"));
}

TEST_CASE("an empty snapshot still names every metric family") {
  std::string text = RenderPrometheus(MetricsSnapshot{});
  for (const char* family :
       {"thriftd_workers gauge", "thriftd_requests_total counter",
        "thriftd_request_errors_total counter", "thriftd_request_duration_seconds histogram",
        "thriftd_connections gauge", "thriftd_received_bytes_total counter",
        "thriftd_sent_bytes_total counter", "thriftd_worker_restarts_total counter",
        "thriftd_build_info gauge"}) {
    CHECK(Contains(text, std::string("# TYPE ") + family + "\n"));
  }
}

TEST_CASE("health: ok, degraded while fewer serve than wanted, unavailable, stopping") {
  HealthSnapshot health{false, 2, 2, 3};
  HealthReport report = RenderHealth(health);
  CHECK(report.serving);
  CHECK(report.body ==
        "{\"status\": \"ok\", \"workers_ready\": 2, \"workers_wanted\": 2, \"generation\": 3, "
        "\"listeners\": []}\n");
  health.workers_ready = 1;  // a replacement cannot start: still sent traffic
  report = RenderHealth(health);
  CHECK(report.serving);
  CHECK(report.body.find("\"status\": \"degraded\", \"workers_ready\": 1, \"workers_wanted\": 2") !=
        std::string::npos);
  health.workers_ready = 0;
  report = RenderHealth(health);
  CHECK_FALSE(report.serving);
  CHECK(report.body.find("\"status\": \"unavailable\"") != std::string::npos);
  health = {true, 2, 2, 3};
  report = RenderHealth(health);
  CHECK_FALSE(report.serving);
  CHECK(report.body.find("\"status\": \"stopping\"") != std::string::npos);
}

TEST_CASE("health lists the listeners: as configured, where they listen, the TCP port") {
  HealthSnapshot health{false, 1, 1, 1};
  health.listeners = {{"127.0.0.1:9000-9100", "127.0.0.1:9003", 9003},
                      {"unix:/run/a \"b\".sock", "unix:/run/a \"b\".sock", 0}};
  CHECK(RenderHealth(health).body ==
        "{\"status\": \"ok\", \"workers_ready\": 1, \"workers_wanted\": 1, \"generation\": 1, "
        "\"listeners\": [{\"address\": \"127.0.0.1:9000-9100\", \"listening\": \"127.0.0.1:9003\", "
        "\"port\": 9003}, {\"address\": \"unix:/run/a \\\"b\\\".sock\", "
        "\"listening\": \"unix:/run/a \\\"b\\\".sock\"}]}\n");
}

}  // namespace
}  // namespace thriftd
