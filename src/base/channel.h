// The master <-> worker control channel: one SOCK_SEQPACKET socketpair per
// worker, as nginx's master/worker channel. A worker reports "ready" or its
// boot error over it; a worker sees the master die as EOF on it. Later
// hand-over of idle connections (SCM_RIGHTS) rides the same channel.
#ifndef THRIFTD_SRC_BASE_CHANNEL_H_
#define THRIFTD_SRC_BASE_CHANNEL_H_

#include <string>
#include <string_view>

#include "src/base/status.h"
#include "src/base/unique_fd.h"

namespace thriftd {

/// Message kinds, the first byte of every message.
inline constexpr char kChannelReady = 'R';      ///< worker -> master: serving
inline constexpr char kChannelBootError = 'E';  ///< worker -> master: text follows
inline constexpr char kChannelRetire = 'M';     ///< worker -> master: max_requests reached
/// master -> worker: you are being replaced; when you stop, hand your idle
/// connections over instead of closing them.
inline constexpr char kChannelHandOver = 'D';
/// Either way: a client connection (the descriptor rides along, SCM_RIGHTS),
/// idle at a message boundary with nothing buffered.
inline constexpr char kChannelConnection = 'H';

struct ChannelPair {
  UniqueFd master_end;
  UniqueFd worker_end;
};

Status OpenChannel(ChannelPair* pair);
/// Sends one message (kind byte + text). Never raises SIGPIPE.
Status SendChannelMessage(int fd, char kind, std::string_view text = {});
/// Sends a descriptor with a one-byte message. The sender still owns `passed`.
Status SendChannelFd(int fd, char kind, int passed);
enum class ChannelRead { kMessage, kEmpty, kClosed };
/// Receives one message without blocking: kMessage fills *kind and *text,
/// and *passed with a descriptor that came along (else -1; the caller owns
/// it); kEmpty when nothing is waiting; kClosed on EOF or error.
ChannelRead ReceiveChannelMessage(int fd, char* kind, std::string* text, int* passed = nullptr);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_CHANNEL_H_
