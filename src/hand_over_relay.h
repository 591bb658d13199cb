// HandOverRelay: the master's part of connection hand-over. The whole
// protocol, both sides, is written down in src/base/channel.h; in short:
//
//   1. The master decides to replace a worker (a reload, TTOU,
//      max_requests) and sends it kChannelHandOver, then SIGTERM
//      (PosixProcessOps::Retire).
//   2. The stopping worker sends each connection that is between calls to
//      the master as kChannelConnection: the descriptor, and as text the
//      bytes of the client's next message it had already read.
//   3. Here: the master forwards that message unchanged (same kind, same
//      text, the descriptor riding along) to the ready worker of the
//      serving generation with the most room, never back to the sender;
//      when every such worker is full (sync workers, each busy with a
//      connection) or none is ready, it holds the connection until one has
//      room (30 s at most). A master that keeps no workers (stopping, or
//      WINCH) during a binary upgrade gives what it holds to the other
//      master once that one's workers serve, and at its exit; what is
//      still held then is closed.
//   4. The adopting worker serves it as if it had accepted it, starting
//      from the carried bytes.
//
// Runs in the master, on its loop's thread.
#ifndef THRIFTD_SRC_HAND_OVER_RELAY_H_
#define THRIFTD_SRC_HAND_OVER_RELAY_H_

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/arbiter.h"
#include "src/base/scoreboard.h"
#include "src/base/unique_fd.h"

namespace thriftd {

class HandOverRelay {
 public:
  /// `scoreboard` gives each worker's connections and connection limit;
  /// `channel_of(pid)` the master's end of that worker's channel, or -1.
  /// The scoreboard must outlive the relay.
  HandOverRelay(const Scoreboard& scoreboard, std::function<int(pid_t)> channel_of);
  HandOverRelay(const HandOverRelay&) = delete;
  HandOverRelay& operator=(const HandOverRelay&) = delete;

  /// Forwards `connection`, handed over by worker `from` with `carried`
  /// (the start of the client's next message), to the kReady worker of
  /// `generation` (the serving one) with the most room: its connection
  /// limit less the connections it holds (scoreboard) less those forwarded
  /// to it and not yet adopted. Booting, retiring, stopping and other
  /// generations' workers get none. Never blocks: when that worker's
  /// channel is full (it is not reading it) or the send fails, the next
  /// one by room is tried. Returns the pid it went to.
  /// When no worker has room (sync workers, each busy with a client) or
  /// none is ready (the only one is being replaced), the connection is held
  /// here (kHeld) and RetryHeld() sends it as soon as one has room; a full
  /// worker gets it only once it has waited `hold` seconds (a sync worker
  /// reads its channel between connections only: one sent to it while it
  /// serves a persistent client waits for that client to leave). 0: closed
  /// (past its hold with nobody at all, or no send succeeded; logged).
  /// `now`: the loop's clock (ProcessOps::Now).
  pid_t Forward(const std::map<pid_t, WorkerRecord>& workers, std::uint64_t generation, pid_t from,
                UniqueFd connection, std::string_view carried, double now);
  static constexpr pid_t kHeld = -1;

  /// Sends the held connections, oldest first, as Forward() would now.
  /// Call on every step of the loop; those still held when the master
  /// exits are closed with it.
  void RetryHeld(const std::map<pid_t, WorkerRecord>& workers, std::uint64_t generation,
                 double now);
  std::size_t held() const { return held_.size(); }
  /// Offers the held connections, oldest first, to `send` (another master
  /// of a binary upgrade, when this one keeps no workers); each it takes
  /// (returns true) is no longer held. Stops at the first it refuses.
  void SendHeld(const std::function<bool(UniqueFd& connection, const std::string& carried)>& send);
  /// How long a connection may be held for want of room.
  void set_hold(double seconds) { hold_ = seconds; }

  /// Forgets the connections forwarded and not yet adopted: call when they
  /// have been (the master calls it on every tick of its timer, 200 ms; an
  /// adopting worker counts a connection in its slot as it takes it).
  void ForgetForwarded() { forwarded_.clear(); }

 private:
  const Scoreboard& scoreboard_;
  std::function<int(pid_t)> channel_of_;
  std::map<pid_t, std::int64_t> forwarded_;  // by target, since the last ForgetForwarded()
  struct Held {
    UniqueFd connection;
    std::string carried;
    pid_t from = 0;
    double until = 0;  // then it goes to a full worker, or is closed, rather than wait on
  };
  std::deque<Held> held_;
  double hold_ = 30;

  /// The candidates for a connection from `from`, the most room first.
  std::vector<std::pair<std::int64_t, pid_t>> Targets(const std::map<pid_t, WorkerRecord>& workers,
                                                      std::uint64_t generation, pid_t from) const;
  /// Sends `held` as Forward() describes: the pid, kHeld, or 0 (closed).
  pid_t Place(Held& held, const std::map<pid_t, WorkerRecord>& workers, std::uint64_t generation,
              double now);
  /// Sends to the first target that takes it; the pid, or 0.
  pid_t SendToFirst(const std::vector<std::pair<std::int64_t, pid_t>>& targets, int connection,
                    std::string_view carried);
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_HAND_OVER_RELAY_H_
