#include "workers/message_scanner.h"

namespace thriftd {
namespace {

// Thrift's own recursion limit (TProtocol's default).
constexpr std::size_t kMaxDepth = 64;

// Binary protocol types (TType).
enum BinaryType : int {
  kStop = 0,
  kBool = 2,
  kByte = 3,
  kDouble = 4,
  kI16 = 6,
  kI32 = 8,
  kI64 = 10,
  kString = 11,
  kStruct = 12,
  kMap = 13,
  kSet = 14,
  kList = 15,
};

// Compact protocol types, as on the wire.
enum CompactType : int {
  kCompactTrue = 1,
  kCompactFalse = 2,
  kCompactByte = 3,
  kCompactI16 = 4,
  kCompactI32 = 5,
  kCompactI64 = 6,
  kCompactDouble = 7,
  kCompactBinary = 8,
  kCompactList = 9,
  kCompactSet = 10,
  kCompactMap = 11,
  kCompactStruct = 12,
};

constexpr std::uint32_t kBinaryVersionMask = 0xffff0000u;
constexpr std::uint32_t kBinaryVersion1 = 0x80010000u;
constexpr std::uint8_t kCompactProtocolId = 0x82;
constexpr std::uint8_t kCompactVersion = 1;
constexpr std::uint8_t kCompactVersionMask = 0x1f;

std::uint32_t BigEndian32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// A header-format frame's `length` bytes after its length word: magic and
// flags (4), seqid (4), the header's size in words (2), the header, the
// data. THeaderTransport::readHeaderFormat checks the header's size against
// the frame's without the 10 bytes before it, and reads the header's
// varints up to 10 bytes past its buffer. Empty when it fits, or when this
// is no header frame (framed binary or compact inside the header
// transport) or one Thrift refuses itself (under 10 bytes).
std::string CheckHeaderFormat(const std::uint8_t* frame, std::uint32_t length) {
  constexpr std::uint32_t kHeaderMagic = 0x0fff;
  constexpr std::uint32_t kFixedPart = 10;
  if (length < kFixedPart || (BigEndian32(frame) >> 16) != kHeaderMagic) return {};
  std::uint32_t header = ((std::uint32_t{frame[8]} << 8) | frame[9]) * 4;
  if (kFixedPart + header <= length) return {};
  return "a header of " + std::to_string(header) + " bytes in a header frame of " +
         std::to_string(length) + " bytes";
}

// The bytes a value of `type` always takes, or 0 when it varies.
std::size_t BinaryWidth(int type) {
  switch (type) {
    case kBool:
    case kByte:
      return 1;
    case kI16:
      return 2;
    case kI32:
      return 4;
    case kDouble:
    case kI64:
      return 8;
    default:
      return 0;
  }
}

// A list or set element's width: bools are one byte there, unlike in a field.
std::size_t CompactElementWidth(int type) {
  switch (type) {
    case kCompactTrue:
    case kCompactFalse:
    case kCompactByte:
      return 1;
    case kCompactDouble:
      return 8;
    default:
      return 0;
  }
}

// Reads a varint of at most `max_bytes` at data[at..size). Returns its
// length, 0 when it has not all arrived, or -1 when it runs too long.
int Varint(const std::uint8_t* data, std::size_t size, std::size_t at, int max_bytes,
           std::uint64_t* value) {
  std::uint64_t result = 0;
  for (int i = 0; i < max_bytes; ++i) {
    if (at + i >= size) return 0;
    std::uint8_t byte = data[at + i];
    result |= std::uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80u) == 0) {
      *value = result;
      return i + 1;
    }
  }
  return -1;
}

}  // namespace

MessageScanner::MessageScanner(Framing framing, Encoding encoding, Limits limits)
    : framing_(framing), encoding_(encoding), limits_(limits) {
  Reset();
}

void MessageScanner::Reset() {
  body_ = Body::kUnknown;
  if (framing_ == Framing::kFramed || framing_ == Framing::kFramedHeader) {
    body_ = Body::kFrame;
  } else if (framing_ == Framing::kBuffered) {
    body_ = encoding_ == Encoding::kBinary    ? Body::kBinary
            : encoding_ == Encoding::kCompact ? Body::kCompact
                                              : Body::kJson;
  }
  position_ = 0;
  header_done_ = false;
  stack_.clear();
  pending_type_ = -1;
  pending_in_field_ = false;
  json_depth_ = 0;
  json_in_string_ = false;
  json_escape_ = false;
}

MessageScanner::Result MessageScanner::Scan(const std::uint8_t* data, std::size_t size) {
  if (body_ == Body::kUnknown) {
    Result detected = DetectHeaderBody(data, size);
    if (body_ == Body::kUnknown) return detected;
  }
  switch (body_) {
    case Body::kFrame:
      return ScanFrame(data, size);
    case Body::kBinary:
      return ScanBinary(data, size);
    case Body::kCompact:
      return ScanCompact(data, size);
    case Body::kJson:
      return ScanJson(data, size);
    case Body::kUnknown:
      break;
  }
  return Result{Result::kError, 0, "cannot tell the message's framing"};
}

namespace {

using Result = MessageScanner::Result;

Result Incomplete(std::size_t need) { return Result{Result::kIncomplete, need, {}}; }
Result Complete(std::size_t length) { return Result{Result::kComplete, length, {}}; }
Result Error(std::string why) { return Result{Result::kError, 0, std::move(why)}; }

}  // namespace

// The outcome of one step of a walk: go on, or stop with a result.
struct MessageScanner::Step {
  bool go_on = true;
  Result result;
};

MessageScanner::Step MessageScanner::Stop(Result result) { return Step{false, std::move(result)}; }

MessageScanner::Result MessageScanner::DetectHeaderBody(const std::uint8_t* data,
                                                        std::size_t size) {
  // As THeaderTransport::readFrame decides: an unframed binary or compact
  // message, else a frame (header format, or framed binary or compact).
  if (size < 4) return Incomplete(4);
  std::uint32_t word = BigEndian32(data);
  if ((word & kBinaryVersionMask) == kBinaryVersion1) {
    body_ = Body::kBinary;
  } else if (data[0] == kCompactProtocolId && (data[1] & kCompactVersionMask) == kCompactVersion) {
    body_ = Body::kCompact;
  } else {
    body_ = Body::kFrame;
  }
  return Incomplete(4);
}

MessageScanner::Result MessageScanner::ScanFrame(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return Incomplete(4);
  std::uint32_t length = BigEndian32(data);
  if (length == 0) return Result{Result::kSkip, 4, {}};  // an empty frame (a client's goodbye)
  if (length > 0x7fffffffu || static_cast<std::int64_t>(length) > limits_.max_frame_size) {
    return Error("frame of " + std::to_string(length) +
                 " bytes is larger than thrift_max_frame_size (" +
                 std::to_string(limits_.max_frame_size) + ")");
  }
  std::size_t total = 4 + static_cast<std::size_t>(length);
  if (static_cast<std::int64_t>(total) > limits_.max_message_size) {
    return Error("message larger than thrift_max_message_size (" +
                 std::to_string(limits_.max_message_size) + " bytes)");
  }
  if (size < total) return Incomplete(total);
  std::string why;
  if (framing_ == Framing::kHeader) why = CheckHeaderFormat(data + 4, length);
  if (framing_ == Framing::kFramedHeader) why = CheckInnerFrame(data + 4, length);
  if (!why.empty()) return Error(why);
  return Complete(total);
}

std::string MessageScanner::CheckInnerFrame(const std::uint8_t* content, std::uint32_t length) {
  // THeaderTransport::readFrame over the framed transport reads one unit
  // from the frame: an unframed binary or compact message, read as the
  // protocol asks, or a frame (header format, framed binary or compact),
  // for which it allocates what its length claims, and then reads length
  // minus four bytes more (a wrap-around below four). What it leaves in the
  // framed transport's buffer would be the next call's first bytes, never
  // scanned; so the unit must fill the frame exactly.
  // (Described only on an error: this runs for every call.)
  auto in_frame = [length] { return " in a framed frame of " + std::to_string(length) + " bytes"; };
  if (length < 4) {
    return "a framed frame of " + std::to_string(length) +
           " bytes is too short for the header protocol";
  }
  std::uint32_t word = BigEndian32(content);
  bool binary = (word & kBinaryVersionMask) == kBinaryVersion1;
  bool compact =
      content[0] == kCompactProtocolId && (content[1] & kCompactVersionMask) == kCompactVersion;
  if (!binary && !compact) {
    if (word != length - 4)
      return "header frame of " + std::to_string(word) + " bytes" + in_frame();
    return CheckHeaderFormat(content + 4, word);
  }
  // One inner scanner for the connection's life: its walk keeps its
  // stack's room from call to call.
  Encoding encoding = binary ? Encoding::kBinary : Encoding::kCompact;
  if (inner_ == nullptr) {
    inner_ = std::make_unique<MessageScanner>(Framing::kBuffered, encoding, limits_);
  } else {
    inner_->encoding_ = encoding;
    inner_->Reset();
  }
  Result message = inner_->Scan(content, length);
  if (message.kind == Result::kError) return message.error;
  if (message.kind != Result::kComplete) return "an unfinished message" + in_frame();
  if (message.length != length)
    return "a message of " + std::to_string(message.length) + " bytes" + in_frame();
  return {};
}

MessageScanner::Result MessageScanner::ScanJson(const std::uint8_t* data, std::size_t size) {
  // TJSONProtocol writes a message as one array, [1,"name",type,seqid,{args}]:
  // it ends where that array closes. Only brackets outside strings count.
  for (; position_ < size; ++position_) {
    if (static_cast<std::int64_t>(position_) >= limits_.max_message_size) {
      return Error("message larger than thrift_max_message_size (" +
                   std::to_string(limits_.max_message_size) + " bytes)");
    }
    char c = static_cast<char>(data[position_]);
    if (json_in_string_) {
      if (json_escape_) {
        json_escape_ = false;
      } else if (c == '\\') {
        json_escape_ = true;
      } else if (c == '"') {
        json_in_string_ = false;
      }
      continue;
    }
    if (position_ == 0 && c != '[') return Error("not a JSON protocol message (no '[')");
    if (c == '"') {
      json_in_string_ = true;
    } else if (c == '[' || c == '{') {
      // A level takes up to two brackets here (a field's object and its
      // value's own; a map's array and object), and the message one more.
      if (++json_depth_ > 2 * static_cast<int>(kMaxDepth) + 2)
        return Error("message nested deeper than " + std::to_string(kMaxDepth));
    } else if (c == ']' || c == '}') {
      if (--json_depth_ == 0) return Complete(position_ + 1);
    }
  }
  return Incomplete(size + 1);
}

// --- binary and compact: a walk over structs and containers ------------------

// What a walk over one message looks at: data[*position..size). Each step
// moves *position past what it took only when all of it has arrived.
class MessageScanner::Walk {
 public:
  Walk(const std::uint8_t* data, std::size_t size, std::size_t* position, const Limits& limits)
      : data_(data), size_(size), position_(position), limits_(limits) {}

  /// Whether `length` more bytes from the position have arrived; a stop
  /// (incomplete, or an error past the message size limit) when not.
  bool Have(std::size_t length, Step* step) const {
    std::size_t need = *position_ + length;
    if (static_cast<std::int64_t>(need) > limits_.max_message_size) {
      *step = Stop(Error("message larger than thrift_max_message_size (" +
                         std::to_string(limits_.max_message_size) + " bytes)"));
      return false;
    }
    if (need > size_) {
      *step = Stop(Incomplete(need));
      return false;
    }
    return true;
  }
  /// A length or count read from the message, checked against the limits.
  bool CheckCount(std::int64_t count, const char* what, Step* step) const {
    if (count < 0) {
      *step = Stop(Error(std::string("negative ") + what + " size"));
      return false;
    }
    if (count > limits_.max_message_size) {
      *step = Stop(Error(std::string(what) + " of " + std::to_string(count) +
                         " is larger than thrift_max_message_size (" +
                         std::to_string(limits_.max_message_size) + " bytes)"));
      return false;
    }
    return true;
  }
  /// A varint at the position + `offset`: its length, or 0 with *step set.
  int ReadVarint(std::size_t offset, int max_bytes, std::uint64_t* value, Step* step) const {
    int used = Varint(data_, size_, *position_ + offset, max_bytes, value);
    // Not all there: every byte held from its start on continues it, so it
    // needs at least one byte more than is held.
    if (used == 0) Have(size_ + 1 - *position_, step);
    if (used < 0) *step = Stop(Error("varint longer than " + std::to_string(max_bytes) + " bytes"));
    if (used > 0 && !Have(offset + used, step)) return 0;
    return used > 0 ? used : 0;
  }
  const std::uint8_t* at() const { return data_ + *position_; }
  void Advance(std::size_t length) { *position_ += length; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t* position_;
  const Limits& limits_;
};

MessageScanner::Result MessageScanner::ScanBinary(const std::uint8_t* data, std::size_t size) {
  Walk walk(data, size, &position_, limits_);
  if (!header_done_) {
    // Strict: i32 version|type, i32 name length, name, i32 seqid.
    Step step;
    if (!walk.Have(4, &step)) return step.result;
    std::uint32_t version = BigEndian32(walk.at());
    if ((version & 0x80000000u) == 0)
      return Error("no binary protocol version (an unversioned or non-Thrift message)");
    if ((version & kBinaryVersionMask) != kBinaryVersion1)
      return Error("bad binary protocol version");
    if (!walk.Have(8, &step)) return step.result;
    auto name_length = static_cast<std::int32_t>(BigEndian32(walk.at() + 4));
    if (!walk.CheckCount(name_length, "method name", &step)) return step.result;
    if (!walk.Have(8 + static_cast<std::size_t>(name_length) + 4, &step)) return step.result;
    walk.Advance(8 + static_cast<std::size_t>(name_length) + 4);
    header_done_ = true;
    stack_.push_back(Frame{});  // the arguments
  }
  return WalkBody(walk, /*compact=*/false);
}

MessageScanner::Result MessageScanner::ScanCompact(const std::uint8_t* data, std::size_t size) {
  Walk walk(data, size, &position_, limits_);
  if (!header_done_) {
    // Protocol id, version|type, varint seqid, varint name length, name.
    Step step;
    if (!walk.Have(2, &step)) return step.result;
    if (walk.at()[0] != kCompactProtocolId) return Error("bad compact protocol identifier");
    if ((walk.at()[1] & kCompactVersionMask) != kCompactVersion)
      return Error("bad compact protocol version");
    std::uint64_t seqid = 0;
    int seqid_bytes = walk.ReadVarint(2, 5, &seqid, &step);
    if (seqid_bytes == 0) return step.result;
    std::uint64_t name_length = 0;
    int name_bytes = walk.ReadVarint(2 + seqid_bytes, 5, &name_length, &step);
    if (name_bytes == 0) return step.result;
    if (!walk.CheckCount(static_cast<std::int32_t>(name_length), "method name", &step))
      return step.result;
    std::size_t header = 2 + seqid_bytes + name_bytes + static_cast<std::size_t>(name_length);
    if (!walk.Have(header, &step)) return step.result;
    walk.Advance(header);
    header_done_ = true;
    stack_.push_back(Frame{});
  }
  return WalkBody(walk, /*compact=*/true);
}

MessageScanner::Result MessageScanner::WalkBody(Walk& walk, bool compact) {
  for (;;) {
    if (pending_type_ >= 0) {
      Step step = compact ? CompactValue(walk) : BinaryValue(walk);
      if (!step.go_on) return step.result;
      if (stack_.size() > kMaxDepth)
        return Error("message nested deeper than " + std::to_string(kMaxDepth));
      pending_type_ = -1;
      continue;
    }
    if (stack_.empty()) return Complete(position_);
    Frame& top = stack_.back();
    if (top.kind == Frame::kStruct) {
      Step step = compact ? CompactFieldHeader(walk) : BinaryFieldHeader(walk);
      if (!step.go_on) return step.result;
      continue;
    }
    if (top.remaining == 0) {
      stack_.pop_back();
      continue;
    }
    pending_in_field_ = false;
    if (top.kind == Frame::kList) {
      std::size_t width = compact ? CompactElementWidth(top.element) : BinaryWidth(top.element);
      if (width != 0) {
        // Fixed-size elements: the whole rest of the list at once.
        Step step;
        if (!walk.Have(width * static_cast<std::size_t>(top.remaining), &step)) return step.result;
        walk.Advance(width * static_cast<std::size_t>(top.remaining));
        top.remaining = 0;
        continue;
      }
      --top.remaining;
      pending_type_ = top.element;
      continue;
    }
    pending_type_ = top.key_next ? top.element : top.value;
    if (!top.key_next) --top.remaining;
    top.key_next = !top.key_next;
  }
}

MessageScanner::Step MessageScanner::BinaryFieldHeader(Walk& walk) {
  Step step;
  if (!walk.Have(1, &step)) return step;
  int type = walk.at()[0];
  if (type == kStop) {
    walk.Advance(1);
    stack_.pop_back();
    return step;
  }
  if (!walk.Have(3, &step)) return step;  // type, i16 field id
  walk.Advance(3);
  pending_type_ = type;
  return step;
}

MessageScanner::Step MessageScanner::BinaryValue(Walk& walk) {
  Step step;
  int type = pending_type_;
  if (std::size_t width = BinaryWidth(type)) {
    if (walk.Have(width, &step)) walk.Advance(width);
  } else if (type == kString) {
    if (!walk.Have(4, &step)) return step;
    auto length = static_cast<std::int32_t>(BigEndian32(walk.at()));
    if (!walk.CheckCount(length, "string", &step)) return step;
    if (walk.Have(4 + static_cast<std::size_t>(length), &step))
      walk.Advance(4 + static_cast<std::size_t>(length));
  } else if (type == kStruct) {
    stack_.push_back(Frame{});
  } else if (type == kList || type == kSet || type == kMap) {
    std::size_t header = type == kMap ? 6 : 5;
    if (!walk.Have(header, &step)) return step;
    Frame frame;
    frame.kind = type == kMap ? Frame::kMap : Frame::kList;
    frame.element = walk.at()[0];
    frame.value = type == kMap ? walk.at()[1] : 0;
    auto count = static_cast<std::int32_t>(BigEndian32(walk.at() + header - 4));
    if (!walk.CheckCount(count, "container", &step)) return step;
    frame.remaining = count;
    walk.Advance(header);
    stack_.push_back(frame);
  } else {
    return Stop(Error("unknown field type " + std::to_string(type)));
  }
  return step;
}

MessageScanner::Step MessageScanner::CompactFieldHeader(Walk& walk) {
  Step step;
  if (!walk.Have(1, &step)) return step;
  std::uint8_t header = walk.at()[0];
  if (header == 0) {  // stop
    walk.Advance(1);
    stack_.pop_back();
    return step;
  }
  std::size_t used = 1;
  if ((header >> 4) == 0) {  // no id delta: a zigzag varint id follows
    std::uint64_t id = 0;
    int extra = walk.ReadVarint(1, 5, &id, &step);
    if (extra == 0) return step;
    used += static_cast<std::size_t>(extra);
  }
  walk.Advance(used);
  pending_type_ = header & 0x0f;
  pending_in_field_ = true;
  return step;
}

MessageScanner::Step MessageScanner::CompactValue(Walk& walk) {
  Step step;
  int type = pending_type_;
  std::uint64_t value = 0;
  if (type == kCompactTrue || type == kCompactFalse) {
    // In a field the value is the type itself; in a container, one byte.
    if (!pending_in_field_ && walk.Have(1, &step)) walk.Advance(1);
  } else if (type == kCompactByte || type == kCompactDouble) {
    std::size_t width = type == kCompactByte ? 1 : 8;
    if (walk.Have(width, &step)) walk.Advance(width);
  } else if (type == kCompactI16 || type == kCompactI32 || type == kCompactI64) {
    int used = walk.ReadVarint(0, type == kCompactI64 ? 10 : 5, &value, &step);
    if (used != 0) walk.Advance(static_cast<std::size_t>(used));
  } else if (type == kCompactBinary) {
    int used = walk.ReadVarint(0, 5, &value, &step);
    if (used == 0) return step;
    if (!walk.CheckCount(static_cast<std::int32_t>(value), "string", &step)) return step;
    if (walk.Have(static_cast<std::size_t>(used) + value, &step))
      walk.Advance(static_cast<std::size_t>(used) + value);
  } else if (type == kCompactStruct) {
    stack_.push_back(Frame{});
  } else if (type == kCompactList || type == kCompactSet || type == kCompactMap) {
    return CompactContainer(walk, type);
  } else {
    return Stop(Error("unknown compact field type " + std::to_string(type)));
  }
  return step;
}

MessageScanner::Step MessageScanner::CompactContainer(Walk& walk, int type) {
  Step step;
  Frame frame;
  std::uint64_t count = 0;
  std::size_t used = 0;
  if (type == kCompactMap) {  // varint size, then key and value types if any
    int size_bytes = walk.ReadVarint(0, 5, &count, &step);
    if (size_bytes == 0) return step;
    used = static_cast<std::size_t>(size_bytes);
    frame.kind = Frame::kMap;
    if (count != 0) {
      if (!walk.Have(used + 1, &step)) return step;
      frame.element = walk.at()[used] >> 4;
      frame.value = walk.at()[used] & 0x0f;
      used += 1;
    }
  } else {  // size and element type in one byte; size 15: a varint size follows
    if (!walk.Have(1, &step)) return step;
    frame.kind = Frame::kList;
    frame.element = walk.at()[0] & 0x0f;
    count = walk.at()[0] >> 4;
    used = 1;
    if (count == 15) {
      int extra = walk.ReadVarint(1, 5, &count, &step);
      if (extra == 0) return step;
      used += static_cast<std::size_t>(extra);
    }
  }
  if (!walk.CheckCount(static_cast<std::int32_t>(count), "container", &step)) return step;
  frame.remaining = static_cast<std::int64_t>(count);
  walk.Advance(used);
  stack_.push_back(frame);
  return step;
}

}  // namespace thriftd
