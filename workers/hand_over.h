// The worker's side of connection hand-over: what a worker reads from and
// writes to its control channel (the whole conversation is described in
// src/base/channel.h; the master's side is src/hand_over_relay.h).
//
// A worker being replaced (a reload, TTOU, max_requests) is asked, just
// before its TERM, to hand its connections over instead of closing them;
// each connection that is between calls then goes to the master with the
// start of the client's next message, and from there to a worker that stays.
// The same channel brings this worker the connections others hand over.
// Runs in a worker; one thread at a time (the engine holds its control lock).
#ifndef THRIFTD_WORKERS_HAND_OVER_H_
#define THRIFTD_WORKERS_HAND_OVER_H_

#include <deque>
#include <string>
#include <string_view>

#include "src/base/status.h"
#include "src/base/unique_fd.h"

namespace thriftd {

class HandOverChannel {
 public:
  /// `channel_fd` is the worker's end of its channel (not owned).
  explicit HandOverChannel(int channel_fd) : channel_fd_(channel_fd) {}

  /// Reads every message the master sent, without blocking: a hand-over
  /// request, connections to adopt. False once the master is gone (end of
  /// file: nobody supervises this worker any more).
  bool ReadChannel();
  /// The master asked for this worker's connections.
  bool requested() const { return requested_; }

  struct Incoming {
    UniqueFd fd;
    /// The key of the listener it came from (ListenerSettings::key): it is
    /// served with that listener's settings here too.
    std::string listener;
    std::string carried;  ///< the start of the client's next message
  };
  /// A connection another worker handed over, when one is waiting.
  bool TakeIncoming(Incoming* incoming);

  /// Passes a connection to the master, for a worker that stays, naming
  /// the listener it came from by its key. `fd` is closed here either way;
  /// the error says why it could not go. The message's text is the key, a
  /// NUL byte, then `carried` (a key holds no NUL: it is a bind address).
  Status Give(UniqueFd fd, std::string_view listener, std::string_view carried);

 private:
  int channel_fd_;
  bool requested_ = false;
  std::deque<Incoming> incoming_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_HAND_OVER_H_
