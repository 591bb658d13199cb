#include "workers/worker_runtime.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "src/base/channel.h"
#include "src/base/clock.h"
#include "src/base/log.h"
#include "workers/accept.h"
#include "workers/poll_waiter.h"

namespace thriftd {
namespace {

constexpr std::int64_t kBackoffMs = 100;  // after EMFILE, before accepting again
constexpr std::int64_t kProgressHeartbeatMs = 100;

// Runtimes made so far: names each one, even where an earlier one was.
std::atomic<std::uint64_t> runtimes_made{0};

}  // namespace

WorkerRuntime::WorkerRuntime(Options options)
    : options_(std::move(options)),
      connection_limit_(static_cast<int>(options_.settings.worker_connections)),
      hand_over_(options_.channel_fd),
      serial_(runtimes_made.fetch_add(1) + 1) {
  const WorkerSettings& settings = options_.settings;
  if (settings.accesslog.empty()) return;
  // Validated with the configuration; a failure here is a broken config file.
  (void)AccessLogFormat::Parse(settings.access_log_format, &access_format_);
  if (settings.accesslog == "-") {
    access_fd_ = STDOUT_FILENO;
    return;
  }
  Status status = ReopenAppendFile(settings.accesslog, &access_fd_);
  if (!status.ok()) THRIFTD_LOG(kError) << "access log: " << status.message();
}

void WorkerRuntime::LimitConnections(int most) {
  if (most >= 1 && most < connection_limit_) connection_limit_ = most;
}

// --- accepting ----------------------------------------------------------------

int WorkerRuntime::Accept(int listen_fd) {
  const std::vector<int>& fds = options_.listen_fds;
  auto found = std::find(fds.begin(), fds.end(), listen_fd);
  std::size_t index = found == fds.end() ? 0 : static_cast<std::size_t>(found - fds.begin());
  int fd = AcceptOn(listen_fd);
  if (fd >= 0) {
    std::lock_guard<std::mutex> lock(accepted_lock_);
    accepted_from_[fd] = index;
  }
  return fd;
}

int WorkerRuntime::AcceptFrom(std::size_t index) { return AcceptOn(options_.listen_fds.at(index)); }

int WorkerRuntime::AcceptOn(int listen_fd) {
  int fd = -1;
  int error = 0;
  switch (AcceptConnection(listen_fd, &fd, &error)) {
    case AcceptResult::kAccepted:
      if (out_of_descriptors_logged_.load(std::memory_order_relaxed) &&
          out_of_descriptors_logged_.exchange(false))
        THRIFTD_LOG(kInfo) << "accept: accepting again";
      return fd;
    case AcceptResult::kOutOfDescriptors:
      out_of_descriptors_until_ms_.store(MonotonicMillis() + kBackoffMs, std::memory_order_relaxed);
      // Once while it lasts: each listener, every kBackoffMs, would say it again.
      if (!out_of_descriptors_logged_.exchange(true)) {
        THRIFTD_LOG(kError) << "accept: " << std::strerror(error)
                            << "; backing off until descriptors are free";
      }
      return -1;
    case AcceptResult::kNone:
      return -1;
  }
  return -1;
}

bool WorkerRuntime::ShouldAccept(int held) {
  if (stop_requested() || retiring() || held >= connection_limit_) return false;
  std::int64_t backoff_until = out_of_descriptors_until_ms_.load(std::memory_order_relaxed);
  if (backoff_until != 0) {
    if (MonotonicMillis() < backoff_until) return false;
    out_of_descriptors_until_ms_.store(0, std::memory_order_relaxed);
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

std::unique_ptr<Connection> WorkerRuntime::NewConnection(UniqueFd fd, std::size_t listener,
                                                         std::string_view carried, bool adopted) {
  const ServedListener& served = options_.listeners.at(listener);
  std::unique_ptr<TlsSession> tls;
  if (served.tls != nullptr && !adopted) {
    Status status = TlsSession::Create(*served.tls, fd.get(), &tls);
    if (!status.ok()) {
      THRIFTD_LOG(kError) << "cannot serve a connection over TLS: " << status.message();
      return nullptr;
    }
  }
  try {
    return std::make_unique<Connection>(std::move(fd), *this, served, carried, std::move(tls));
  } catch (const std::exception& error) {
    THRIFTD_LOG(kError) << "cannot serve a connection: the App's processor factory threw: "
                        << error.what();
    return nullptr;
  }
}

bool WorkerRuntime::tls_handshake_deadlines() const {
  return std::any_of(
      options_.listeners.begin(), options_.listeners.end(), [](const ServedListener& listener) {
        return listener.tls != nullptr && listener.settings.tls_handshake_timeout > 0;
      });
}

std::unique_ptr<ThriftConnection> WorkerRuntime::OpenConnection(int fd) {
  std::size_t listener = 0;  // an fd not from Accept(): the first listener's settings
  {
    std::lock_guard<std::mutex> lock(accepted_lock_);
    if (auto it = accepted_from_.find(fd); it != accepted_from_.end()) {
      listener = it->second;
      accepted_from_.erase(it);
    }
  }
  return NewConnection(UniqueFd(fd), listener);
}

// --- liveness and logs --------------------------------------------------------

void WorkerRuntime::Heartbeat() {
  slot().heartbeat_ms.store(CoarseMonotonicMillis(), std::memory_order_relaxed);
  if (!options_.stop->TakeReopenRequest()) return;
  Status status = log::Reopen();
  if (!status.ok()) THRIFTD_LOG(kError) << "cannot reopen the error log: " << status.message();
  if (access_fd_ >= 0 && options_.settings.accesslog != "-") {
    status = ReopenAppendFile(options_.settings.accesslog, &access_fd_);
    if (!status.ok()) THRIFTD_LOG(kError) << "cannot reopen the access log: " << status.message();
  }
}

void WorkerRuntime::ReportConnections(int held) {
  slot().connections.store(held, std::memory_order_relaxed);
}

void WorkerRuntime::Log(const char* level, const std::string& message) {
  log::Write(ParseLogLevel(level).value_or(LogLevel::kInfo), message);
}

std::unique_ptr<IoWaiter> WorkerRuntime::MakeBlockingWaiter() {
  return std::make_unique<PollWaiter>(*this);
}

// --- hand-over ----------------------------------------------------------------

bool WorkerRuntime::PollChannel() {
  if (hand_over_.ReadChannel()) return true;
  // The master is gone: nobody supervises this worker any more.
  if (!stop_requested()) THRIFTD_LOG(kWarning) << "master is gone; stopping";
  options_.stop->RequestStop();
  return false;
}

std::unique_ptr<Connection> WorkerRuntime::TakeAdopted() {
  HandOverChannel::Incoming incoming;
  while (hand_over_.TakeIncoming(&incoming)) {
    // Found by key, not by position: across a binary upgrade the other
    // master may list its listeners in another order.
    const std::vector<ServedListener>& listeners = options_.listeners;
    auto found = std::find_if(listeners.begin(), listeners.end(), [&](const ServedListener& l) {
      return l.settings.key == incoming.listener;
    });
    if (found == listeners.end()) {
      THRIFTD_LOG(kWarning) << "a connection handed over from listener " << incoming.listener
                            << ", which this worker does not serve; closing it";
      continue;
    }
    std::unique_ptr<Connection> connection =
        NewConnection(std::move(incoming.fd), static_cast<std::size_t>(found - listeners.begin()),
                      incoming.carried, /*adopted=*/true);
    if (connection) return connection;
  }
  return nullptr;
}

std::unique_ptr<ThriftConnection> WorkerRuntime::AdoptConnection() {
  PollChannel();
  return TakeAdopted();
}

bool WorkerRuntime::HandOverConnection(Connection& connection) {
  if (!hand_over_requested() || !connection.CanHandOver()) return false;
  std::string carried;
  UniqueFd fd = connection.ReleaseForHandOver(&carried);
  Status status = hand_over_.Give(std::move(fd), connection.listener().key, carried);
  if (!status.ok()) THRIFTD_LOG(kWarning) << status.message();
  return status.ok();
}

bool WorkerRuntime::HandOver(ThriftConnection& connection) {
  PollChannel();  // the hand-over request arrives just before the stop
  // Only a connection thriftd made can travel: checked, a kind may pass anything.
  auto* ours = dynamic_cast<Connection*>(&connection);
  if (ours == nullptr) {
    THRIFTD_LOG(kError) << "HandOver: not a connection from OpenConnection or AdoptConnection";
    return false;
  }
  return HandOverConnection(*ours);
}

// --- calls --------------------------------------------------------------------

void WorkerRuntime::OnCallStart(const char* method, std::int64_t started_ns) {
  ScoreboardSlot& s = slot();
  // For the worker's own report if the master finds it hung (SIGABRT).
  // Release: a named service's method name is built at run time (ServiceTag),
  // and the hang report may be written by another thread.
  s.current_method.store(method, std::memory_order_release);
  s.call_started_ms.store(started_ns / 1000000, std::memory_order_relaxed);
}

MethodStats* WorkerRuntime::StatsFor(const char* method) {
  // Processors name methods with string literals: the pointer is a stable
  // key, so each thread looks a method up once.
  thread_local std::unordered_map<const char*, MethodStats*> cache;
  thread_local std::uint64_t cache_owner = 0;
  // One runtime per process, but say so: by serial, as another made later
  // may have this one's address.
  if (cache_owner != serial_) {
    cache.clear();
    cache_owner = serial_;
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

void WorkerRuntime::RecordCall(const char* method, CallRecord& call, const Connection& connection,
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
    std::string peer = connection.Peer();
    call.peer = peer;
    call.pid = getpid();
    call.tls_subject = connection.tls_subject();
    WriteLine(access_fd_, access_format_.Format(call, WallClockMicros()));
  }

  std::uint64_t calls = calls_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (options_.max_requests > 0 && calls == static_cast<std::uint64_t>(options_.max_requests)) {
    retiring_.store(true, std::memory_order_relaxed);
    THRIFTD_LOG(kInfo) << "Worker reached max_requests (" << calls
                       << "); asking the master for a successor";
    Status status = SendChannelMessage(options_.channel_fd, kChannelRetire);
    if (!status.ok()) THRIFTD_LOG(kWarning) << status.message();
  }
}

}  // namespace thriftd
