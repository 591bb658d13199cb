#include "workers/connection_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace thriftd {

using apache::thrift::transport::TTransportException;

namespace {

constexpr uint32_t kCapacity = BufferPool::kBufferSize;

}  // namespace

ConnectionSocket::ConnectionSocket(int fd, int timeout_ms, std::int64_t max_message_size)
    : fd_(fd),
      timeout_ms_(timeout_ms),
      max_message_size_(max_message_size),
      peer_(PeerAddressOf(fd)) {}

bool ConnectionSocket::PeerClosesWithin(int wait_ms) {
  if (fd_ < 0) return true;
  pollfd readable{fd_, POLLIN, 0};
  if (poll(&readable, 1, wait_ms) <= 0) return false;
  char byte;
  return recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

ConnectionSocket::~ConnectionSocket() {
  close();
  ReleaseBuffers();
}

void ConnectionSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void ConnectionSocket::ReleaseBuffers() {
  BufferPool& pool = BufferPool::ForThisThread();
  if (read_buffer_ && !HasBuffered()) {
    pool.Give(std::move(read_buffer_));
    read_pos_ = read_end_ = 0;
  }
  if (write_buffer_ && write_end_ == 0) pool.Give(std::move(write_buffer_));
}

ssize_t ConnectionSocket::Receive(uint8_t* into, uint32_t room) {
  for (;;) {
    ssize_t n = recv(fd_, into, room, 0);
    last_read_filled_ = n > 0 && static_cast<uint32_t>(n) == room;
    if (n > 0) {
      bytes_in_ += static_cast<std::uint64_t>(n);
      return n;
    }
    if (n == 0 || errno == ECONNRESET) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    throw TTransportException(TTransportException::UNKNOWN,
                              std::string("recv: ") + std::strerror(errno));
  }
}

ssize_t ConnectionSocket::ReceiveIntoBuffer() {
  if (!read_buffer_) read_buffer_ = BufferPool::ForThisThread().Take();
  if (read_pos_ == read_end_) read_pos_ = read_end_ = 0;
  ssize_t n = Receive(read_buffer_.get() + read_end_, kCapacity - read_end_);
  if (n > 0) read_end_ += static_cast<uint32_t>(n);
  return n;
}

ConnectionSocket::Fill ConnectionSocket::FillNonBlocking() {
  if (HasBuffered()) return Fill::kData;
  ssize_t n = ReceiveIntoBuffer();
  if (n > 0) return Fill::kData;
  return n == 0 ? Fill::kClosed : Fill::kNothing;
}

void ConnectionSocket::Wait(short events) {
  switch (waiter_->Wait(fd_, events, timeout_ms_, /*between_messages=*/false)) {
    case IoWaiter::Result::kReady:
      return;
    case IoWaiter::Result::kTimeout:
      throw TTransportException(TTransportException::TIMED_OUT,
                                events == POLLIN
                                    ? "no progress within thrift_client_timeout"
                                    : "client not reading within thrift_client_timeout");
    case IoWaiter::Result::kStop:
    case IoWaiter::Result::kIdle:
      throw TTransportException(TTransportException::INTERRUPTED, "worker stopping");
  }
}

void ConnectionSocket::FillBlocking() {
  // Compact what is left to the front so a message can use the whole buffer.
  if (read_buffer_ && read_pos_ > 0 && read_pos_ < read_end_) {
    std::memmove(read_buffer_.get(), read_buffer_.get() + read_pos_, read_end_ - read_pos_);
    read_end_ -= read_pos_;
    read_pos_ = 0;
  }
  for (;;) {
    ssize_t n = ReceiveIntoBuffer();
    if (n > 0) return;
    if (n == 0) {
      throw PeerClosedError();
    }
    Wait(POLLIN);
  }
}

void ConnectionSocket::CheckFrameLength(const uint8_t* data, uint32_t length) {
  for (uint32_t i = 0; i < length && message_bytes_ + i < 4; ++i)
    frame_head_[message_bytes_ + i] = data[i];
  if (message_bytes_ + length < 4) return;
  std::uint32_t head = (std::uint32_t{frame_head_[0]} << 24) |
                       (std::uint32_t{frame_head_[1]} << 16) |
                       (std::uint32_t{frame_head_[2]} << 8) | std::uint32_t{frame_head_[3]};
  // A set top bit is an unframed binary or compact message, not a length.
  if ((head & 0x80000000u) == 0 && static_cast<std::int64_t>(head) > frame_limit_) {
    throw TTransportException(TTransportException::CORRUPTED_DATA,
                              "frame of " + std::to_string(head) +
                                  " bytes is larger than thrift_max_frame_size (" +
                                  std::to_string(frame_limit_) + ")");
  }
}

void ConnectionSocket::CountMessageBytes(const uint8_t* data, uint32_t length) {
  if (frame_limit_ > 0 && message_bytes_ < 4) CheckFrameLength(data, length);
  message_bytes_ += length;
  if (message_bytes_ > max_message_size_) {
    throw TTransportException(TTransportException::CORRUPTED_DATA,
                              "message larger than thrift_max_message_size (" +
                                  std::to_string(max_message_size_) + " bytes)");
  }
}

uint32_t ConnectionSocket::read(uint8_t* buffer, uint32_t length) {
  if (length == 0) return 0;
  if (!HasBuffered()) FillBlocking();
  uint32_t n = std::min(length, read_end_ - read_pos_);
  CountMessageBytes(read_buffer_.get() + read_pos_, n);
  std::memcpy(buffer, read_buffer_.get() + read_pos_, n);
  read_pos_ += n;
  return n;
}

uint32_t ConnectionSocket::readAll(uint8_t* buffer, uint32_t length) {
  uint32_t available = read_end_ - read_pos_;
  if (length <= available) {  // The common case: a field already buffered.
    CountMessageBytes(read_buffer_.get() + read_pos_, length);
    std::memcpy(buffer, read_buffer_.get() + read_pos_, length);
    read_pos_ += length;
    return length;
  }
  uint32_t done = 0;
  while (done < length) {
    uint32_t left = length - done;
    if (!HasBuffered() && left >= kCapacity) {
      // A large body: receive straight into the caller's memory, one copy.
      ssize_t n = Receive(buffer + done, left);
      if (n == 0) throw PeerClosedError();
      if (n < 0) {
        Wait(POLLIN);
        continue;
      }
      CountMessageBytes(buffer + done, static_cast<uint32_t>(n));
      done += static_cast<uint32_t>(n);
      continue;
    }
    done += read(buffer + done, left);
  }
  return length;
}

const uint8_t* ConnectionSocket::borrow(uint8_t* /*buffer*/, uint32_t* length) {
  uint32_t available = read_end_ - read_pos_;
  if (*length > available) return nullptr;
  *length = available;
  return read_buffer_.get() + read_pos_;
}

void ConnectionSocket::consume(uint32_t length) {
  if (length > read_end_ - read_pos_) {
    throw TTransportException(TTransportException::BAD_ARGS, "consume past the buffer");
  }
  CountMessageBytes(read_buffer_.get() + read_pos_, length);
  read_pos_ += length;
}

void ConnectionSocket::write(const uint8_t* buffer, uint32_t length) {
  if (!write_buffer_) write_buffer_ = BufferPool::ForThisThread().Take();
  if (length <= kCapacity - write_end_) {
    std::memcpy(write_buffer_.get() + write_end_, buffer, length);
    write_end_ += length;
    return;
  }
  flush();
  if (length >= kCapacity) {
    SendAll(buffer, length);  // Large: no copy through the buffer.
    return;
  }
  std::memcpy(write_buffer_.get(), buffer, length);
  write_end_ = length;
}

void ConnectionSocket::flush() {
  if (write_end_ == 0) return;
  uint32_t length = write_end_;
  write_end_ = 0;  // Whatever happens, these bytes are not sent twice.
  SendAll(write_buffer_.get(), length);
}

void ConnectionSocket::SendAll(const uint8_t* data, std::size_t length) {
  while (length > 0) {
    ssize_t n = send(fd_, data, length, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      length -= static_cast<std::size_t>(n);
      bytes_out_ += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Wait(POLLOUT);
      continue;
    }
    throw TTransportException(TTransportException::NOT_OPEN,
                              std::string("send: ") + std::strerror(errno));
  }
}

const std::string ConnectionSocket::getOrigin() const { return SocketAddressText(peer_); }

}  // namespace thriftd
