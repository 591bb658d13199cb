#include "workers/header_inflate.h"

#include <zlib.h>

#include <vector>

namespace thriftd {
namespace {

// A header frame: [length][0x0FFF|flags][seqid][header size / 4], then the
// header (varint protocol id, varint transform count, transform ids, info
// headers, zero padding), then the data (THeaderTransport::readHeaderFormat).
constexpr std::size_t kFixedPart = 14;  // length, magic and flags, seqid, header size
constexpr std::uint32_t kHeaderMagic = 0x0fff;
constexpr std::size_t kMaxHeaderSize = 16383 * 4;  // Thrift refuses 16384 words and more

std::uint32_t BigEndian32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void AppendBigEndian32(std::uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void AppendVarint(std::uint32_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// A varint32 at [*at, end): false when it runs past `end` or 5 bytes.
bool ReadVarint(const std::uint8_t* end, const std::uint8_t** at, std::uint32_t* value) {
  std::uint32_t result = 0;
  for (int i = 0; i < 5 && *at < end; ++i) {
    std::uint8_t byte = *(*at)++;
    result |= std::uint32_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80u) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

// One zlib stream (as THeaderTransport::transform writes it) inflated
// whole, to at most `limit` bytes. inflateEnd runs on every path.
Status Inflate(const std::string& in, std::size_t limit, std::string* out) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return Status::Error("zlib: inflateInit failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  out->clear();
  int result = Z_OK;
  constexpr std::size_t kChunk = 64 * 1024;
  while (result == Z_OK) {
    std::size_t used = out->size();
    if (used >= limit + 1) break;
    std::size_t room = std::min(kChunk, limit + 1 - used);  // one byte past: "too large"
    out->resize(used + room);
    stream.next_out = reinterpret_cast<Bytef*>(&(*out)[used]);
    stream.avail_out = static_cast<uInt>(room);
    result = inflate(&stream, Z_NO_FLUSH);
    out->resize(used + room - stream.avail_out);
    if (result == Z_BUF_ERROR && stream.avail_in == 0) break;  // the stream stops short
  }
  const char* message = stream.msg;
  inflateEnd(&stream);
  if (out->size() > limit)
    return Status::Error("zlib data inflates past thrift_max_frame_size (" + std::to_string(limit) +
                         " bytes of data)");
  if (result != Z_STREAM_END) {
    return Status::Error(std::string("zlib data does not inflate (") +
                         (message != nullptr ? message : "the stream stops short") + ")");
  }
  return Status::Ok();
}

}  // namespace

Status InflateHeaderFrame(const std::uint8_t* message, std::size_t length,
                          std::size_t framed_prefix, std::int64_t max_frame_size,
                          std::string* inflated) {
  inflated->clear();
  if (length < framed_prefix + kFixedPart) return Status::Ok();
  const std::uint8_t* frame = message + framed_prefix;
  std::size_t frame_length = length - framed_prefix;
  if ((BigEndian32(frame + 4) >> 16) != kHeaderMagic) return Status::Ok();  // not a header frame
  // The frame's own length is the scanner's (header transport) or checked
  // by it against the framed frame; Thrift refuses one that is short.
  std::size_t claimed = BigEndian32(frame);
  if (claimed + 4 != frame_length) return Status::Ok();
  std::size_t header_size = std::size_t{(std::uint32_t{frame[12]} << 8) | frame[13]} * 4;
  if (header_size > kMaxHeaderSize || kFixedPart + header_size > frame_length) return Status::Ok();
  const std::uint8_t* header = frame + kFixedPart;
  const std::uint8_t* header_end = header + header_size;
  const std::uint8_t* at = header;
  std::uint32_t protocol_id = 0;
  std::uint32_t transforms = 0;
  if (!ReadVarint(header_end, &at, &protocol_id) || !ReadVarint(header_end, &at, &transforms))
    return Status::Ok();
  std::size_t zlib_count = 0;
  std::uint32_t other = 0;
  for (std::uint32_t i = 0; i < transforms; ++i) {
    std::uint32_t id = 0;
    if (!ReadVarint(header_end, &at, &id)) return Status::Ok();
    if (id == kHeaderZlibTransform) {
      ++zlib_count;
    } else {
      other = id;
    }
  }
  if (zlib_count == 0) return Status::Ok();  // Thrift reads it (or refuses it) as it is
  if (zlib_count != transforms) {
    return Status::Error("header transform " + std::to_string(other) +
                         " with the zlib transform is not supported");
  }

  // The header without its transforms: protocol id, no transform, the info
  // headers as they came, zero padding to a multiple of four.
  std::string new_header;
  AppendVarint(protocol_id, &new_header);
  AppendVarint(0, &new_header);
  new_header.append(reinterpret_cast<const char*>(at), static_cast<std::size_t>(header_end - at));
  while (new_header.size() % 4 != 0) new_header.push_back('\0');

  std::size_t fixed = framed_prefix + kFixedPart + new_header.size();
  auto limit = static_cast<std::size_t>(max_frame_size);
  if (limit <= fixed) return Status::Error("header frame larger than thrift_max_frame_size");
  std::string data(reinterpret_cast<const char*>(header_end),
                   static_cast<std::size_t>(frame + frame_length - header_end));
  std::string plain;
  for (std::size_t i = 0; i < zlib_count; ++i) {
    Status status = Inflate(data, limit - fixed, &plain);
    if (!status.ok()) return status;
    data.swap(plain);
  }

  std::size_t new_frame = kFixedPart - 4 + new_header.size() + data.size();
  inflated->reserve(framed_prefix + 4 + new_frame);
  if (framed_prefix != 0) AppendBigEndian32(static_cast<std::uint32_t>(new_frame + 4), inflated);
  AppendBigEndian32(static_cast<std::uint32_t>(new_frame), inflated);
  inflated->append(reinterpret_cast<const char*>(frame + 4), 8);  // magic, flags, seqid
  inflated->push_back(static_cast<char>((new_header.size() / 4) >> 8));
  inflated->push_back(static_cast<char>((new_header.size() / 4) & 0xff));
  inflated->append(new_header);
  inflated->append(data);
  return Status::Ok();
}

}  // namespace thriftd
