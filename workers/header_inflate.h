// Inflates a header-transport frame whose data the ZLIB transform
// compressed, before Apache Thrift reads it. THeaderTransport (0.17) inflates
// such a frame itself, but into a buffer sized by its write buffer and with
// no bound of ours, and a frame that fails to inflate leaves its z_stream
// behind (about 7 KiB each: a hostile client grows the worker). thriftd
// inflates it here instead, up to thrift_max_frame_size, and hands Thrift the
// same frame uncompressed, with the transform taken out of its header.
// Runs in a worker, on the thread (or fiber) serving the connection.
#ifndef THRIFTD_WORKERS_HEADER_INFLATE_H_
#define THRIFTD_WORKERS_HEADER_INFLATE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "src/base/status.h"

namespace thriftd {

/// The header transport's ZLIB transform id (THeaderTransport::ZLIB_TRANSFORM).
constexpr std::uint32_t kHeaderZlibTransform = 1;

/// `message` is one whole message as the MessageScanner found it for the
/// header transport (`framed_prefix` 0) or for the header protocol over
/// the framed transport (`framed_prefix` 4: the framed frame's length comes
/// first). When it is a header frame with the ZLIB transform, sets
/// *inflated to the same message with the data inflated and the transform
/// dropped (lengths and header size rewritten); otherwise leaves *inflated
/// empty (serve `message` as it is: Thrift refuses what it cannot read).
/// An error (the data does not inflate, inflates past `max_frame_size`, or
/// mixes ZLIB with a transform Thrift does not know) closes the connection.
Status InflateHeaderFrame(const std::uint8_t* message, std::size_t length,
                          std::size_t framed_prefix, std::int64_t max_frame_size,
                          std::string* inflated);

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_HEADER_INFLATE_H_
