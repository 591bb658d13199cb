#include "src/hand_over_relay.h"

#include <climits>

#include "src/base/channel.h"
#include "src/base/log.h"

namespace thriftd {

HandOverRelay::HandOverRelay(const Scoreboard& scoreboard, std::function<int(pid_t)> channel_of)
    : scoreboard_(scoreboard), channel_of_(std::move(channel_of)) {}

pid_t HandOverRelay::Forward(const std::map<pid_t, WorkerRecord>& workers, std::uint64_t generation,
                             pid_t from, UniqueFd connection, std::string_view carried) {
  pid_t target = 0;
  std::int64_t best_room = INT64_MIN;
  for (const auto& [pid, worker] : workers) {
    if (pid == from || worker.state != WorkerState::kReady || worker.spec.generation != generation)
      continue;
    const ScoreboardSlot& slot = scoreboard_.slot(worker.spec.slot);
    // Pending forwards count too, so a burst does not all land on one worker.
    auto pending = forwarded_.find(pid);
    std::int64_t room = std::int64_t{slot.connection_limit.load()} - slot.connections.load() -
                        (pending == forwarded_.end() ? 0 : pending->second);
    if (room > best_room) {
      best_room = room;
      target = pid;
    }
  }
  if (target == 0) return 0;  // Closed as `connection` goes.
  int channel = channel_of_(target);
  if (channel < 0) return 0;
  Status status = SendChannelMessage(channel, kChannelConnection, carried, connection.get());
  if (!status.ok()) {
    THRIFTD_LOG(kWarning) << "cannot hand a connection over: " << status.message();
    return 0;
  }
  ++forwarded_[target];
  return target;
}

}  // namespace thriftd
