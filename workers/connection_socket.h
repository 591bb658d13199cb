// ConnectionSocket: the Thrift transport over one accepted connection.
// Runs in a worker, in the thread (or fiber) that serves the connection.
//
// It knows where message boundaries are, which Apache Thrift's TSocket does
// not, and applies the three rules that need that knowledge:
//  - between messages, a graceful stop or `thrift_client_timeout` of silence
//    ends the connection (nothing is lost: no call is half-read);
//  - within a message, the client timeout only ends a connection making no
//    progress at all; a slow but moving request is never cut;
//  - a message longer than `thrift_max_message_size` ends the connection.
#ifndef THRIFTD_WORKERS_CONNECTION_SOCKET_H_
#define THRIFTD_WORKERS_CONNECTION_SOCKET_H_

#include <cstdint>
#include <string>

#include <thrift/transport/TTransportException.h>
#include <thrift/transport/TVirtualTransport.h>

#include "workers/io_waiter.h"

namespace thriftd {

class ConnectionSocket : public apache::thrift::transport::TVirtualTransport<ConnectionSocket> {
 public:
  /// `fd` is non-blocking and owned: closed by close() or the destructor.
  /// `timeout_ms` < 0 means no client timeout.
  ConnectionSocket(int fd, IoWaiter& waiter, int timeout_ms, std::int64_t max_message_size);
  ~ConnectionSocket() override;

  /// Marks a message boundary: the next bytes start a new message.
  void BeginMessage() {
    between_messages_ = true;
    message_bytes_ = 0;
  }
  /// True once the peer closed its side (a read returned end of file).
  bool peer_closed() const { return peer_closed_; }
  int fd() const { return fd_; }

  bool isOpen() const override { return fd_ >= 0; }
  bool peek() override;
  void close() override;
  uint32_t read(uint8_t* buffer, uint32_t length);
  void write(const uint8_t* buffer, uint32_t length);
  const std::string getOrigin() const override;

 private:
  int fd_;
  IoWaiter& waiter_;
  int timeout_ms_;
  std::int64_t max_message_size_;
  std::int64_t message_bytes_ = 0;
  bool between_messages_ = true;
  bool peer_closed_ = false;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_CONNECTION_SOCKET_H_
