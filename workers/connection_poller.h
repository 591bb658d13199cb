// ConnectionPoller: the fiber kind's libevent loop (and any kind's that wants one). It
// accepts (while WorkerContext::ShouldAccept allows), holds idle connections
// with a read event each (and the client timeout as the event's timeout),
// hands a readable connection to its Dispatcher, and takes it back when the
// dispatcher is done with it. It adopts connections other workers hand over.
// On a graceful stop it stops accepting, closes (or hands over) idle
// connections at once, and ends when the busy ones have finished.
// Runs in a worker, in the kind's loop thread.
#ifndef THRIFTD_WORKERS_CONNECTION_POLLER_H_
#define THRIFTD_WORKERS_CONNECTION_POLLER_H_

#include <event2/event.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "thriftd/worker.h"

namespace thriftd {

/// One connection the poller holds. Owned by the poller; lent to the
/// dispatcher while busy.
class ConnectionPoller;
struct HeldConnection {
  enum State : int {
    kIdle,         ///< in the poller, waiting for data
    kBusy,         ///< lent to the dispatcher
    kBusyPending,  ///< lent, and data arrived meanwhile: serve it again
  };
  std::unique_ptr<ThriftConnection> connection;
  ConnectionPoller* poller = nullptr;
  event* readable = nullptr;
  /// Changed by the loop thread (dispatching) and the serving thread
  /// (finishing a turn), so with compare-and-swap.
  std::atomic<int> state{kIdle};
};

class ConnectionPoller {
 public:
  /// Where readable connections go: a thread pool, a fiber. The dispatcher
  /// calls Done() (on the loop thread) when it is finished with one.
  class Dispatcher {
   public:
    virtual ~Dispatcher() = default;
    virtual void Dispatch(HeldConnection* held) = 0;
    /// Whether calls are getting served; the poller's heartbeat says the
    /// worker is alive only then. A fiber loop that runs at all is.
    virtual bool Responsive() { return true; }
    /// Held while a connection is destroyed, so another thread that reads a
    /// connection under it (the fiber watchdog) never sees a dead one.
    virtual std::mutex* destruction_mutex() { return nullptr; }
  };

  ConnectionPoller(WorkerContext& context, event_base* base, Dispatcher& dispatcher);
  ~ConnectionPoller();
  ConnectionPoller(const ConnectionPoller&) = delete;
  ConnectionPoller& operator=(const ConnectionPoller&) = delete;

  /// Registers the listeners, the stop pipe and the heartbeat timer.
  void Start();

  enum class Next {
    kIdled,       ///< back in the poller; the dispatcher is done with it
    kServeAgain,  ///< data came during the turn: the dispatcher serves it again now
    kToLoop,      ///< closed, or thriftd is stopping: pass it to Done() on the loop thread
  };
  /// The end of a serving turn, from the thread that served it (the loop
  /// thread itself for the fiber kind; any thread if libevent locking is on).
  Next Finish(HeldConnection* held, ThriftConnection::Outcome outcome);
  /// A turn whose Finish() said kToLoop: drops a closed connection, closes
  /// or hands over an idle one. Loop thread only.
  void Done(HeldConnection* held, ThriftConnection::Outcome outcome);

 private:
  static void OnListenerReady(evutil_socket_t fd, short what, void* arg);
  static void OnConnectionReady(evutil_socket_t fd, short what, void* arg);
  static void OnStop(evutil_socket_t fd, short what, void* arg);
  static void OnTimer(evutil_socket_t fd, short what, void* arg);
  static void OnChannel(evutil_socket_t fd, short what, void* arg);
  static void OnRecheck(evutil_socket_t fd, short what, void* arg);

  void AcceptOne(int listen_fd);
  void Hold(std::unique_ptr<ThriftConnection> connection);
  /// Closes an idle connection, or hands it to a successor when the master
  /// asked for that.
  void Release(HeldConnection* held);
  void UpdateAccepting();
  void WaitForData(HeldConnection* held);
  void Dispatch(HeldConnection* held);
  void Drop(HeldConnection* held);
  void MaybeFinish();

  WorkerContext& context_;
  event_base* base_;
  Dispatcher& dispatcher_;
  std::vector<event*> listeners_;
  event* stop_event_ = nullptr;
  event* timer_ = nullptr;
  event* channel_event_ = nullptr;
  event* recheck_ = nullptr;
  std::unordered_map<HeldConnection*, std::unique_ptr<HeldConnection>> held_;
  timeval idle_timeout_{};
  bool has_idle_timeout_ = false;
  bool accepting_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<int> busy_{0};
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_CONNECTION_POLLER_H_
