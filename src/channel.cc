#include "src/channel.h"

#include <sys/socket.h>

#include <cerrno>

namespace thriftd {

Status OpenChannel(ChannelPair* pair) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
    return Status::FromErrno("socketpair(channel)", errno);
  pair->master_end.Reset(fds[0]);
  pair->worker_end.Reset(fds[1]);
  return Status::Ok();
}

Status SendChannelMessage(int fd, char kind, std::string_view text) {
  std::string message(1, kind);
  message.append(text.substr(0, 4000));
  ssize_t n;
  do {
    n = send(fd, message.data(), message.size(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno("send(channel)", errno);
  return Status::Ok();
}

ChannelRead ReceiveChannelMessage(int fd, char* kind, std::string* text) {
  char buffer[4096];
  ssize_t n;
  do {
    n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ChannelRead::kEmpty;
  if (n <= 0) return ChannelRead::kClosed;
  *kind = buffer[0];
  text->assign(buffer + 1, static_cast<size_t>(n - 1));
  return ChannelRead::kMessage;
}

}  // namespace thriftd
