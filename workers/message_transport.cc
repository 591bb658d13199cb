#include "workers/message_transport.h"

#include <algorithm>
#include <cstring>

#include <thrift/transport/TTransportException.h>

namespace thriftd {

using apache::thrift::transport::TTransportException;

namespace {

// The scanner found the message complete; a protocol that reads past it
// disagrees with the scanner about where the message ends.
[[noreturn]] void PastTheMessage() {
  throw TTransportException(TTransportException::END_OF_FILE,
                            "the protocol read past the end of the message");
}

}  // namespace

uint32_t MessageTransport::read(uint8_t* buffer, uint32_t length) {
  auto n = static_cast<uint32_t>(std::min<std::size_t>(length, length_ - position_));
  std::memcpy(buffer, begin_ + position_, n);
  position_ += n;
  return n;
}

uint32_t MessageTransport::readAll(uint8_t* buffer, uint32_t length) {
  if (length > length_ - position_) PastTheMessage();
  std::memcpy(buffer, begin_ + position_, length);
  position_ += length;
  return length;
}

const uint8_t* MessageTransport::borrow(uint8_t* /*buffer*/, uint32_t* length) {
  std::size_t available = length_ - position_;
  if (*length > available) return nullptr;
  *length = static_cast<uint32_t>(std::min<std::size_t>(available, UINT32_MAX));
  return begin_ + position_;
}

void MessageTransport::consume(uint32_t length) {
  if (length > length_ - position_) PastTheMessage();
  position_ += length;
}

}  // namespace thriftd
