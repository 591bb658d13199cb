#include "src/base/channel.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace thriftd {
namespace {

// One message's header, with room for one descriptor (SCM_RIGHTS).
struct OneFdMessage {
  iovec io[2];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};

  OneFdMessage() {
    header.msg_iov = io;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
};

Status Send(int fd, char kind, std::string_view text, int passed, int flags) {
  text = text.substr(0, kMaxChannelText);
  OneFdMessage message;
  message.io[0] = {&kind, 1};
  message.io[1] = {const_cast<char*>(text.data()), text.size()};
  message.header.msg_iovlen = 2;
  if (passed >= 0) {
    cmsghdr* control = CMSG_FIRSTHDR(&message.header);
    control->cmsg_level = SOL_SOCKET;
    control->cmsg_type = SCM_RIGHTS;
    control->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(control), &passed, sizeof(int));
  } else {
    message.header.msg_control = nullptr;
    message.header.msg_controllen = 0;
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &message.header, MSG_NOSIGNAL | flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno("sendmsg(channel)", errno);
  return Status::Ok();
}

}  // namespace

Status OpenChannel(ChannelPair* pair) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
    return Status::FromErrno("socketpair(channel)", errno);
  pair->master_end.Reset(fds[0]);
  pair->worker_end.Reset(fds[1]);
  return Status::Ok();
}

Status SendChannelMessage(int fd, char kind, std::string_view text, int passed) {
  return Send(fd, kind, text, passed, 0);
}

Status TrySendChannelMessage(int fd, char kind, std::string_view text, int passed) {
  return Send(fd, kind, text, passed, MSG_DONTWAIT);
}

ChannelRead ReceiveChannelMessage(int fd, ChannelMessage* message) {
  // One packet is one message; it is read whole, so the buffer holds the
  // largest one. Per thread: the master's loop and a worker's threads each
  // read their own channel.
  thread_local std::vector<char> buffer(1 + kMaxChannelText);
  OneFdMessage one;
  one.io[0] = {buffer.data(), buffer.size()};
  one.header.msg_iovlen = 1;
  ssize_t n;
  do {
    n = recvmsg(fd, &one.header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ChannelRead::kEmpty;
  if (n <= 0) return ChannelRead::kClosed;
  message->passed.Reset();
  for (cmsghdr* control = CMSG_FIRSTHDR(&one.header); control != nullptr;
       control = CMSG_NXTHDR(&one.header, control)) {
    if (control->cmsg_level == SOL_SOCKET && control->cmsg_type == SCM_RIGHTS) {
      int received = -1;
      std::memcpy(&received, CMSG_DATA(control), sizeof(int));
      message->passed.Reset(received);
    }
  }
  message->kind = buffer[0];
  message->text.assign(buffer.data() + 1, static_cast<std::size_t>(n - 1));
  return ChannelRead::kMessage;
}

}  // namespace thriftd
