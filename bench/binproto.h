// bench/binproto.h: the strict Thrift binary protocol, by hand, for the load
// generator and the raw epoll peer. Only what pingpong needs: encode a call or
// a reply, find where a message ends in a byte stream, and read its header and
// the first field of its struct.
#ifndef THRIFTD_BENCH_BINPROTO_H_
#define THRIFTD_BENCH_BINPROTO_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace binproto {

enum MessageType : std::uint8_t { kCall = 1, kReply = 2, kException = 3, kOneway = 4 };

enum FieldType : std::uint8_t {
  kStop = 0, kBool = 2, kByte = 3, kDouble = 4, kI16 = 6, kI32 = 8, kI64 = 10,
  kString = 11, kStruct = 12, kMap = 13, kSet = 14, kList = 15,
};

inline void PutI32(std::string& out, std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  const char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16),
                     static_cast<char>(u >> 8), static_cast<char>(u)};
  out.append(b, 4);
}
inline void PutI16(std::string& out, std::int16_t v) {
  const auto u = static_cast<std::uint16_t>(v);
  const char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
  out.append(b, 2);
}
inline void PutString(std::string& out, std::string_view s) {
  PutI32(out, static_cast<std::int32_t>(s.size()));
  out.append(s.data(), s.size());
}
inline std::int32_t GetI32(const unsigned char* p) {
  return static_cast<std::int32_t>((std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                                   (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]});
}
inline void SetI32(char* p, std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  p[0] = static_cast<char>(u >> 24);
  p[1] = static_cast<char>(u >> 16);
  p[2] = static_cast<char>(u >> 8);
  p[3] = static_cast<char>(u);
}

/// Appends a message header: strict version word, name, seqid.
inline void PutHeader(std::string& out, MessageType type, std::string_view name,
                      std::int32_t seqid) {
  PutI32(out, static_cast<std::int32_t>(0x80010000u | type));
  PutString(out, name);
  PutI32(out, seqid);
}

inline void PutFieldHeader(std::string& out, FieldType type, std::int16_t id) {
  out.push_back(static_cast<char>(type));
  PutI16(out, id);
}

/// Scans a message from [p, end). Returns its length, 0 if more bytes are
/// needed, or -1 if the bytes are not a strict binary message.
class Scanner {
 public:
  Scanner(const unsigned char* p, const unsigned char* end) : begin_(p), p_(p), end_(end) {}

  std::ptrdiff_t MessageLength() {
    std::int32_t version = 0;
    if (!I32(version)) return need_ ? 0 : -1;
    if ((static_cast<std::uint32_t>(version) & 0xffff0000u) != 0x80010000u) return -1;
    std::int32_t len = 0;
    if (!I32(len)) return need_ ? 0 : -1;
    if (len < 0 || !Skip(static_cast<std::size_t>(len))) return need_ ? 0 : -1;
    if (!Skip(4)) return need_ ? 0 : -1;  // seqid
    if (!SkipValue(kStruct, 0)) return need_ ? 0 : -1;
    return p_ - begin_;
  }

 private:
  bool Skip(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) {
      need_ = true;
      return false;
    }
    p_ += n;
    return true;
  }
  bool I32(std::int32_t& v) {
    if (end_ - p_ < 4) {
      need_ = true;
      return false;
    }
    v = GetI32(p_);
    p_ += 4;
    return true;
  }
  bool SkipValue(std::uint8_t type, int depth) {
    if (depth > 32) return false;
    switch (type) {
      case kBool:
      case kByte: return Skip(1);
      case kI16: return Skip(2);
      case kI32: return Skip(4);
      case kDouble:
      case kI64: return Skip(8);
      case kString: {
        std::int32_t n = 0;
        if (!I32(n)) return false;
        return n >= 0 && Skip(static_cast<std::size_t>(n));
      }
      case kStruct:
        for (;;) {
          if (!Skip(1)) return false;
          const std::uint8_t ft = p_[-1];
          if (ft == kStop) return true;
          if (!Skip(2)) return false;
          if (!SkipValue(ft, depth + 1)) return false;
        }
      case kMap: {
        if (!Skip(2)) return false;
        const std::uint8_t kt = p_[-2], vt = p_[-1];
        std::int32_t n = 0;
        if (!I32(n) || n < 0) return false;
        for (std::int32_t i = 0; i < n; ++i)
          if (!SkipValue(kt, depth + 1) || !SkipValue(vt, depth + 1)) return false;
        return true;
      }
      case kSet:
      case kList: {
        if (!Skip(1)) return false;
        const std::uint8_t et = p_[-1];
        std::int32_t n = 0;
        if (!I32(n) || n < 0) return false;
        for (std::int32_t i = 0; i < n; ++i)
          if (!SkipValue(et, depth + 1)) return false;
        return true;
      }
      default: return false;
    }
  }

  const unsigned char* begin_;
  const unsigned char* p_;
  const unsigned char* end_;
  bool need_ = false;
};

/// The header of a complete message, and where its struct begins.
struct Header {
  std::uint8_t type = 0;
  std::string_view name;
  std::int32_t seqid = 0;
  const unsigned char* body = nullptr;  ///< the first field header of the struct
};

/// Reads the header of a message already known complete (see Scanner).
inline Header ReadHeader(const unsigned char* p) {
  Header h;
  h.type = static_cast<std::uint8_t>(static_cast<std::uint32_t>(GetI32(p)) & 0xff);
  const auto len = static_cast<std::size_t>(GetI32(p + 4));
  h.name = std::string_view(reinterpret_cast<const char*>(p + 8), len);
  h.seqid = GetI32(p + 8 + len);
  h.body = p + 12 + len;
  return h;
}

}  // namespace binproto

#endif  // THRIFTD_BENCH_BINPROTO_H_
