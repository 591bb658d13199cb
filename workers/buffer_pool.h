// BufferPool: fixed-size I/O buffers recycled per thread, so a connection
// holds buffers only while it is being served; an idle one holds none.
// Runs in a worker; each thread (and each fiber loop) has its own pool.
#ifndef THRIFTD_WORKERS_BUFFER_POOL_H_
#define THRIFTD_WORKERS_BUFFER_POOL_H_

#include <cstdint>
#include <memory>
#include <vector>

namespace thriftd {

class BufferPool {
 public:
  static constexpr std::uint32_t kBufferSize = 16 * 1024;
  using Buffer = std::unique_ptr<std::uint8_t[]>;

  /// The calling thread's pool.
  static BufferPool& ForThisThread();

  Buffer Take();
  void Give(Buffer buffer);

 private:
  static constexpr std::size_t kMaxKept = 256;  // 4 MiB per thread at most
  std::vector<Buffer> free_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_BUFFER_POOL_H_
