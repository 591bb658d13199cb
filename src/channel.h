// The master <-> worker control channel: one SOCK_SEQPACKET socketpair per
// worker, as nginx's master/worker channel. A worker reports "ready" or its
// boot error over it; a worker sees the master die as EOF on it. Later
// hand-over of idle connections (SCM_RIGHTS) rides the same channel.
#ifndef THRIFTD_SRC_CHANNEL_H_
#define THRIFTD_SRC_CHANNEL_H_

#include <string>
#include <string_view>

#include "src/status.h"
#include "src/unique_fd.h"

namespace thriftd {

/// Message kinds, the first byte of every message.
inline constexpr char kChannelReady = 'R';      ///< worker -> master: serving
inline constexpr char kChannelBootError = 'E';  ///< worker -> master: text follows
inline constexpr char kChannelRetire = 'M';     ///< worker -> master: max_requests reached

struct ChannelPair {
  UniqueFd master_end;
  UniqueFd worker_end;
};

Status OpenChannel(ChannelPair* pair);
/// Sends one message (kind byte + text). Never raises SIGPIPE.
Status SendChannelMessage(int fd, char kind, std::string_view text = {});
enum class ChannelRead { kMessage, kEmpty, kClosed };
/// Receives one message without blocking: kMessage fills *kind and *text;
/// kEmpty when nothing is waiting; kClosed on EOF or error.
ChannelRead ReceiveChannelMessage(int fd, char* kind, std::string* text);

}  // namespace thriftd

#endif  // THRIFTD_SRC_CHANNEL_H_
