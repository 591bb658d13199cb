#include "workers/zlib_stream.h"

#include <cstring>
#include <new>

namespace thriftd {
namespace {

// The reply stream's window and memory level: 24 KiB of deflate state per
// connection instead of zlib's default 256 KiB. Any inflater takes a stream
// with a smaller window than its own (the zlib header says which).
constexpr int kDeflateWindowBits = 12;
constexpr int kDeflateMemLevel = 4;

}  // namespace

ZlibStream::ZlibStream() {
  if (inflateInit(&inflate_) != Z_OK) throw std::bad_alloc();
  if (deflateInit2(&deflate_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kDeflateWindowBits,
                   kDeflateMemLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    inflateEnd(&inflate_);
    throw std::bad_alloc();
  }
}

ZlibStream::~ZlibStream() {
  inflateEnd(&inflate_);
  deflateEnd(&deflate_);
}

std::size_t ZlibStream::Inflate(ByteBuffer& in, std::uint8_t* out, std::size_t length,
                                std::string* error) {
  if ((in.empty() && !output_pending_) || length == 0) return 0;
  if (ended_) {
    *error = "zlib transport: bytes after the end of the client's zlib stream";
    return 0;
  }
  inflate_.next_in = in.empty() ? nullptr : const_cast<Bytef*>(in.data());
  inflate_.avail_in = static_cast<uInt>(in.size());
  inflate_.next_out = out;
  inflate_.avail_out = static_cast<uInt>(length);
  int result = inflate(&inflate_, Z_SYNC_FLUSH);
  in.Consume(in.size() - inflate_.avail_in);
  std::size_t written = length - inflate_.avail_out;
  output_pending_ = inflate_.avail_out == 0;  // it may hold more output than there was room for
  if (result == Z_STREAM_END) {
    ended_ = true;
  } else if (result != Z_OK && result != Z_BUF_ERROR) {  // BUF_ERROR: no progress possible yet
    *error =
        std::string("zlib transport: the client's data does not inflate (") +
        (inflate_.msg != nullptr ? std::string(inflate_.msg) : "error " + std::to_string(result)) +
        ")";
    return 0;
  }
  return written;
}

void ZlibStream::Deflate(const std::uint8_t* bytes, std::size_t length, ByteBuffer& out) {
  if (staged_size_ + length > staged_.size()) {
    if (staged_size_ > 0) Compress(staged_.data(), staged_size_, Z_NO_FLUSH, out);
    staged_size_ = 0;
    if (length >= staged_.size()) {  // a large write (a string's bytes): as it is
      Compress(bytes, length, Z_NO_FLUSH, out);
      return;
    }
  }
  std::memcpy(staged_.data() + staged_size_, bytes, length);
  staged_size_ += length;
}

void ZlibStream::Flush(ByteBuffer& out) {
  Compress(staged_.data(), staged_size_, Z_SYNC_FLUSH, out);
  staged_size_ = 0;
}

void ZlibStream::Compress(const std::uint8_t* bytes, std::size_t length, int flush,
                          ByteBuffer& out) {
  deflate_.next_in = const_cast<Bytef*>(bytes);
  deflate_.avail_in = static_cast<uInt>(length);
  for (;;) {
    std::size_t bound = deflateBound(&deflate_, deflate_.avail_in) + 16;
    out.Reserve(out.size() + bound);
    deflate_.next_out = out.room();
    deflate_.avail_out = static_cast<uInt>(out.room_size());
    std::size_t room = out.room_size();
    // With room for the bound, deflate takes all input; Z_BUF_ERROR only
    // says there was nothing left to do.
    deflate(&deflate_, flush);
    out.Commit(room - deflate_.avail_out);
    if (deflate_.avail_in == 0 && deflate_.avail_out != 0) return;
  }
}

}  // namespace thriftd
