#include "workers/byte_buffer.h"

#include <algorithm>
#include <cstring>

namespace thriftd {

void ByteBuffer::Reserve(std::size_t total) {
  if (block_ && capacity_ - begin_ >= total) return;
  std::size_t held = size();
  if (block_ && capacity_ >= total) {  // room enough once the data moves to the front
    std::memmove(block_.get(), data(), held);
  } else {
    BufferPool::Block bigger = BufferPool::ForThisThread().Take(std::max(total, 2 * capacity_));
    if (held > 0) std::memcpy(bigger.data.get(), data(), held);
    Free();
    block_ = std::move(bigger.data);
    capacity_ = bigger.capacity;
  }
  begin_ = 0;
  end_ = held;
}

void ByteBuffer::Append(const std::uint8_t* bytes, std::size_t length) {
  if (room_size() < length || !block_) Reserve(size() + length);
  std::memcpy(room(), bytes, length);
  end_ += length;
}

void ByteBuffer::Consume(std::size_t length) {
  begin_ += std::min(length, size());
  if (begin_ == end_) begin_ = end_ = 0;
}

void ByteBuffer::Release() {
  if (empty()) Free();
}

void ByteBuffer::Free() {
  if (block_) BufferPool::ForThisThread().Give(std::move(block_), capacity_);
  capacity_ = begin_ = end_ = 0;
}

}  // namespace thriftd
