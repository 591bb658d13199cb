// MessageTransport: the Thrift transport a connection's protocols read and
// write, over memory only. Reads see exactly one complete message (the
// window the connection sets before each call), so a processor never waits
// for the network; writes go to the connection's output buffer and flush()
// sends what the socket takes now, never waiting for a client that does not
// read. The connection (workers/connection.h) does all socket I/O.
//
// It is the `buffered` transport itself, and the bottom of the `framed` and
// `header` stacks; binary and compact protocols are instantiated over this
// concrete type so their reads inline. Runs in a worker, on the thread (or
// fiber) serving the connection.
#ifndef THRIFTD_WORKERS_MESSAGE_TRANSPORT_H_
#define THRIFTD_WORKERS_MESSAGE_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include <thrift/transport/TVirtualTransport.h>

namespace thriftd {

class MessageTransport final
    : public apache::thrift::transport::TVirtualTransport<MessageTransport> {
 public:
  /// Where writes go: the connection's output.
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void Write(const std::uint8_t* bytes, std::uint32_t length) = 0;
    /// Sends what can be sent now; throws TTransportException when the
    /// connection is broken.
    virtual void Flush() = 0;
    virtual std::string Peer() const = 0;
  };

  explicit MessageTransport(Sink& sink) : sink_(sink) {}

  /// The next message: reads see exactly these bytes.
  void SetWindow(const std::uint8_t* begin, std::size_t length) {
    begin_ = begin;
    position_ = 0;
    length_ = length;
  }
  /// Bytes of the window read so far.
  std::size_t consumed() const { return position_; }

  // TTransport, called non-virtually by the templated protocols.
  bool isOpen() const override { return true; }
  bool peek() override { return position_ < length_; }
  uint32_t read(uint8_t* buffer, uint32_t length);
  uint32_t readAll(uint8_t* buffer, uint32_t length);
  const uint8_t* borrow(uint8_t* buffer, uint32_t* length);
  void consume(uint32_t length);
  void write(const uint8_t* buffer, uint32_t length) { sink_.Write(buffer, length); }
  void flush() override { sink_.Flush(); }
  const std::string getOrigin() const override { return sink_.Peer(); }

 private:
  Sink& sink_;
  const std::uint8_t* begin_ = nullptr;
  std::size_t position_ = 0;
  std::size_t length_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_MESSAGE_TRANSPORT_H_
