#include "src/hand_over_relay.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "src/base/channel.h"
#include "src/base/log.h"

namespace thriftd {

HandOverRelay::HandOverRelay(const Scoreboard& scoreboard, std::function<int(pid_t)> channel_of)
    : scoreboard_(scoreboard), channel_of_(std::move(channel_of)) {}

pid_t HandOverRelay::Forward(const std::map<pid_t, WorkerRecord>& workers, std::uint64_t generation,
                             pid_t from, UniqueFd connection, std::string_view carried) {
  // Candidates, the most room first. One with no room left is still one:
  // queued on its channel the connection waits to be served, which beats
  // closing it.
  std::vector<std::pair<std::int64_t, pid_t>> targets;
  for (const auto& [pid, worker] : workers) {
    if (pid == from || worker.state != WorkerState::kReady ||
        worker.spec.generation != generation || worker.reaped)
      continue;
    const ScoreboardSlot& slot = scoreboard_.slot(worker.spec.slot);
    // Pending forwards count too, so a burst does not all land on one worker.
    auto pending = forwarded_.find(pid);
    std::int64_t room = std::int64_t{slot.connection_limit.load()} - slot.connections.load() -
                        (pending == forwarded_.end() ? 0 : pending->second);
    targets.emplace_back(room, pid);
  }
  std::stable_sort(targets.begin(), targets.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  if (targets.empty()) return 0;  // Closed as `connection` goes.
  for (const auto& [room, target] : targets) {
    int channel = channel_of_(target);
    if (channel < 0) continue;
    // Never blocks: a worker whose channel is full is not reading it now
    // (busy with a connection, or hung), and the next one may be.
    Status status = TrySendChannelMessage(channel, kChannelConnection, carried, connection.get());
    if (status.ok()) {
      ++forwarded_[target];
      return target;
    }
    THRIFTD_LOG(kWarning) << "cannot hand a connection over to worker (pid:" << target
                          << "): " << status.message();
  }
  // The client sees its connection closed between calls, as it would have
  // without hand-over, and reconnects.
  THRIFTD_LOG(kWarning) << "no worker could take a handed-over connection; closing it";
  return 0;
}

}  // namespace thriftd
