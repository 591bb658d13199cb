#include "src/hand_over_relay.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "src/base/channel.h"
#include "src/base/log.h"

namespace thriftd {

HandOverRelay::HandOverRelay(const Scoreboard& scoreboard, std::function<int(pid_t)> channel_of)
    : scoreboard_(scoreboard), channel_of_(std::move(channel_of)) {}

std::vector<std::pair<std::int64_t, pid_t>> HandOverRelay::Targets(
    const std::map<pid_t, WorkerRecord>& workers, std::uint64_t generation, pid_t from) const {
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
  return targets;
}

pid_t HandOverRelay::SendToFirst(const std::vector<std::pair<std::int64_t, pid_t>>& targets,
                                 int connection, std::string_view carried) {
  for (const auto& [room, target] : targets) {
    int channel = channel_of_(target);
    if (channel < 0) continue;
    // Never blocks: a worker whose channel is full is not reading it now
    // (busy with a connection, or hung), and the next one may be.
    Status status = TrySendChannelMessage(channel, kChannelConnection, carried, connection);
    if (status.ok()) {
      ++forwarded_[target];
      return target;
    }
    THRIFTD_LOG(kWarning) << "cannot hand a connection over to worker (pid:" << target
                          << "): " << status.message();
  }
  return 0;
}

pid_t HandOverRelay::Place(Held& held, const std::map<pid_t, WorkerRecord>& workers,
                           std::uint64_t generation, double now) {
  std::vector<std::pair<std::int64_t, pid_t>> targets = Targets(workers, generation, held.from);
  bool overdue = now >= held.until;
  // Until its hold is over, only a worker with room: a full one would hold
  // it unread (a sync worker reads its channel between connections only).
  if (!overdue) {
    while (!targets.empty() && targets.back().first <= 0) targets.pop_back();
    if (targets.empty()) return kHeld;  // wait for room, or for a worker to be ready
  }
  pid_t target = SendToFirst(targets, held.connection.get(), held.carried);
  // The client sees its connection closed between calls, as it would have
  // without hand-over, and reconnects.
  if (target == 0)
    THRIFTD_LOG(kWarning) << "no worker could take a handed-over connection; closing it";
  return target;
}

pid_t HandOverRelay::Forward(const std::map<pid_t, WorkerRecord>& workers, std::uint64_t generation,
                             pid_t from, UniqueFd connection, std::string_view carried,
                             double now) {
  Held held{std::move(connection), std::string(carried), from, now + hold_};
  pid_t target = Place(held, workers, generation, now);
  if (target == kHeld) held_.push_back(std::move(held));
  return target;  // 0: closed as `held` goes
}

void HandOverRelay::RetryHeld(const std::map<pid_t, WorkerRecord>& workers,
                              std::uint64_t generation, double now) {
  while (!held_.empty()) {
    if (Place(held_.front(), workers, generation, now) == kHeld)
      return;           // first come, first served
    held_.pop_front();  // sent, or closed as it goes
  }
}

void HandOverRelay::SendHeld(
    const std::function<bool(UniqueFd& connection, const std::string& carried)>& send) {
  while (!held_.empty() && send(held_.front().connection, held_.front().carried)) held_.pop_front();
}

}  // namespace thriftd
