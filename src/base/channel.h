// The master <-> worker control channel: one SOCK_SEQPACKET socketpair per
// worker, as nginx's master/worker channel. Every message is one packet: a
// kind byte, then text, and at most one descriptor riding along
// (SCM_RIGHTS). A worker sees the master die as end of file on it.
//
// The conversation, end to end:
//
//   worker -> master  kChannelReady      booted, serving
//   worker -> master  kChannelBootError  the App failed to load or start; text says why
//   worker -> master  kChannelRetire     max_requests reached: start my successor
//   worker -> master  kChannelStopSignal another process than the master sent me a
//                                        stop signal ("SIGTERM from pid 42"): I stop,
//                                        handing my connections over (TERM, HUP)
//   master -> worker  kChannelHandOver   you are being replaced: when you stop,
//                                        hand your connections over, do not close them
//   either way        kChannelConnection a client connection (the descriptor) at a
//                                        message boundary, with nothing to write; the
//                                        text is the start of the client's next message
//                                        already read from the socket (often empty)
//
// Connection hand-over (a reload, TTOU, max_requests on the master's
// request; a graceful stop signal from another process on the worker's own
// account; never when thriftd stops): the master sends kChannelHandOver,
// then SIGTERM.
// The stopping worker (workers/hand_over.h) sends each connection that is
// between calls to the master as kChannelConnection, and closes its copy;
// calls in flight finish first, and their connections follow. The master
// (src/hand_over_relay.h) forwards each to the ready worker of the serving
// generation with the most room, or closes it when there is none (thriftd
// is stopping). The adopting worker serves it as if it had accepted it,
// starting from the carried bytes. The client's bytes sent meanwhile wait
// in the kernel: the client sees no reconnect and loses no call.
//
// A binary upgrade (USR2, src/upgrade.h) opens one more channel, between the
// old master and the new one it execs:
//
//   new -> old  kChannelUpgradeReady  my first generation is all ready
//   new -> old  kChannelBootError     I could not start; text says why (then I exit)
//   old -> new  kChannelConnection    as above: told to stop (TERM, WINCH) with the
//                                     new master ready, the old master forwards its
//                                     stopping workers' connections here, and the new
//                                     master to its own workers
//   old -> new  kChannelUpgradeReady  (once the new master is ready) my workers serve
//   old -> new  kChannelUpgradeIdle   my workers do not all serve (WINCH, a stop, a reload)
//   new -> old  kChannelConnection    a rollback: the new master, told to stop while the
//                                     old one serves, hands its connections back
//
// The new master sees the old one exit as end of file on it, and only then
// takes the pidfile over.
//
// --check-config's trial worker (src/app_trial.h) says how its App started
// as a worker does: kChannelBootError, or kChannelReady with the App's name.
#ifndef THRIFTD_SRC_BASE_CHANNEL_H_
#define THRIFTD_SRC_BASE_CHANNEL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "src/base/status.h"
#include "src/base/unique_fd.h"

namespace thriftd {

/// Message kinds, the first byte of every message (see above).
inline constexpr char kChannelReady = 'R';
inline constexpr char kChannelBootError = 'E';
inline constexpr char kChannelRetire = 'M';
inline constexpr char kChannelHandOver = 'D';
inline constexpr char kChannelConnection = 'H';
inline constexpr char kChannelUpgradeReady = 'U';
inline constexpr char kChannelUpgradeIdle = 'W';
inline constexpr char kChannelStopSignal = 'S';

/// The longest text a message carries; longer texts are cut.
inline constexpr std::size_t kMaxChannelText = 64 * 1024;

struct ChannelPair {
  UniqueFd master_end;
  UniqueFd worker_end;
};

/// A socketpair, close-on-exec at both ends.
Status OpenChannel(ChannelPair* pair);

struct ChannelMessage {
  char kind = 0;
  std::string text;
  UniqueFd passed;  ///< the descriptor that came along, if any
};

/// Sends one message, `passed` riding along when >= 0 (the sender still
/// owns it). Never raises SIGPIPE. Blocks while the channel is full: the
/// socket buffer holds a few hundred small messages, or three of 64 KiB.
/// For a worker's sends, which the master reads as they come.
Status SendChannelMessage(int fd, char kind, std::string_view text = {}, int passed = -1);
/// As SendChannelMessage, but never blocks: a full channel is an error
/// ("sendmsg(channel): Resource temporarily unavailable"). For the master's
/// sends: a worker reads its channel only when it gets to it (a sync worker
/// between connections, a hung one never), and the master's loop must not
/// wait on any one worker.
Status TrySendChannelMessage(int fd, char kind, std::string_view text = {}, int passed = -1);

enum class ChannelRead { kMessage, kEmpty, kClosed };
/// Receives one message without blocking: kMessage fills *message; kEmpty
/// when nothing is waiting; kClosed on end of file or an error.
ChannelRead ReceiveChannelMessage(int fd, ChannelMessage* message);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_CHANNEL_H_
