// ZlibStream: the two zlib streams of one connection on the `zlib`
// transport, as Apache Thrift's TZlibTransport clients (C++ and Python) speak
// it: one deflate stream for the whole connection in each direction, straight
// on the socket, each flush of the writer ending in a sync point. Inflated,
// the client's bytes are what the buffered transport carries (binary,
// compact or JSON messages), so the MessageScanner walks them as it walks a
// buffered connection's, and its limits bound what is inflated.
//
// Owned by a Connection; runs in a worker, on whichever thread serves it.
#ifndef THRIFTD_WORKERS_ZLIB_STREAM_H_
#define THRIFTD_WORKERS_ZLIB_STREAM_H_

#include <zlib.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "workers/byte_buffer.h"

namespace thriftd {

class ZlibStream {
 public:
  /// Throws std::bad_alloc when zlib cannot allocate its state (as a
  /// Connection's other members do).
  ZlibStream();
  ~ZlibStream();
  ZlibStream(const ZlibStream&) = delete;
  ZlibStream& operator=(const ZlibStream&) = delete;

  /// Inflates from `in` (dropping what it takes) into `out`, `length` bytes
  /// at most. Returns the bytes written; 0 when nothing more can be
  /// inflated from what `in` held. Sets *error (and returns 0) when the client's stream is no
  /// zlib stream, or has bytes after its end.
  std::size_t Inflate(ByteBuffer& in, std::uint8_t* out, std::size_t length, std::string* error);

  /// Compresses `length` bytes at `bytes`, onto the end of `out` by the
  /// time of the next Flush. A reply comes as one small write per field of
  /// the protocol: they are collected (up to kStagedBytes) and deflated
  /// together, not one deflate() call each.
  void Deflate(const std::uint8_t* bytes, std::size_t length, ByteBuffer& out);
  /// Ends what was compressed so far with a sync point onto `out`: the
  /// client can inflate all of it now (TZlibTransport's own flush does the
  /// same).
  void Flush(ByteBuffer& out);

 private:
  static constexpr std::size_t kStagedBytes = 4096;

  // Compresses `length` bytes (and what deflate holds) with `flush`.
  void Compress(const std::uint8_t* bytes, std::size_t length, int flush, ByteBuffer& out);

  z_stream inflate_{};
  z_stream deflate_{};
  bool ended_ = false;           // the client's stream reached its end (TZlibTransport::finish)
  bool output_pending_ = false;  // the last Inflate filled its room: call again without input
  std::array<std::uint8_t, kStagedBytes> staged_;  // written, not yet deflated
  std::size_t staged_size_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_ZLIB_STREAM_H_
