#include "workers/sync_worker.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "src/base/log.h"
#include "workers/poll_waiter.h"

namespace thriftd {
namespace {

constexpr int kHeartbeatMs = 500;
constexpr int kRecheckMs = 50;  // when told not to accept (descriptors ran out)

// Serves one connection to its end; when a stop finds it between calls, it
// goes to a successor worker if the master asked for that, or is closed.
void ServeToTheEnd(WorkerRuntime& runtime, IoWaiter& waiter,
                   std::unique_ptr<Connection> connection) {
  if (!connection) return;
  runtime.ReportConnections(1);
  if (connection->Serve(waiter) == ThriftConnection::Outcome::kIdle) {
    runtime.PollChannel();  // a hand-over request comes just before the stop
    runtime.HandOverConnection(*connection);
  }
  connection.reset();
  runtime.ReportConnections(0);
}

}  // namespace

bool SyncWorker::Init(WorkerRuntime& runtime, std::string* /*error*/) {
  runtime.LimitConnections(1);  // what balancing and hand-over see
  return true;
}

void SyncWorker::Serve(WorkerRuntime& runtime) {
  PollWaiter waiter(runtime);
  std::vector<pollfd> fds;
  for (int fd : runtime.listen_fds()) fds.push_back({fd, POLLIN, 0});
  const size_t listeners = fds.size();
  fds.push_back({runtime.stop_fd(), POLLIN, 0});
  fds.push_back({runtime.channel_fd(), POLLIN, 0});  // hand-overs, the master's end
  size_t next_listener = 0;

  while (!runtime.stop_requested()) {
    runtime.Heartbeat();
    // Connections handed over by retiring workers queue up while this one
    // serves; take them before new ones.
    if (!runtime.PollChannel()) break;
    if (std::unique_ptr<Connection> adopted = runtime.TakeAdopted()) {
      ServeToTheEnd(runtime, waiter, std::move(adopted));
      continue;
    }
    bool accepting = runtime.ShouldAccept(0);
    for (size_t i = 0; i < listeners; ++i) fds[i].events = accepting ? POLLIN : 0;
    int ready = poll(fds.data(), fds.size(), accepting ? kHeartbeatMs : kRecheckMs);
    if (ready < 0 && errno != EINTR) {
      THRIFTD_LOG(kCritical) << "poll: " << std::strerror(errno) << "; the worker stops";
      return;
    }
    if (ready <= 0) continue;  // timeout or EINTR: heartbeat and look again
    if (fds[listeners].revents) break;
    if (fds[listeners + 1].revents) continue;  // adopted at the top of the loop
    // Start from a different listener each time so one busy port cannot
    // starve the others.
    for (size_t i = 0; i < listeners; ++i) {
      size_t index = (next_listener + i) % listeners;
      if (!(fds[index].revents & POLLIN)) continue;
      // -1: another worker won the race, or descriptors ran out; then
      // ShouldAccept declines for a while (Accept logs it) and the loop
      // re-asks every kRecheckMs instead of spinning.
      int fd = runtime.AcceptFrom(index);
      if (fd < 0) continue;
      next_listener = index + 1;
      ServeToTheEnd(runtime, waiter, runtime.NewConnection(UniqueFd(fd), index));
      break;
    }
  }
  // Connections the master relayed just before the stop go on to a
  // successor too (or close, on a full stop).
  runtime.PollChannel();
  while (std::unique_ptr<Connection> relayed = runtime.TakeAdopted())
    runtime.HandOverConnection(*relayed);
}

}  // namespace thriftd
