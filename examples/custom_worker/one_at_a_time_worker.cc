// one_at_a_time_worker: the smallest useful custom worker kind, written
// against include/thriftd/worker.h only. It is documentation of that
// contract as much as code: read it top to bottom.
//
//   thriftd -w 2 -b 127.0.0.1:9090 -k build/examples/custom_worker/libcustom_worker.so
//           build/examples/libpingpong.so
//
// The model is the built-in `sync` kind's: a worker process serves one
// connection at a time, from accept() until the client closes it. Other
// clients wait in the kernel's listen backlog, where any worker that is free
// may pick them up. What the kind decides, and thriftd does not:
//   - where it waits: here, one poll() on the shared listening sockets, the
//     stop descriptor and the control channel;
//   - which thread serves a connection: here, the worker's only thread;
//   - how a connection waits for its socket: here, the IoWaiter that
//     WorkerContext::MakeBlockingWaiter() gives, which blocks in poll().
// What thriftd does for every kind, and a kind must not redo:
//   - accept() on the shared descriptors (WorkerContext::Accept: a race lost
//     to another worker is normal and answers -1);
//   - balancing (WorkerContext::ShouldAccept: false while this worker holds
//     more than its share, or is at worker_connections, or is retiring);
//   - all of Thrift: transport, protocol, frame and message limits, the App's
//     processor (WorkerContext::OpenConnection gives a ThriftConnection);
//   - the client timeout: ThriftConnection::Serve passes it to the waiter;
//   - moving idle connections between workers when one is replaced (reload,
//     TTOU, max_requests): the kind only calls HandOver() / AdoptConnection().
//
// Lifecycle (see worker.h): the Worker object is created in the master (so a
// bad .so fails before anything starts), then each worker process calls
// InitProcess() once after fork and Run() until it should exit.
#include <poll.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <thriftd/worker.h>

namespace {

// How often the worker proves it is alive, at most. thriftd replaces a
// worker whose heartbeat stops for longer than `timeout`; an idle worker must
// keep calling Heartbeat() too (idleness is not death).
constexpr int kHeartbeatMs = 500;
// How soon to ask ShouldAccept() again while it says no (another worker
// holds fewer connections, or descriptors ran out and thriftd backs off).
constexpr int kRecheckMs = 50;

class OneAtATimeWorker final : public thriftd::Worker {
 public:
  // After fork, in the worker process, once the App has started. Settings in
  // the context may be adjusted for what this kind really does: the master
  // and the other workers see worker_connections as this worker's capacity
  // (balancing skips a worker that is full, hand-over prefers the one with
  // the most room). Returning false, with *error set, fails the boot:
  // thriftd stops (or abandons a reload) with the error.
  bool InitProcess(thriftd::WorkerContext& context, std::string* /*error*/) override {
    context.LimitConnections(1);
    return true;
  }

  // Serves until a stop is requested (TERM, INT, or this worker being
  // replaced by HUP / TTOU / max_requests: all arrive as a readable stop_fd)
  // and the connection in flight is finished. Returning ends the worker
  // process normally.
  void Run(thriftd::WorkerContext& context) override {
    // How a connection waits for its socket while ThriftConnection::Serve
    // runs: this one blocks the thread in poll(), heartbeats while it waits,
    // and between messages also wakes for a graceful stop (Serve() then
    // returns kIdle, with the connection ready to be handed over or closed).
    // A call that has started always finishes; graceful_timeout (enforced
    // by the master) bounds how long that may take.
    std::unique_ptr<thriftd::IoWaiter> waiter = context.MakeBlockingWaiter();

    // One pollfd per inherited listening socket (several with several
    // --bind), then the stop descriptor, then the control channel from the
    // master. The listening sockets are non-blocking and shared with every
    // worker.
    std::vector<pollfd> fds;
    for (int fd : context.listen_fds()) fds.push_back({fd, POLLIN, 0});
    const std::size_t listeners = fds.size();
    const std::size_t stop = fds.size();
    fds.push_back({context.stop_fd(), POLLIN, 0});
    const std::size_t channel = fds.size();
    fds.push_back({context.channel_fd(), POLLIN, 0});

    while (!context.stop_requested()) {
      context.Heartbeat();
      // Connections handed over by a worker being replaced come first: their
      // clients are already connected, mid-conversation. AdoptConnection()
      // also reads the channel's other messages; it never blocks, and
      // answers nullptr when nothing is waiting. (Should the master go away,
      // it requests the stop itself: stop_requested() turns true.)
      if (std::unique_ptr<thriftd::ThriftConnection> adopted = context.AdoptConnection()) {
        Serve(context, *waiter, std::move(adopted));
        continue;
      }
      // Ask before every accept: while another worker holds fewer
      // connections, leave this one in the backlog for it. Not asking would
      // let the first worker to wake take every connection.
      const bool accepting = context.ShouldAccept(/*held=*/0);
      for (std::size_t i = 0; i < listeners; ++i) fds[i].events = accepting ? POLLIN : 0;
      int ready = poll(fds.data(), fds.size(), accepting ? kHeartbeatMs : kRecheckMs);
      if (ready <= 0) continue;            // timeout or EINTR: heartbeat, ask again
      if (fds[stop].revents) break;        // graceful stop, and we hold nothing
      if (fds[channel].revents) continue;  // adopted at the top of the loop

      for (std::size_t i = 0; i < listeners; ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        // Every worker is woken by a new connection; all but one lose the
        // race and get -1. That is normal: go back to poll().
        int fd = context.Accept(fds[i].fd);
        if (fd < 0) continue;
        // The connection owns fd from here (closes it when done). nullptr
        // means the App's processor factory threw; thriftd logged it and
        // closed fd.
        Serve(context, *waiter, context.OpenConnection(fd));
        break;  // one connection per wakeup; re-ask ShouldAccept() first
      }
    }
  }

 private:
  // Serves one connection until it ends, or until a stop finds it idle.
  static void Serve(thriftd::WorkerContext& context, thriftd::IoWaiter& waiter,
                    std::unique_ptr<thriftd::ThriftConnection> connection) {
    if (!connection) return;
    context.ReportConnections(1);  // for balancing, hand-over and metrics
    // Serve() returns kClosed when the peer closed, the client timeout
    // passed, a limit was hit or an error occurred (logged by thriftd):
    // destroying the connection then closes its socket. (A kind that keeps
    // the fd registered in a poller must unregister it first, so that a new
    // connection cannot get the same number while the old one is still
    // registered; this kind polls the fd only inside Serve(), so it has
    // nothing to unregister.) It returns kIdle when our waiter answered
    // kStop: the connection sits at a message boundary with nothing buffered.
    if (connection->Serve(waiter) == thriftd::ThriftConnection::Outcome::kIdle) {
      // Give the client to a successor if this worker is being replaced
      // (the master asked for a hand-over); on a full stop (TERM, INT) there
      // is none, HandOver() answers false, and destroying the connection
      // below closes it. Either way, do not use it afterwards.
      context.HandOver(*connection);
    }
    connection.reset();
    context.ReportConnections(0);
  }
};

}  // namespace

// Exports the kind: defines the extern "C" entry thriftd_worker_OneAtATimeWorker
// (found with -k PATH.so:OneAtATimeWorker) and, as the first one in this
// object, the default entry thriftd_worker_default (found with -k PATH.so).
// The entry carries kWorkerAbiVersion: a thriftd of another ABI refuses it.
THRIFTD_WORKER(OneAtATimeWorker)
