#include "src/base/channel.h"

#include <sys/socket.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>

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

namespace {

// Room for one descriptor beside a message (SCM_RIGHTS).
struct OneFdMessage {
  iovec io;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};

  OneFdMessage(void* data, size_t size) : io{data, size} {
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
  }
};

}  // namespace

Status SendChannelFd(int fd, char kind, int passed) {
  char byte = kind;
  OneFdMessage one(&byte, 1);
  msghdr& message = one.message;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &passed, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(fd, &message, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno("sendmsg(channel)", errno);
  return Status::Ok();
}

ChannelRead ReceiveChannelMessage(int fd, char* kind, std::string* text, int* passed) {
  char buffer[4096];
  OneFdMessage one(buffer, sizeof buffer);
  msghdr& message = one.message;
  ssize_t n;
  do {
    n = recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ChannelRead::kEmpty;
  if (n <= 0) return ChannelRead::kClosed;
  int received = -1;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS)
      std::memcpy(&received, CMSG_DATA(header), sizeof(int));
  }
  if (passed != nullptr) {
    *passed = received;
  } else if (received >= 0) {
    ::close(received);  // Nobody asked for one; do not leak it.
  }
  *kind = buffer[0];
  text->assign(buffer + 1, static_cast<size_t>(n - 1));
  return ChannelRead::kMessage;
}

}  // namespace thriftd
