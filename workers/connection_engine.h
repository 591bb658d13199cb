// ConnectionEngine: the connection machinery the thread and fiber kinds
// share. One epoll set per worker holds the listening sockets, the stop
// pipe, the channel to the master and every connection; each connection is
// registered once, edge-triggered, for reading and writing, and lives in a
// slot table until it closes.
//
// A connection is served in turns (Connection::RunTurn): read what came,
// run the processor on each message that is there whole, send what the
// socket takes. Between turns it waits in epoll, whatever it waits for: the
// next message, the rest of one, or room to write a reply. So a slow or
// silent client costs memory (its bytes), never a thread or a fiber; a
// thread or fiber is held only while a handler runs.
//
// What a kind decides is where turns run (a Dispatcher): the thread kind
// runs each on the pool thread that took the event (leader/follower: every
// pool thread runs Run(), and LoopThreads says which of them poll); the
// fiber kind runs each in a fiber on its one loop thread, so a handler can
// park (thriftd::sleep_for).
//
// A slot's state word (generation, idle sequence, pending, busy) makes one
// claimant at a time: an event for an idle connection claims it and
// dispatches a turn; an event while it is busy marks it pending, and the
// claimant serves again before letting go. An event for a closed slot (a
// stale generation) is ignored.
//
// The engine also accepts (when WorkerContext::ShouldAccept says so, one
// connection at a time, re-asking every 5 ms while it declines), adopts
// connections other workers hand over, closes connections silent past
// thrift_client_timeout (and TLS ones whose handshake outlasts
// tls_handshake_timeout), heartbeats every 100 ms from whichever loop thread
// is free, and stops: a graceful stop closes every connection between calls
// at once (or hands over every connection that owes no reply, mid-message
// ones with their bytes), lets started messages and owed replies finish
// until graceful_timeout, then closes the rest; a quick stop returns at once. Runs in a worker:
// Run() on each loop thread, Serve() where the dispatcher runs turns.
#ifndef THRIFTD_WORKERS_CONNECTION_ENGINE_H_
#define THRIFTD_WORKERS_CONNECTION_ENGINE_H_

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/unique_fd.h"
#include "workers/connection.h"
#include "workers/loop_threads.h"
#include "workers/worker_runtime.h"

namespace thriftd {

class ConnectionEngine {
 public:
  /// Where turns run.
  class Dispatcher {
   public:
    virtual ~Dispatcher() = default;
    /// Runs engine.Serve(slot) at once: on this thread, or in a fiber of
    /// this loop thread (a turn that parks finishes later, when resumed).
    /// The slot is claimed for it.
    virtual void Dispatch(std::uint32_t slot) = 0;
    /// Destroys a connection, closing it. (The fiber kind's watchdog reads
    /// the running connection from another thread: it destroys under a lock.)
    virtual void Destroy(std::unique_ptr<Connection> connection) { connection.reset(); }
  };

  /// How the loop threads share the work (LoopThreads::Options: the
  /// defaults suit one loop thread, the fiber kind's; the thread kind sets
  /// `threads`), and the slot table's limit. Tests set the rest.
  struct Options : LoopThreads::Options {
    /// Connections held at once, at most (0: the table's own limit, 2^26,
    /// far past any worker_connections); past it a connection is closed.
    std::uint32_t max_slots = 0;
  };

  explicit ConnectionEngine(WorkerRuntime& runtime);
  ConnectionEngine(WorkerRuntime& runtime, const Options& options);
  ~ConnectionEngine();
  ConnectionEngine(const ConnectionEngine&) = delete;
  ConnectionEngine& operator=(const ConnectionEngine&) = delete;

  /// Creates the epoll set and registers the listeners, the stop pipe and
  /// the channel. A failure is the worker's boot error.
  Status Open(Dispatcher& dispatcher);
  /// Calls `on_ready` on a loop thread whenever `fd` is readable (level-
  /// triggered: the callback must drain it). For the fiber kind's timer.
  Status Watch(int fd, std::function<void()> on_ready);
  /// One loop thread: waits for up to `max_events` events at a time and
  /// handles them, until the worker has stopped and holds no connection
  /// (or at once on a quick stop). Several threads may run it together
  /// (leader/follower); then each keeps one of the events it took and
  /// shares the rest with the others at once.
  void Run(int max_events);
  /// A claimed connection's turn(s), then lets it go: idle again, closed,
  /// or handed over. Called by the dispatcher.
  void Serve(std::uint32_t slot);
  /// The connection a claimed slot holds (for the fiber watchdog).
  Connection* ConnectionAt(std::uint32_t slot);
  /// For a dispatcher that cannot run a claimed slot's turn: closes its
  /// connection (a warning saying `why`) and frees the slot.
  void Abandon(std::uint32_t slot, const std::string& why);

  /// Connections held right now.
  int held() const { return held_.load(std::memory_order_relaxed); }
  /// Run() has ended (or is ending) on every thread.
  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  struct Slot;
  Slot& At(std::uint32_t index);
  Status Register(int fd, std::uint32_t events, std::uint64_t tag, int op);

  void Handle(std::uint64_t tag, std::uint32_t events);
  void Tick(std::int64_t now_ms);
  void OnConnectionEvent(std::uint32_t index, std::uint64_t generation, std::uint32_t events);
  void OnListener(std::size_t index);
  /// Reads the channel, adopts every connection that came, and re-arms it.
  void AdoptFromChannel();
  void OnStop();
  /// Under control_: arms the listeners when the worker should accept, or
  /// the 5 ms re-check when it declines.
  void UpdateAccepting();
  /// Gives a new or adopted connection (counted in held_ already) a slot,
  /// registers it, and runs its first turn now, or (not `serve_now`) lets
  /// the event its registration brings run it.
  void Hold(std::unique_ptr<Connection> connection, bool serve_now);

  /// What a stopping worker does with a claimed connection: true when it
  /// closed it or handed it over.
  bool FinishOnStop(std::uint32_t index, Slot& slot, Connection::Phase phase);
  /// Lets a claimed connection go idle; false when an event came meanwhile
  /// (serve again).
  bool Release(std::uint32_t index, Slot& slot);
  /// Claims connections that are not busy and closes (or hands over) those
  /// silent past the client timeout, or all of them when stopping.
  void Sweep(std::int64_t now_ms);
  /// Unregisters and destroys a claimed connection (handing it over first
  /// when `hand_over`), and frees its slot.
  void Drop(std::uint32_t index, Slot& slot, bool hand_over);
  /// A held connection is gone (destroyed): one fewer reported, accepting
  /// re-checked, and a stop finished when it was the last.
  void Forget();
  void MaybeFinish();
  void Wake();

  WorkerRuntime& runtime_;
  Dispatcher* dispatcher_ = nullptr;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;     // written once when done: wakes every loop thread
  UniqueFd recheck_fd_;  // the 5 ms accept re-check
  std::vector<std::function<void()>> watches_;

  std::unique_ptr<std::atomic<Slot*>[]> chunks_;
  std::atomic<std::uint32_t> slot_count_{0};
  const std::uint32_t max_slots_;
  std::mutex table_;                 // free_, growing the table
  std::vector<std::uint32_t> free_;  // under table_

  // Accepting, adopting and handing over use the runtime's accept and
  // channel state, so one thread at a time.
  std::mutex control_;
  std::vector<bool> listener_armed_;  // under control_
  bool recheck_armed_ = false;        // under control_
  bool master_gone_ = false;          // the channel reached end of file; under control_

  const std::int64_t idle_timeout_ms_;  // 0: none
  const bool handshake_deadlines_;      // a TLS handshake has a deadline: sweep for it
  std::atomic<int> held_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> hand_over_{false};  // the stop hands connections over
  std::atomic<std::int64_t> stop_deadline_ms_{0};
  std::atomic<bool> done_{false};
  std::atomic<std::int64_t> last_tick_ms_{0};

  // Who waits in epoll_wait, who parks, and the events shared between them.
  LoopThreads threads_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_CONNECTION_ENGINE_H_
