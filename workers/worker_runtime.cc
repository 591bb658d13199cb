#include "workers/worker_runtime.h"

#include <unistd.h>

#include <time.h>

#include <cmath>
#include <cstring>
#include <unordered_map>

#include "src/base/channel.h"
#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/base/unique_fd.h"
#include "workers/accept.h"
#include "workers/connection.h"

namespace thriftd {
namespace {

constexpr std::int64_t kBackoffMs = 100;  // after EMFILE, before accepting again
constexpr std::int64_t kProgressHeartbeatMs = 100;

}  // namespace

WorkerRuntime::WorkerRuntime(Options options) : options_(std::move(options)) {
  if (!options_.access_log.empty()) {
    // Validated with the configuration; a failure here is a broken config file.
    (void)AccessLogFormat::Parse(options_.access_log_format, &access_format_);
    if (options_.access_log == "-") {
      access_fd_ = STDOUT_FILENO;
    } else {
      Status status = ReopenAppendFile(options_.access_log, &access_fd_);
      if (!status.ok()) THRIFTD_LOG(kError) << "access log: " << status.message();
    }
  }
}

int WorkerRuntime::timeout_ms() const {
  return client_timeout > 0 ? static_cast<int>(std::ceil(client_timeout * 1000)) : -1;
}

int WorkerRuntime::Accept(int listen_fd) {
  int fd = -1;
  switch (AcceptConnection(listen_fd, &fd)) {
    case AcceptResult::kAccepted:
      return fd;
    case AcceptResult::kOutOfDescriptors:
      out_of_descriptors_until_ms_ = CoarseMonotonicMillis() + kBackoffMs;
      return -1;
    case AcceptResult::kNone:
      return -1;
  }
  return -1;
}

bool WorkerRuntime::ShouldAccept(int held) {
  if (stop_requested() || retiring() || held >= worker_connections) return false;
  if (out_of_descriptors_until_ms_ != 0) {
    if (CoarseMonotonicMillis() < out_of_descriptors_until_ms_) return false;
    out_of_descriptors_until_ms_ = 0;
  }
  // Take a connection only while holding not much more than the other
  // workers do on average: a persistent connection stays where it lands, so
  // whoever wakes first must not take them all. The slack lets workers
  // leapfrog through a burst instead of waiting on each other one by one,
  // while keeping every worker within about 1.25x of the others.
  const Scoreboard& board = *options_.scoreboard;
  std::int64_t others = 0;
  std::int64_t total = 0;
  for (int i = 0, limit = board.slot_limit(); i < limit; ++i) {
    if (i == options_.slot) continue;
    const ScoreboardSlot& s = board.slot(i);
    if (s.pid.load(std::memory_order_relaxed) == 0 || s.Load() != SlotState::kReady) continue;
    std::int32_t held_there = s.connections.load(std::memory_order_relaxed);
    if (held_there >= s.connection_limit.load(std::memory_order_relaxed)) continue;  // full
    total += held_there;
    ++others;
  }
  if (others == 0) return true;
  // held < 1.25 * average + 2, in integers.
  return 4 * held * others < 5 * total + 8 * others;
}

std::unique_ptr<ThriftConnection> WorkerRuntime::OpenConnection(int fd) {
  try {
    return std::make_unique<Connection>(fd, *this);
  } catch (const std::exception& error) {
    THRIFTD_LOG(kError) << "cannot serve a connection: the App's processor factory threw: "
                        << error.what();
    ::close(fd);
    return nullptr;
  }
}

void WorkerRuntime::Heartbeat() {
  slot().heartbeat_ms.store(CoarseMonotonicMillis(), std::memory_order_relaxed);
  if (options_.stop->TakeReopenRequest()) {
    Status status = log::Reopen();
    if (!status.ok()) THRIFTD_LOG(kError) << "cannot reopen the error log: " << status.message();
    if (access_fd_ >= 0 && options_.access_log != "-") {
      status = ReopenAppendFile(options_.access_log, &access_fd_);
      if (!status.ok()) THRIFTD_LOG(kError) << "cannot reopen the access log: " << status.message();
    }
  }
}

void WorkerRuntime::ReportConnections(int held) {
  slot().connections.store(held, std::memory_order_relaxed);
}

void WorkerRuntime::Log(const char* level, const std::string& message) {
  log::Write(ParseLogLevel(level).value_or(LogLevel::kInfo), message);
}

void WorkerRuntime::ReadChannel() {
  ChannelMessage message;
  for (;;) {
    ChannelRead result = ReceiveChannelMessage(options_.channel_fd, &message);
    if (result == ChannelRead::kEmpty) return;
    if (result == ChannelRead::kClosed) {
      // The master is gone: nobody supervises this worker any more.
      if (!stop_requested()) THRIFTD_LOG(kWarning) << "master is gone; stopping";
      options_.stop->RequestStop();
      return;
    }
    if (message.kind == kChannelHandOver) hand_over_ = true;
    if (message.passed.valid()) adopted_.push_back(message.passed.Release());
  }
}

std::unique_ptr<ThriftConnection> WorkerRuntime::AdoptConnection() {
  ReadChannel();
  while (!adopted_.empty()) {
    int fd = adopted_.front();
    adopted_.erase(adopted_.begin());
    std::unique_ptr<ThriftConnection> connection = OpenConnection(fd);
    if (connection) return connection;
  }
  return nullptr;
}

bool WorkerRuntime::HandOver(ThriftConnection& connection) {
  ReadChannel();  // The hand-over request arrives just before the stop.
  if (!hand_over_) return false;
  // Only connections thriftd made are handed to a kind.
  auto& ours = static_cast<Connection&>(connection);
  UniqueFd fd(ours.ReleaseFd());
  if (!fd.valid()) return false;
  Status status = SendChannelMessage(options_.channel_fd, kChannelConnection, {}, fd.get());
  if (!status.ok()) {
    THRIFTD_LOG(kWarning) << "cannot hand a connection over: " << status.message();
    return true;  // The descriptor is gone either way; `fd` closes it.
  }
  return true;
}

void WorkerRuntime::OnCallStart(const char* method, std::int64_t started_ns) {
  ScoreboardSlot& s = slot();
  // For the worker's own report if the master finds it hung (SIGABRT).
  s.current_method.store(method, std::memory_order_relaxed);
  s.call_started_ms.store(started_ns / 1000000, std::memory_order_relaxed);
}

MethodStats* WorkerRuntime::StatsFor(const char* method) {
  // Processors name methods with string literals: the pointer is a stable
  // key, so each thread looks a method up once.
  thread_local std::unordered_map<const char*, MethodStats*> cache;
  thread_local const WorkerRuntime* cache_owner = nullptr;
  if (cache_owner != this) {  // one runtime per process, but say so
    cache.clear();
    cache_owner = this;
  }
  auto cached = cache.find(method);
  if (cached != cache.end()) return cached->second;
  ScoreboardSlot& s = slot();
  MethodStats* found = nullptr;
  for (MethodStats& entry : s.methods) {
    std::uint32_t used = entry.used.load(std::memory_order_acquire);
    if (used == 1 && std::strncmp(entry.name, method, sizeof entry.name) == 0) {
      found = &entry;
      break;
    }
    if (used == 0) {
      std::uint32_t expected = 0;
      // 2: being claimed by another thread of this worker; skip it.
      if (!entry.used.compare_exchange_strong(expected, 2, std::memory_order_acq_rel)) continue;
      std::strncpy(entry.name, method, sizeof entry.name - 1);
      entry.used.store(1, std::memory_order_release);
      found = &entry;
      break;
    }
  }
  cache.emplace(method, found);
  return found;
}

void WorkerRuntime::RecordCall(const char* method, CallRecord& call, const ConnectionSocket& socket,
                               std::int64_t now_ns) {
  ScoreboardSlot& s = slot();
  int outcome = static_cast<int>(call.outcome);
  MethodStats* stats = method != nullptr ? StatsFor(method) : nullptr;
  if (stats != nullptr) {
    stats->calls[outcome].fetch_add(1, std::memory_order_relaxed);
    int bucket = 0;
    while (bucket < kLatencyBuckets - 1 && call.duration_us > kLatencyBoundsUs[bucket]) ++bucket;
    stats->latency_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    stats->latency_sum_us.fetch_add(static_cast<std::uint64_t>(call.duration_us),
                                    std::memory_order_relaxed);
  } else {
    s.unlisted_calls[outcome].fetch_add(1, std::memory_order_relaxed);
  }
  s.call_started_ms.store(0, std::memory_order_relaxed);
  // A call completed: the worker is alive, even when no thread is free to
  // report it otherwise (a pool kept busy by pipelining clients).
  std::int64_t now_ms = now_ns / 1000000;
  if (now_ms - s.heartbeat_ms.load(std::memory_order_relaxed) >= kProgressHeartbeatMs)
    s.heartbeat_ms.store(now_ms, std::memory_order_relaxed);
  s.requests.fetch_add(1, std::memory_order_relaxed);
  if (call.outcome != CallOutcome::kOk) s.errors.fetch_add(1, std::memory_order_relaxed);
  s.bytes_in.fetch_add(call.bytes_in, std::memory_order_relaxed);
  s.bytes_out.fetch_add(call.bytes_out, std::memory_order_relaxed);

  if (access_fd_ >= 0) {
    std::string peer = socket.getOrigin();
    call.peer = peer;
    call.pid = getpid();
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    WriteLine(access_fd_,
              access_format_.Format(
                  call, static_cast<std::int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000));
  }

  std::uint64_t calls = calls_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (options_.max_requests > 0 && calls == static_cast<std::uint64_t>(options_.max_requests)) {
    retiring_.store(true, std::memory_order_relaxed);
    THRIFTD_LOG(kInfo) << "Worker reached max_requests (" << calls
                       << "); asking the master for a successor";
    (void)SendChannelMessage(options_.channel_fd, kChannelRetire);
  }
}

}  // namespace thriftd
