#include "workers/connection_socket.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace thriftd {

using apache::thrift::transport::TTransportException;

ConnectionSocket::ConnectionSocket(int fd, IoWaiter& waiter, int timeout_ms,
                                   std::int64_t max_message_size)
    : fd_(fd), waiter_(waiter), timeout_ms_(timeout_ms), max_message_size_(max_message_size) {}

ConnectionSocket::~ConnectionSocket() { close(); }

void ConnectionSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool ConnectionSocket::peek() {
  if (fd_ < 0) return false;
  char byte;
  ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

uint32_t ConnectionSocket::read(uint8_t* buffer, uint32_t length) {
  for (;;) {
    ssize_t n = recv(fd_, buffer, length, 0);
    if (n > 0) {
      between_messages_ = false;
      message_bytes_ += n;
      if (message_bytes_ > max_message_size_) {
        throw TTransportException(TTransportException::CORRUPTED_DATA,
                                  "message larger than thrift_max_message_size (" +
                                      std::to_string(max_message_size_) + " bytes)");
      }
      return static_cast<uint32_t>(n);
    }
    if (n == 0 || errno == ECONNRESET) {
      peer_closed_ = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      throw TTransportException(TTransportException::UNKNOWN,
                                std::string("recv: ") + std::strerror(errno));
    }
    switch (waiter_.Wait(fd_, POLLIN, timeout_ms_, /*stop_aware=*/between_messages_)) {
      case IoWaiter::Result::kReady:
        break;
      case IoWaiter::Result::kStop:
        throw TTransportException(TTransportException::INTERRUPTED, "worker stopping");
      case IoWaiter::Result::kTimeout:
        throw TTransportException(TTransportException::TIMED_OUT,
                                  between_messages_ ? "idle past thrift_client_timeout"
                                                    : "no progress within thrift_client_timeout");
    }
  }
}

void ConnectionSocket::write(const uint8_t* buffer, uint32_t length) {
  while (length > 0) {
    ssize_t n = send(fd_, buffer, length, MSG_NOSIGNAL);
    if (n > 0) {
      buffer += n;
      length -= static_cast<uint32_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (waiter_.Wait(fd_, POLLOUT, timeout_ms_, /*stop_aware=*/false) ==
          IoWaiter::Result::kTimeout) {
        throw TTransportException(TTransportException::TIMED_OUT,
                                  "client not reading within thrift_client_timeout");
      }
      continue;
    }
    throw TTransportException(TTransportException::NOT_OPEN,
                              std::string("send: ") + std::strerror(errno));
  }
}

const std::string ConnectionSocket::getOrigin() const {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return "unknown";
  char host[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in4->sin_port));
  }
  if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unix";
}

}  // namespace thriftd
