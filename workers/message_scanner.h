// MessageScanner: finds where the Thrift message at the front of a
// connection's input ends, without decoding it, so a worker runs the App's
// processor only on a message it holds whole. A connection whose message has
// not all arrived waits in the worker's epoll set with its bytes; no thread
// or fiber waits for a slow client (see docs/design.md, "the engine").
//
// It understands the framings thriftd serves: a frame (4-byte length) for the
// framed transport; for the header transport, a header or framed frame (a
// header frame's header must fit it), or an unframed binary or compact
// message, as THeaderTransport detects them; for
// the header protocol over the framed transport, a frame that must hold
// exactly one header or framed frame, or one unframed message (what
// THeaderTransport leaves unread in the framed transport's buffer, or
// reads past it, escapes every check here); and, for the buffered transport, the binary (strict),
// compact and JSON encodings, walked field by field. Limits are enforced here, before anything is
// allocated: a frame over thrift_max_frame_size, a message over thrift_max_message_size, a string
// or container longer than that, nesting deeper than 64, or bytes no Thrift writer produces, are
// errors.
//
// Scanning is incremental: Scan() continues where the last call stopped, so
// a message arriving a byte at a time is walked once, not once per byte.
// Runs in a worker, on whichever thread serves the connection.
#ifndef THRIFTD_WORKERS_MESSAGE_SCANNER_H_
#define THRIFTD_WORKERS_MESSAGE_SCANNER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace thriftd {

class MessageScanner {
 public:
  enum class Framing {
    kBuffered,
    kFramed,
    kHeader,
    kFramedHeader,  ///< a frame holding what the header transport reads
  };
  enum class Encoding { kBinary, kCompact, kJson };

  struct Limits {
    std::int64_t max_frame_size = 16384000;
    std::int64_t max_message_size = 100 * 1024 * 1024;
  };

  /// `encoding` is what the buffered transport carries (framed and header
  /// frames are not looked into).
  MessageScanner(Framing framing, Encoding encoding, Limits limits);

  struct Result {
    enum Kind {
      kIncomplete,  ///< more bytes are needed: at least `length` in all
      kComplete,    ///< the message is the first `length` bytes
      kSkip,        ///< the first `length` bytes are no message (an empty frame): drop them
      kError,       ///< not a message thriftd serves: `error` says why
    };
    Kind kind = kIncomplete;
    std::size_t length = 0;
    std::string error;
  };

  /// Scans the `size` bytes at `data`, the start of a message (the same
  /// bytes as the last call, and maybe more; the memory may have moved).
  /// After kComplete, kSkip or kError, call Reset() before the next message.
  Result Scan(const std::uint8_t* data, std::size_t size);
  /// Forgets the message scanned so far.
  void Reset();

 private:
  enum class Body { kUnknown, kFrame, kBinary, kCompact, kJson };
  /// A struct or container being walked.
  struct Frame {
    enum Kind : std::uint8_t { kStruct, kList, kMap };
    Kind kind = kStruct;
    int element = 0;  ///< list/set: element type; map: key type
    int value = 0;    ///< map: value type
    bool key_next = true;
    std::int64_t remaining = 0;  ///< list elements or map entries left
  };

  class Walk;   // what one Scan() looks at
  struct Step;  // one step of a walk: go on, or stop with a result
  static Step Stop(Result result);
  Result ScanBinary(const std::uint8_t* data, std::size_t size);
  Result ScanCompact(const std::uint8_t* data, std::size_t size);
  /// After the message header: the structs and containers, to the end.
  Result WalkBody(Walk& walk, bool compact);
  Step BinaryFieldHeader(Walk& walk);
  Step BinaryValue(Walk& walk);  // of pending_type_
  Step CompactFieldHeader(Walk& walk);
  Step CompactValue(Walk& walk);  // of pending_type_
  Step CompactContainer(Walk& walk, int type);
  Result ScanJson(const std::uint8_t* data, std::size_t size);
  Result ScanFrame(const std::uint8_t* data, std::size_t size);
  /// kFramedHeader: whether the frame's `length` bytes at `content` hold
  /// exactly one thing THeaderTransport reads (a frame, or an unframed
  /// message); empty when they do, else why not.
  std::string CheckInnerFrame(const std::uint8_t* content, std::uint32_t length);
  /// Decides what the header transport's first four bytes announce.
  Result DetectHeaderBody(const std::uint8_t* data, std::size_t size);

  Framing framing_;
  Encoding encoding_;
  Limits limits_;

  // Where the scan stands, kept across calls.
  Body body_ = Body::kUnknown;
  std::size_t position_ = 0;  // bytes of the message walked so far
  bool header_done_ = false;  // the message header (name, type, seqid) is behind
  std::vector<Frame> stack_;  // open structs and containers, innermost last
  int pending_type_ = -1;     // a value of this type is owed next (-1: none)
  bool pending_in_field_ = false;
  int json_depth_ = 0;  // JSON: open brackets and braces
  bool json_in_string_ = false;
  bool json_escape_ = false;
  // kFramedHeader: walks an unframed message inside a frame (made at the
  // first one).
  std::unique_ptr<MessageScanner> inner_;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_MESSAGE_SCANNER_H_
