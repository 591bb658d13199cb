// peer_raw: the practical limit of this machine. A raw epoll server that
// answers pingpong calls in the strict binary protocol (buffered or framed)
// without Thrift at all: ping gets a canned "pong" reply with the call's
// seqid; add and echo are answered too, so every workload has a floor.
// --threads N event loops (default 2, one per core) share the listening
// socket, as thriftd's workers do.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "binproto.h"

namespace {

struct Conn {
  int fd = -1;
  std::vector<unsigned char> in;
  std::size_t in_len = 0;
  std::string out;
  std::size_t out_sent = 0;
  bool want_out = false;
};

bool g_framed = false;

/// Appends the reply to the complete call at msg, or returns false.
bool Answer(const unsigned char* msg, std::string& out) {
  const binproto::Header h = binproto::ReadHeader(msg);
  if (h.type != binproto::kCall) return false;
  const std::size_t frame_at = out.size();
  if (g_framed) out.append(4, '\0');
  const unsigned char* b = h.body;
  if (h.name == "ping") {
    static const std::string canned = [] {
      std::string s;
      binproto::PutHeader(s, binproto::kReply, "ping", 0);
      binproto::PutFieldHeader(s, binproto::kString, 0);
      binproto::PutString(s, "pong");
      s.push_back(0);
      return s;
    }();
    out += canned;
    binproto::SetI32(&out[out.size() - canned.size() + 12], h.seqid);
  } else if (h.name == "add") {
    std::int32_t a = 0, c = 0;
    while (*b != binproto::kStop) {
      const int id = (b[1] << 8) | b[2];
      if (b[0] != binproto::kI32) return false;
      (id == 1 ? a : c) = binproto::GetI32(b + 3);
      b += 7;
    }
    binproto::PutHeader(out, binproto::kReply, "add", h.seqid);
    binproto::PutFieldHeader(out, binproto::kI32, 0);
    binproto::PutI32(out, static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(c)));
    out.push_back(0);
  } else if (h.name == "echo") {
    if (b[0] != binproto::kString) return false;
    const auto len = static_cast<std::size_t>(binproto::GetI32(b + 3));
    binproto::PutHeader(out, binproto::kReply, "echo", h.seqid);
    binproto::PutFieldHeader(out, binproto::kString, 0);
    binproto::PutI32(out, static_cast<std::int32_t>(len));
    out.append(reinterpret_cast<const char*>(b + 7), len);
    out.push_back(0);
  } else {
    return false;
  }
  if (g_framed) binproto::SetI32(&out[frame_at], static_cast<std::int32_t>(out.size() - frame_at - 4));
  return true;
}

class Loop {
 public:
  explicit Loop(int listen_fd) : lfd_(listen_fd) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = lfd_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
  }

  void Run() {
    std::vector<epoll_event> events(256);
    for (;;) {
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == lfd_) {
          Accept();
          continue;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        Conn& c = it->second;
        const std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
        bool ok = true;
        if (ev & EPOLLOUT) ok = Flush(c);
        if (ok && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) ok = Read(c);
        if (!ok) {
          close(fd);
          conns_.erase(it);
        }
      }
    }
  }

 private:
  void Accept() {
    for (;;) {
      const int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Conn& c = conns_[fd];
      c.fd = fd;
      c.in.resize(16384);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  bool Read(Conn& c) {
    const ssize_t n = recv(c.fd, c.in.data() + c.in_len, c.in.size() - c.in_len, 0);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c.in_len += static_cast<std::size_t>(n);
    std::size_t pos = 0;
    for (;;) {
      const unsigned char* p = c.in.data() + pos;
      const std::size_t avail = c.in_len - pos;
      std::size_t skip = 0, len = 0;
      if (g_framed) {
        if (avail < 4) break;
        const std::int32_t frame = binproto::GetI32(p);
        if (frame <= 0 || frame > (64 << 20)) return false;
        if (avail < static_cast<std::size_t>(frame) + 4) {
          if (c.in.size() < static_cast<std::size_t>(frame) + 4) c.in.resize(static_cast<std::size_t>(frame) + 4);
          break;
        }
        skip = 4;
        len = static_cast<std::size_t>(frame) + 4;
      } else {
        binproto::Scanner s(p, p + avail);
        const std::ptrdiff_t m = s.MessageLength();
        if (m < 0) return false;
        if (m == 0) {
          if (pos == 0 && c.in_len == c.in.size()) c.in.resize(c.in.size() * 2);
          break;
        }
        len = static_cast<std::size_t>(m);
      }
      if (!Answer(p + skip, c.out)) return false;
      pos += len;
    }
    if (pos > 0) {
      std::memmove(c.in.data(), c.in.data() + pos, c.in_len - pos);
      c.in_len -= pos;
    }
    return Flush(c);
  }

  bool Flush(Conn& c) {
    while (c.out_sent < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (!c.want_out) SetOut(c, true);
        return true;
      }
      return false;
    }
    c.out.clear();
    c.out_sent = 0;
    if (c.want_out) SetOut(c, false);
    return true;
  }

  void SetOut(Conn& c, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.fd = c.fd;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = on;
  }

  int lfd_;
  int ep_;
  std::unordered_map<int, Conn> conns_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 9090, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--host") host = v;
    else if (a == "--port") port = std::atoi(v.c_str());
    else if (a == "--threads") threads = std::atoi(v.c_str());
    else if (a == "--transport") g_framed = v == "framed";
    else if (a == "--app") {}  // accepted for symmetry with the other peers
    else {
      std::fprintf(stderr, "usage: peer_raw [--host H] [--port P] [--transport buffered|framed] [--threads N]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 4096) != 0) {
    std::perror("peer_raw: bind/listen");
    return 2;
  }
  std::vector<std::thread> ts;
  for (int t = 1; t < threads; ++t) ts.emplace_back([lfd] { Loop(lfd).Run(); });
  Loop(lfd).Run();
  return 0;
}
