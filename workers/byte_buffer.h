// ByteBuffer: one direction of a connection's bytes, in one block from the
// thread's BufferPool: 16 KiB while that is enough, a larger class for a
// larger message (growing by doubling, or straight to what the message
// needs when its length is known). An empty buffer can give its block back
// (Release), so an idle connection holds none. Runs in a worker, used by one
// thread at a time.
#ifndef THRIFTD_WORKERS_BYTE_BUFFER_H_
#define THRIFTD_WORKERS_BYTE_BUFFER_H_

#include <cstddef>
#include <cstdint>

#include "workers/buffer_pool.h"

namespace thriftd {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ~ByteBuffer() { Free(); }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  const std::uint8_t* data() const { return block_.get() + begin_; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  /// Whether a block is held (for tests of idle memory).
  bool holds_block() const { return block_ != nullptr; }

  /// Makes room for at least `total` bytes counted from data() (what is
  /// held plus what will be added), moving or growing the block as needed.
  void Reserve(std::size_t total);
  /// The free room after the data, and its size (Reserve first).
  std::uint8_t* room() { return block_.get() + end_; }
  std::size_t room_size() const { return capacity_ - end_; }
  /// `length` bytes were written into room().
  void Commit(std::size_t length) { end_ += length; }
  void Append(const std::uint8_t* bytes, std::size_t length);
  /// Drops `length` bytes from the front.
  void Consume(std::size_t length);
  /// Gives the block back when nothing is held.
  void Release();

 private:
  void Free();

  BufferPool::Buffer block_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_BYTE_BUFFER_H_
