#include "workers/sync_worker.h"

#include <poll.h>

#include <cerrno>
#include <vector>

#include "workers/poll_waiter.h"

namespace thriftd {
namespace {

constexpr int kHeartbeatMs = 500;
constexpr int kRecheckMs = 50;  // when told not to accept (descriptors ran out)

}  // namespace

bool SyncWorker::InitProcess(WorkerContext& context, std::string* /*error*/) {
  context.worker_connections = 1;  // what balancing and capacity see
  return true;
}

void SyncWorker::Run(WorkerContext& context) {
  PollWaiter waiter(context, /*idle_between_messages=*/false);
  std::vector<pollfd> fds;
  for (int fd : context.listen_fds) fds.push_back({fd, POLLIN, 0});
  const size_t listeners = fds.size();
  fds.push_back({context.stop_fd(), POLLIN, 0});
  fds.push_back({context.channel_fd(), POLLIN, 0});  // hand-overs, the master's end
  size_t next_listener = 0;

  // Serves one connection to its end; when a stop finds it idle, it goes to
  // a successor worker if the master asked for that, or is closed.
  auto serve = [&](std::unique_ptr<ThriftConnection> connection) {
    if (!connection) return;
    context.ReportConnections(1);
    if (connection->Serve(waiter) == ThriftConnection::Outcome::kIdle)
      context.HandOver(*connection);
    context.ReportConnections(0);
  };

  while (!context.stop_requested()) {
    context.Heartbeat();
    // Connections handed over by retiring workers queue up while this one
    // serves; take them before new ones.
    if (std::unique_ptr<ThriftConnection> adopted = context.AdoptConnection()) {
      serve(std::move(adopted));
      continue;
    }
    bool accepting = context.ShouldAccept(0);
    for (size_t i = 0; i < listeners; ++i) fds[i].events = accepting ? POLLIN : 0;
    int ready = poll(fds.data(), fds.size(), accepting ? kHeartbeatMs : kRecheckMs);
    if (ready <= 0) continue;  // timeout or EINTR: heartbeat and look again
    if (fds[listeners].revents) break;
    if (fds[listeners + 1].revents) continue;  // adopted at the top of the loop
    // Start from a different listener each time so one busy port cannot
    // starve the others.
    for (size_t i = 0; i < listeners; ++i) {
      size_t index = (next_listener + i) % listeners;
      if (!(fds[index].revents & POLLIN)) continue;
      int fd = context.Accept(fds[index].fd);
      if (fd < 0) continue;  // Another worker won the race.
      next_listener = index + 1;
      serve(context.OpenConnection(fd));
      break;
    }
  }
}

}  // namespace thriftd
