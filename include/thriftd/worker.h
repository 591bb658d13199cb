// thriftd/worker.h: what a worker kind implements, and what thriftd gives it.
//
// A worker kind is a strategy for serving connections in one worker process:
// `sync`, `thread` and `fiber` are built in; a custom kind is a class deriving
// thriftd::Worker in a shared object, exported with THRIFTD_WORKER(Class) and
// selected with `-k PATH.so[:NAME]`.
//
// Lifecycle, as gunicorn's Worker:
//   - the kind object is constructed in the master, before fork();
//   - InitProcess(context) runs in the worker process after fork, once the App
//     has started; a failure there is a boot error (thriftd stops, or a reload
//     is abandoned);
//   - Run(context) serves until context.stop_requested() and the connections
//     in flight have finished (on a quick stop, as soon as the thread that
//     called it is out of any handler), then returns; the App's OnWorkerExit
//     runs and the worker process exits.
//
// A kind never parses Thrift itself: context.OpenConnection(fd) gives a
// ThriftConnection that serves messages with the configured transport,
// protocol, limits and the App's processor. The kind decides where connections
// wait and which thread or fiber serves them.
#ifndef THRIFTD_WORKER_H_
#define THRIFTD_WORKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace thriftd {

/// Bumped whenever Worker, WorkerContext, ThriftConnection, IoWaiter or
/// WorkerEntry change layout.
inline constexpr std::uint32_t kWorkerAbiVersion = 3;

/// How a connection waits for its socket when a turn could not finish: for
/// the rest of a message, for the client to read a reply, or (between
/// messages) for the next message. WorkerContext::MakeBlockingWaiter() gives
/// one that blocks the calling thread in poll().
class IoWaiter {
 public:
  enum class Result {
    kReady,    ///< the fd has the events asked for (or an error to find by reading)
    kTimeout,  ///< timeout_ms passed
    /// A stop arrived. Between messages, any stop (Serve returns kIdle);
    /// inside a message, only a quick one (Serve closes the connection and
    /// returns kClosed).
    kStop,
    kIdle,  ///< between messages: hand the connection back instead of waiting
  };
  virtual ~IoWaiter() = default;
  /// Waits until `fd` has `events` (POLLIN / POLLOUT) or `timeout_ms` passes
  /// (-1: no limit). `between_messages` is true when nothing of a new message
  /// has arrived and nothing is left to send: only then may a waiter answer
  /// kIdle, or kStop for a graceful stop (a message that has started
  /// finishes, unless the stop is a quick one).
  virtual Result Wait(int fd, short events, int timeout_ms, bool between_messages) = 0;
};

/// One accepted connection with its Thrift transport, protocol and processor.
/// Used by one thread at a time; may move between threads between Serve()s.
class ThriftConnection {
 public:
  enum class Outcome {
    kIdle,  ///< at a message boundary, nothing buffered: wait until readable, Serve() again
    /// Finished (peer closed, error, limit, timeout): unregister the fd from
    /// any poller, then destroy the connection, which closes it (so a new
    /// connection cannot reuse the number while it is still registered).
    kClosed,
  };
  virtual ~ThriftConnection() = default;
  virtual int fd() const = 0;
  /// Serves messages as they arrive, waiting through `waiter` whenever it
  /// must; returns kIdle when the waiter answers kIdle or kStop between
  /// messages, and kClosed (having closed it) when it answers kStop inside
  /// one. The processor runs only on a message that arrived whole.
  virtual Outcome Serve(IoWaiter& waiter) = 0;
  /// The method being served ("Service.method", a string with static
  /// storage), or nullptr between calls. Safe to call from another thread
  /// while the connection lives; for watchdog messages.
  virtual const char* CurrentMethod() const = 0;
};

/// What thriftd gives a worker kind in the worker process.
///
/// Threads: the settings, Heartbeat(), ReportConnections(), calls_served(),
/// the stop state, OpenConnection(), MakeBlockingWaiter() and Log() may be
/// called from any thread. Accept(), ShouldAccept(), AdoptConnection() and
/// HandOver() share the worker's accept and channel state: call them from
/// one thread at a time (a kind with several threads serialises them).
class WorkerContext {
 public:
  virtual ~WorkerContext() = default;

  // Settings (read-only).
  virtual int worker_index() const = 0;                    ///< 0 .. workers-1
  virtual const std::vector<int>& listen_fds() const = 0;  ///< inherited, non-blocking, shared
  virtual int threads() const = 0;                         ///< `threads`
  /// The most connections this worker holds at once: `worker_connections`,
  /// or less after LimitConnections().
  virtual int worker_connections() const = 0;
  virtual double client_timeout() const = 0;         ///< seconds idle between messages; 0 = never
  virtual double graceful_timeout() const = 0;       ///< seconds calls may take at a stop
  virtual double fiber_check_interval() const = 0;   ///< seconds a handler may block a loop
  virtual std::size_t fiber_stack_size() const = 0;  ///< bytes per fiber stack
  /// In InitProcess() only: this kind holds at most `most` connections at
  /// once (the sync kind: 1), so balancing and hand-over count it as full.
  virtual void LimitConnections(int most) = 0;

  /// Accepts one connection from `listen_fd` as a non-blocking fd. Returns
  /// -1 when there is none (a race lost to another worker is normal) or
  /// when descriptors ran out (then the kind should back off briefly).
  virtual int Accept(int listen_fd) = 0;
  /// Whether this worker should accept more, holding `held` connections:
  /// false at worker_connections(), while a stop is under way, and while
  /// it holds more than its share compared with the other workers
  /// (persistent connections make an imbalance permanent). Re-ask when
  /// connections close, or on a short timer.
  virtual bool ShouldAccept(int held) = 0;
  /// Wraps an accepted fd (ownership passes to the connection). nullptr
  /// (the fd closed, the reason logged) when the App's processor factory threw.
  virtual std::unique_ptr<ThriftConnection> OpenConnection(int fd) = 0;

  /// The liveness signal: call from the loop at least every second or so.
  virtual void Heartbeat() = 0;
  /// Reports how many connections the worker holds (for balancing, metrics).
  virtual void ReportConnections(int held) = 0;
  /// Calls answered so far by this worker.
  virtual std::uint64_t calls_served() const = 0;

  /// Readable once a stop was requested (never drained).
  virtual int stop_fd() const = 0;
  virtual bool stop_requested() const = 0;
  /// The stop is a quick one (INT, QUIT): return from Run() at once, without
  /// waiting for calls in flight; the process ends one second after the
  /// first INT or QUIT anyway.
  virtual bool quick_stop_requested() const = 0;

  // Connection hand-over. A worker being replaced (reload, TTOU,
  // max_requests) gives its idle connections to the workers that stay
  // instead of closing them, so persistent clients never see the restart.
  /// Readable when the master sent something: watch it with the listeners.
  virtual int channel_fd() const = 0;
  /// A connection handed over by another worker (wait until it is readable,
  /// then Serve()), or nullptr when none is waiting. Non-blocking.
  virtual std::unique_ptr<ThriftConnection> AdoptConnection() = 0;
  /// While stopping: passes a connection whose Serve() returned kIdle to a
  /// successor. True when it went: destroy the now empty connection. False
  /// (thriftd is stopping, no successor, or not a connection thriftd made):
  /// close it.
  virtual bool HandOver(ThriftConnection& connection) = 0;

  /// A waiter that blocks the calling thread in poll(): it also wakes for a
  /// stop (kStop), between messages any stop and inside one a quick one, and
  /// it heartbeats while it waits, so a worker waiting on a quiet client is
  /// alive.
  virtual std::unique_ptr<IoWaiter> MakeBlockingWaiter() = 0;
  /// Writes one line to the error log, `level` as in --log-level.
  virtual void Log(const char* level, const std::string& message) = 0;
};

class Worker {
 public:
  virtual ~Worker() = default;
  /// In the worker process after fork, once the App started. Return false
  /// with *error set to fail the boot.
  virtual bool InitProcess(WorkerContext& context, std::string* error) = 0;
  /// Serves until a stop was requested and calls in flight finished.
  virtual void Run(WorkerContext& context) = 0;
};

/// The exported entry point of a custom kind.
struct WorkerEntry {
  std::uint32_t abi_version;
  const char* name;
  Worker* (*create)();
};

}  // namespace thriftd

/// Exports Class as a worker kind, found as `-k PATH.so:Class` or `-k PATH.so`.
#define THRIFTD_WORKER(Class)                                                                    \
  extern "C" __attribute__((visibility("default")))                                              \
  const ::thriftd::WorkerEntry thriftd_worker_##Class = {                                        \
      ::thriftd::kWorkerAbiVersion, #Class, []() -> ::thriftd::Worker* { return new Class(); }}; \
  extern "C" __attribute__((visibility("default"), weak))                                        \
  const ::thriftd::WorkerEntry* const thriftd_worker_default = &thriftd_worker_##Class;

#endif  // THRIFTD_WORKER_H_
