#include "workers/buffer_pool.h"

namespace thriftd {

BufferPool& BufferPool::ForThisThread() {
  // One per thread: buffers never cross threads, so no lock is needed.
  thread_local BufferPool pool;
  return pool;
}

BufferPool::Buffer BufferPool::Take() {
  if (free_.empty()) return Buffer(new std::uint8_t[kBufferSize]);
  Buffer buffer = std::move(free_.back());
  free_.pop_back();
  return buffer;
}

void BufferPool::Give(Buffer buffer) {
  if (buffer && free_.size() < kMaxKept) free_.push_back(std::move(buffer));
}

}  // namespace thriftd
