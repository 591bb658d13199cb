#include "workers/sync_worker.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "src/log.h"
#include "workers/accept.h"
#include "workers/io_waiter.h"
#include "workers/serve_connection.h"

namespace thriftd {
namespace {

constexpr int kBackoffMs = 100;  // after EMFILE, before accepting again

}  // namespace

Status SyncWorker::InitProcess(WorkerContext& /*context*/) { return Status::Ok(); }

void SyncWorker::Run(WorkerContext& context) {
  PollWaiter waiter(context.stop->wake_fd());
  std::vector<pollfd> fds;
  for (int fd : context.listen_fds) fds.push_back({fd, POLLIN, 0});
  const size_t stop_index = fds.size();
  fds.push_back({context.stop->wake_fd(), POLLIN, 0});
  fds.push_back({context.channel_fd, POLLIN, 0});  // EOF: the master is gone
  size_t next_listener = 0;
  int timeout_ms = -1;

  while (!context.stop->stop_requested()) {
    if (context.stop->TakeReopenRequest()) (void)log::Reopen();
    int ready = poll(fds.data(), fds.size(), timeout_ms);
    timeout_ms = -1;
    if (ready < 0) {
      if (errno == EINTR) continue;
      THRIFTD_LOG(kError) << "poll: " << std::strerror(errno);
      return;
    }
    if (fds[stop_index].revents) break;
    if (fds[stop_index + 1].revents) {
      THRIFTD_LOG(kWarning) << "master is gone; stopping";
      return;
    }
    // Start from a different listener each time so one busy port cannot
    // starve the others.
    for (size_t i = 0; i < stop_index; ++i) {
      size_t index = (next_listener + i) % stop_index;
      if (!(fds[index].revents & POLLIN)) continue;
      int connection = -1;
      AcceptResult result = AcceptConnection(fds[index].fd, &connection);
      if (result == AcceptResult::kOutOfDescriptors) timeout_ms = kBackoffMs;
      if (result != AcceptResult::kAccepted) continue;
      next_listener = index + 1;
      ServeConnection(connection, context, waiter);
      break;
    }
  }
}

}  // namespace thriftd
