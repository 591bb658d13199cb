#include "workers/buffer_pool.h"

namespace thriftd {
namespace {

// Blocks kept per class: 4 MiB of 16 KiB blocks (one per connection being
// served), and 512 KiB of each class from 32 KiB to 512 KiB: at most 6.5 MiB
// per thread. 1 MiB blocks are never kept (512 KiB holds none of them): a
// stream of 1 MiB messages goes through malloc.
std::size_t KeptOf(int size_class) {
  return size_class == 0 ? 256 : (512 * 1024) / (BufferPool::kBufferSize << size_class);
}

}  // namespace

BufferPool& BufferPool::ForThisThread() {
  // One per thread: blocks are taken and kept without a lock.
  thread_local BufferPool pool;
  return pool;
}

int BufferPool::ClassOf(std::size_t capacity) {
  for (int size_class = 0; size_class < kClasses; ++size_class)
    if (capacity == kBufferSize << size_class) return size_class;
  return -1;
}

BufferPool::Block BufferPool::Take(std::size_t size) {
  for (int size_class = 0; size_class < kClasses; ++size_class) {
    std::size_t capacity = kBufferSize << size_class;
    if (capacity < size) continue;
    std::vector<Buffer>& free = free_[size_class];
    if (free.empty()) return Block{Buffer(new std::uint8_t[capacity]), capacity};
    Block block{std::move(free.back()), capacity};
    free.pop_back();
    return block;
  }
  return Block{Buffer(new std::uint8_t[size]), size};
}

void BufferPool::Give(Buffer data, std::size_t capacity) {
  int size_class = ClassOf(capacity);
  if (!data || size_class < 0) return;  // made to measure: freed here
  std::vector<Buffer>& free = free_[size_class];
  if (free.size() < KeptOf(size_class)) free.push_back(std::move(data));
}

}  // namespace thriftd
