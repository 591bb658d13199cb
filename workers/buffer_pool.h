// BufferPool: I/O blocks recycled per thread, so a connection holds blocks
// only while it is being served (an idle one holds none), and a stream of
// large messages does not go through malloc for each one. Blocks come in
// size classes, 16 KiB doubling up to 1 MiB; classes up to 512 KiB are kept
// for reuse (1 MiB blocks are not), and a larger one is made to measure and
// not kept either. Runs in a worker; each thread (and each fiber loop) has its
// own pool; a block may be taken on one thread and given back on another.
#ifndef THRIFTD_WORKERS_BUFFER_POOL_H_
#define THRIFTD_WORKERS_BUFFER_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace thriftd {

class BufferPool {
 public:
  /// The smallest block: what most connections ever use.
  static constexpr std::size_t kBufferSize = 16 * 1024;
  using Buffer = std::unique_ptr<std::uint8_t[]>;
  struct Block {
    Buffer data;
    std::size_t capacity = 0;
  };

  /// The calling thread's pool.
  static BufferPool& ForThisThread();

  /// A block of at least `size` bytes: the smallest class that fits.
  Block Take(std::size_t size);
  /// Keeps a block for reuse, while its class has room; frees it otherwise.
  void Give(Buffer data, std::size_t capacity);

 private:
  static constexpr int kClasses = 7;  // 16 KiB .. 1 MiB
  /// The class of a block of `capacity` bytes, or -1 for one made to measure.
  static int ClassOf(std::size_t capacity);
  std::vector<Buffer> free_[kClasses];
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_BUFFER_POOL_H_
