// ConnectionSocket: the buffered Thrift transport over one accepted socket.
// Runs in a worker, in whichever thread (or fiber) is serving the connection.
//
// It is the `buffered` transport itself (buffering is not on the wire), and
// the bottom of the `framed` and `header` stacks. Unlike Apache Thrift's
// TSocket + TBufferedTransport it
//  - reads ahead at a message boundary without blocking (FillNonBlocking), so
//    the connection can go idle without a thread or fiber waiting on it;
//  - holds its buffers only while serving (ReleaseBuffers when idle), so an
//    idle connection costs a few hundred bytes, not two buffers;
//  - waits through an IoWaiter inside a message: poll() for a thread, a
//    parked fiber for the fiber kind; `timeout_ms` of no progress ends it;
//  - counts the bytes of each message and refuses one longer than
//    `thrift_max_message_size`.
#ifndef THRIFTD_WORKERS_CONNECTION_SOCKET_H_
#define THRIFTD_WORKERS_CONNECTION_SOCKET_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include <thrift/transport/TTransportException.h>
#include <thrift/transport/TVirtualTransport.h>

#include "src/base/socket_address.h"
#include "thriftd/worker.h"
#include "workers/buffer_pool.h"

namespace thriftd {

/// The peer closed its side in the middle of a message: ordinary enough
/// (a client killed mid-call) not to warn about.
class PeerClosedError : public apache::thrift::transport::TTransportException {
 public:
  PeerClosedError() : TTransportException(END_OF_FILE, "peer closed mid-message") {}
};

class ConnectionSocket final
    : public apache::thrift::transport::TVirtualTransport<ConnectionSocket> {
 public:
  /// `fd` is non-blocking and owned. `timeout_ms` < 0: no client timeout.
  ConnectionSocket(int fd, int timeout_ms, std::int64_t max_message_size);
  ~ConnectionSocket() override;
  ConnectionSocket(const ConnectionSocket&) = delete;
  ConnectionSocket& operator=(const ConnectionSocket&) = delete;

  enum class Fill { kData, kNothing, kClosed };
  /// At a message boundary: reads whatever is waiting, without blocking.
  Fill FillNonBlocking();
  /// Bytes received and not yet consumed.
  bool HasBuffered() const { return read_pos_ < read_end_; }
  /// The last recv filled all the room it had, so the kernel may hold more:
  /// an edge-triggered poller would not say so again, so read before waiting.
  bool MayHaveMore() const { return last_read_filled_; }
  /// The next bytes start a new message (for the message size limit).
  void BeginMessage() { message_bytes_ = 0; }
  /// Bytes of the current message consumed so far.
  std::int64_t message_bytes() const { return message_bytes_; }
  /// Gives both buffers back to the thread's pool; only when nothing is
  /// buffered either way (at a message boundary, after a flush).
  void ReleaseBuffers();
  /// The waiter for waits inside a message; set before each serving turn.
  void set_waiter(IoWaiter* waiter) { waiter_ = waiter; }
  /// Refuses a message whose first four bytes, read as a frame length, pass
  /// `limit`: the header transport's frames (Thrift 0.17's THeaderTransport
  /// checks only its own 1 GiB maximum). 0 disables.
  void set_frame_limit(std::int64_t limit) { frame_limit_ = limit; }
  int fd() const { return fd_; }
  /// Whether the peer closes its side within `wait_ms` (nothing more arrives
  /// but end of file). For telling a client's goodbye from an error.
  bool PeerClosesWithin(int wait_ms);
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }

  // TTransport, called non-virtually by the templated protocols.
  /// Gives up the descriptor without closing it; buffers must be empty.
  int Release() {
    ReleaseBuffers();
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

  bool isOpen() const override { return fd_ >= 0; }
  bool peek() override { return HasBuffered() || fd_ >= 0; }
  void close() override;
  uint32_t read(uint8_t* buffer, uint32_t length);
  uint32_t readAll(uint8_t* buffer, uint32_t length);
  const uint8_t* borrow(uint8_t* buffer, uint32_t* length);
  void consume(uint32_t length);
  void write(const uint8_t* buffer, uint32_t length);
  void flush() override;
  const std::string getOrigin() const override;

 private:
  /// Blocks (through the waiter) until at least one byte is buffered.
  void FillBlocking();
  /// One recv() into `into`: >0 bytes, 0 end of file, -1 nothing yet; throws
  /// on errors. Counts bytes in and notes whether it filled `room`.
  ssize_t Receive(uint8_t* into, uint32_t room);
  /// Receives into the free part of the read buffer, as Receive().
  ssize_t ReceiveIntoBuffer();
  void SendAll(const uint8_t* data, std::size_t length);
  void Wait(short events);
  /// Counts consumed bytes of the current message; `data` are those bytes.
  void CountMessageBytes(const uint8_t* data, uint32_t length);
  void CheckFrameLength(const uint8_t* data, uint32_t length);

  int fd_;
  int timeout_ms_;
  std::int64_t max_message_size_;
  std::int64_t message_bytes_ = 0;
  std::int64_t frame_limit_ = 0;
  uint8_t frame_head_[4] = {};
  IoWaiter* waiter_ = nullptr;
  BufferPool::Buffer read_buffer_;
  uint32_t read_pos_ = 0;
  uint32_t read_end_ = 0;
  BufferPool::Buffer write_buffer_;
  uint32_t write_end_ = 0;
  std::uint64_t bytes_in_ = 0;
  bool last_read_filled_ = false;
  std::uint64_t bytes_out_ = 0;
  // The peer's address, taken when the connection opens: after the peer
  // closes, getpeername() no longer knows it, and that is when it is logged.
  SocketAddress peer_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_CONNECTION_SOCKET_H_
