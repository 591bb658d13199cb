// MessageScanner: where a message ends, for every message Apache Thrift's
// own protocols and transports write, and why bytes no Thrift writer
// produces are refused.
#include "workers/message_scanner.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "scanner_types_types.h"
#include "tests/unit/worker_fixture.h"
#include "workers/thrift_factories.h"

namespace thriftd {
namespace {

using apache::thrift::protocol::T_CALL;
using apache::thrift::protocol::T_STRUCT;
using apache::thrift::protocol::TProtocol;
using thriftd_test::ClientStack;
using thriftd_test::EncodeMessage;
using thriftd_test::MakeClientStack;
using thriftd_test::Wire;
using Result = MessageScanner::Result;

/// The scanner a server with `server`'s transport and protocol uses.
MessageScanner ScannerFor(const Wire& server, MessageScanner::Limits limits = {}) {
  WorkerSettings settings;
  ListenerSettings listener;
  listener.thrift_transport_factory = server.transport;
  listener.thrift_protocol_factory = server.protocol;
  settings.thrift_max_frame_size = limits.max_frame_size;
  settings.thrift_max_message_size = limits.max_message_size;
  return MakeScanner(settings, listener);
}

Result ScanOnce(const Wire& server, const std::string& bytes, MessageScanner::Limits limits = {}) {
  MessageScanner scanner = ScannerFor(server, limits);
  return scanner.Scan(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

scanner_test::Everything MakeEverything() {
  using scanner_test::Point;
  auto point = [](std::int32_t x, std::int32_t y) {
    Point p;
    p.x = x;
    p.y = y;
    return p;
  };
  scanner_test::Everything e;
  e.yes = true;
  e.no = false;
  e.tiny = -7;
  e.small = -1234;
  e.medium = std::numeric_limits<std::int32_t>::min();
  e.large = std::numeric_limits<std::int64_t>::max();
  e.real = -2.5e-300;
  // What a JSON walk must not take for structure: quotes, escapes, brackets.
  e.text = "a \"quoted\" [string] {with} \\ brackets ]} \\\" \n\t\x01 and \xc3\xa9";
  e.blob = std::string("\0\xff[\"]{}\\", 8);
  for (int i = 0; i < 256; ++i) e.blob += static_cast<char>(i);
  e.color = scanner_test::Color::BLUE;
  e.point = point(3, -4);
  e.point.__set_label("origin");
  e.shape.name = "triangle";
  e.shape.corners = {point(0, 0), point(10, 0), point(0, 10)};
  e.shape.center = point(3, 3);
  e.ints = {0, -1, 1, std::numeric_limits<std::int32_t>::max(), 300, -300};
  e.longs = {std::numeric_limits<std::int64_t>::min(), 0, 1LL << 40};
  e.weights = {{1, 0.5}, {-2, 1e10}, {300, -0.0}};
  e.names = {"", "a", std::string(300, 'n')};  // compact: a two-byte length
  e.tags = {"x", "y", "z"};
  e.labels = {{"k", "v"}, {"[", "]"}, {"\"", "\\"}};
  for (int i = 0; i < 20; ++i) e.points.push_back(point(i, -i));
  e.places = {{"home", point(1, 2)}, {"work", point(3, 4)}};
  e.flags = {true, false, true, true};
  e.bits = {{true, 1}, {false, -1}};
  e.grid = {{1, 2}, {}, {3}};
  e.index = {{1, {"a", "b"}}, {2, {}}};
  for (int i = 0; i < 20; ++i) e.octets.push_back(static_cast<std::int8_t>(i * 13));
  e.shorts = {1, -1, 1000, -32768};
  for (int i = 0; i < 100; ++i) e.many.push_back(i * 7 - 1000);
  for (int i = 0; i < 60; ++i) e.doubles.push_back(i * 0.25);
  e.far = "far away";
  return e;
}

std::string EncodeEverything(const Wire& client, std::int32_t seqid = 7) {
  return EncodeMessage(client, "take", T_CALL, seqid, MakeEverything());
}

/// Checks that `message` is found whole, and not before its last byte:
/// with a fresh scanner on every proper prefix (each copied to an
/// allocation of its own size, so that a read past it fails under
/// AddressSanitizer), and with one scanner fed a byte more at a time. An
/// incomplete message never asks for more than the message holds.
void CheckFoundWhole(const Wire& server, const std::string& message) {
  const std::size_t n = message.size();
  auto prefix = [&](std::size_t k) {
    return std::vector<std::uint8_t>(message.begin(), message.begin() + static_cast<long>(k));
  };
  auto describe = [](std::size_t k, const Result& r) {
    return "prefix of " + std::to_string(k) + " bytes: kind " + std::to_string(r.kind) +
           ", length " + std::to_string(r.length) + ", error '" + r.error + "'";
  };
  std::string first_wrong;
  for (std::size_t k = 0; k < n && first_wrong.empty(); ++k) {
    std::vector<std::uint8_t> bytes = prefix(k);
    MessageScanner scanner = ScannerFor(server);
    Result r = scanner.Scan(bytes.data(), k);
    if (r.kind != Result::kIncomplete || r.length <= k || r.length > n)
      first_wrong = "fresh scanner, " + describe(k, r);
  }
  MessageScanner incremental = ScannerFor(server);
  for (std::size_t k = 0; k < n && first_wrong.empty(); ++k) {
    std::vector<std::uint8_t> bytes = prefix(k);
    Result r = incremental.Scan(bytes.data(), k);
    if (r.kind != Result::kIncomplete || r.length <= k || r.length > n)
      first_wrong = "incremental scanner, " + describe(k, r);
  }
  CHECK(first_wrong == "");
  std::vector<std::uint8_t> whole = prefix(n);
  Result last = incremental.Scan(whole.data(), n);
  CHECK(last.kind == Result::kComplete);
  CHECK(last.length == n);
  MessageScanner fresh = ScannerFor(server);
  Result once = fresh.Scan(whole.data(), n);
  CHECK(once.kind == Result::kComplete);
  CHECK(once.length == n);
}

struct Case {
  const char* what;
  Wire client;
  Wire server;
};

const Case kCases[] = {
    {"buffered binary", {"buffered", "binary"}, {"buffered", "binary"}},
    {"buffered compact", {"buffered", "compact"}, {"buffered", "compact"}},
    {"buffered JSON", {"buffered", "json"}, {"buffered", "json"}},
    {"framed binary", {"framed", "binary"}, {"framed", "binary"}},
    {"framed compact", {"framed", "compact"}, {"framed", "compact"}},
    {"framed JSON", {"framed", "json"}, {"framed", "json"}},
    {"header transport: unframed binary", {"buffered", "binary"}, {"header", "binary"}},
    {"header transport: unframed compact", {"buffered", "compact"}, {"header", "compact"}},
    {"header transport: framed binary", {"framed", "binary"}, {"header", "binary"}},
    {"header transport: framed compact", {"framed", "compact"}, {"header", "compact"}},
    {"header transport: header frame, binary", {"header", "binary"}, {"header", "binary"}},
    {"header transport: header frame, compact", {"header", "compact"}, {"header", "compact"}},
    {"header protocol", {"header", "header"}, {"header", "header"}},
};

TEST_CASE("every prefix of a message Apache Thrift writes is incomplete; the whole is complete") {
  for (const Case& c : kCases) {
    SUBCASE(c.what) {
      std::string message = EncodeEverything(c.client);
      CheckFoundWhole(c.server, message);
    }
  }
}

TEST_CASE("a header frame with a zlib transform is found whole") {
  auto memory = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  auto protocol = std::make_shared<apache::thrift::protocol::THeaderProtocol>(memory);
  auto header = std::static_pointer_cast<apache::thrift::transport::THeaderTransport>(
      protocol->getTransport());
  header->setTransform(apache::thrift::transport::THeaderTransport::ZLIB_TRANSFORM);
  protocol->writeMessageBegin("take", T_CALL, 7);
  MakeEverything().write(protocol.get());
  protocol->writeMessageEnd();
  header->writeEnd();
  header->flush();
  CheckFoundWhole({"header", "header"}, memory->getBufferAsString());
}

TEST_CASE("of two pipelined messages, the first's length; after Reset, the second's") {
  for (const Case& c : kCases) {
    SUBCASE(c.what) {
      std::string first = EncodeEverything(c.client, 1);
      std::string second = thriftd_test::PingCall(2, c.client);
      std::string both = first + second;
      MessageScanner scanner = ScannerFor(c.server);
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(both.data());
      Result r = scanner.Scan(bytes, both.size());
      CHECK(r.kind == Result::kComplete);
      CHECK(r.length == first.size());
      scanner.Reset();
      r = scanner.Scan(bytes + first.size(), second.size());
      CHECK(r.kind == Result::kComplete);
      CHECK(r.length == second.size());
    }
  }
}

TEST_CASE("a large list of fixed-size elements is passed in one step, its end asked for") {
  // Once the list's header is in, the scanner asks for the list's whole
  // length (what the connection then reads in one go): the message ends one
  // byte later, with the struct's stop.
  SUBCASE("binary, i64") {
    scanner_test::Bulk bulk;
    for (int i = 0; i < 200000; ++i) bulk.values.push_back(i);
    std::string message = EncodeMessage({}, "take", T_CALL, 1, bulk);
    std::size_t header = 4 + 4 + 4 + 4 + 3 + 5;  // version, name, seqid, field, list
    REQUIRE(message.size() == header + 8 * 200000 + 1);
    Result r = ScanOnce({}, message.substr(0, header));
    CHECK(r.kind == Result::kIncomplete);
    CHECK(r.length == message.size() - 1);
    r = ScanOnce({}, message.substr(0, message.size() - 1));
    CHECK(r.kind == Result::kIncomplete);
    CHECK(r.length == message.size());
    r = ScanOnce({}, message);
    CHECK(r.kind == Result::kComplete);
    CHECK(r.length == message.size());
  }
  SUBCASE("compact, double") {
    Wire compact{"buffered", "compact"};
    scanner_test::BulkDoubles bulk;
    for (int i = 0; i < 200000; ++i) bulk.values.push_back(i * 0.5);
    std::string message = EncodeMessage(compact, "take", T_CALL, 1, bulk);
    // Id and version, seqid, name length, name; field; list header (type
    // and size nibble 15, then the size as a three-byte varint).
    std::size_t header = 2 + 1 + 1 + 4 + 1 + 1 + 3;
    REQUIRE(message.size() == header + 8 * 200000 + 1);
    Result r = ScanOnce(compact, message.substr(0, header));
    CHECK(r.kind == Result::kIncomplete);
    CHECK(r.length == message.size() - 1);
    r = ScanOnce(compact, message);
    CHECK(r.kind == Result::kComplete);
    CHECK(r.length == message.size());
  }
}

// --- messages nested deep -------------------------------------------------------------

/// A call whose arguments are `depth` structs, each the only field of the
/// one around it (the arguments themselves are the first).
std::string Nested(const Wire& wire, int depth) {
  ClientStack stack = MakeClientStack(wire);
  TProtocol& out = *stack.protocol;
  out.writeMessageBegin("deep", T_CALL, 1);
  out.writeStructBegin("args");
  for (int i = 1; i < depth; ++i) {
    out.writeFieldBegin("inner", T_STRUCT, 1);
    out.writeStructBegin("inner");
  }
  for (int i = 1; i < depth; ++i) {
    out.writeFieldStop();
    out.writeStructEnd();
    out.writeFieldEnd();
  }
  out.writeFieldStop();
  out.writeStructEnd();
  out.writeMessageEnd();
  stack.transport->writeEnd();
  stack.transport->flush();
  return stack.memory->getBufferAsString();
}

TEST_CASE("structs nested 64 deep are found whole, as Thrift reads them; deeper is an error") {
  // TProtocol's recursion limit: Apache Thrift reads 64 nested structs.
  for (const char* protocol : {"binary", "compact", "json"}) {
    SUBCASE(protocol) {
      Wire wire{"buffered", protocol};
      std::string ok = Nested(wire, 64);
      Result r = ScanOnce(wire, ok);
      CHECK(r.kind == Result::kComplete);
      CHECK(r.length == ok.size());
      r = ScanOnce(wire, Nested(wire, 200));
      CHECK(r.kind == Result::kError);
      CHECK(r.error == "message nested deeper than 64");
    }
  }
  SUBCASE("binary and compact: the 65th level is the error") {
    for (const char* protocol : {"binary", "compact"}) {
      Wire wire{"buffered", protocol};
      Result r = ScanOnce(wire, Nested(wire, 65));
      CHECK(r.kind == Result::kError);
      CHECK(r.error == "message nested deeper than 64");
    }
  }
}

// --- bytes no Thrift writer produces ----------------------------------------------------

std::string Be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

/// A strict binary call to "m", seqid 1, up to its first field.
std::string BinaryCall() { return Be32(0x80010001u) + Be32(1) + "m" + Be32(1); }

std::string BinaryField(int type, int id) {
  return {static_cast<char>(type), static_cast<char>(id >> 8), static_cast<char>(id)};
}

/// A compact call to "m", seqid 1, up to its first field.
std::string CompactCall() { return std::string("\x82\x21\x01\x01m", 5); }

void CheckError(const Wire& server, const std::string& bytes, const std::string& error,
                MessageScanner::Limits limits = {}) {
  Result r = ScanOnce(server, bytes, limits);
  CHECK(r.kind == Result::kError);
  CHECK(r.error == error);
}

const Wire kBinary{"buffered", "binary"};
const Wire kCompact{"buffered", "compact"};
const Wire kJson{"buffered", "json"};
const Wire kFramed{"framed", "binary"};
const Wire kHeader{"header", "binary"};

TEST_CASE("an unversioned binary message is refused") {
  // What TBinaryProtocol writes with strict_write off: the name's length first.
  auto memory = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  apache::thrift::protocol::TBinaryProtocol loose(memory);
  loose.setStrict(false, false);
  loose.writeMessageBegin("ping", T_CALL, 1);
  pingpong::PingPong_ping_pargs().write(&loose);
  loose.writeMessageEnd();
  CheckError(kBinary, memory->getBufferAsString(),
             "no binary protocol version (an unversioned or non-Thrift message)");
}

TEST_CASE("an HTTP request is refused in every framing, before anything is allocated") {
  const std::string http = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  CheckError(kBinary, http, "no binary protocol version (an unversioned or non-Thrift message)");
  CheckError(kCompact, http, "bad compact protocol identifier");
  CheckError(kJson, http, "not a JSON protocol message (no '[')");
  // "GET " read as a frame length is 1,195,725,856 bytes.
  CheckError(kFramed, http,
             "frame of 1195725856 bytes is larger than thrift_max_frame_size (16384000)");
  CheckError(kHeader, http,
             "frame of 1195725856 bytes is larger than thrift_max_frame_size (16384000)");
}

TEST_CASE("garbage is refused") {
  CheckError(kBinary, Be32(0x80020001u) + Be32(1) + "m" + Be32(1), "bad binary protocol version");
  CheckError(kCompact, std::string("\x82\x25\x01\x01m", 5), "bad compact protocol version");
  CheckError(kCompact, std::string("\x82\x21\x80\x80\x80\x80\x80\x01", 8),
             "varint longer than 5 bytes");
  CheckError(kJson, "{\"1\":2}", "not a JSON protocol message (no '[')");
}

TEST_CASE("a negative or oversized length is refused, naming thrift_max_message_size") {
  SUBCASE("binary string") {
    CheckError(kBinary, BinaryCall() + BinaryField(11, 1) + Be32(0xffffffffu),
               "negative string size");
    CheckError(kBinary, BinaryCall() + BinaryField(11, 1) + Be32(200000000),
               "string of 200000000 is larger than thrift_max_message_size (104857600 bytes)");
  }
  SUBCASE("binary method name") {
    CheckError(kBinary, Be32(0x80010001u) + Be32(0xfffffff0u), "negative method name size");
  }
  SUBCASE("binary list and map") {
    CheckError(kBinary, BinaryCall() + BinaryField(15, 1) + "\x08" + Be32(0xfffffffbu),
               "negative container size");
    CheckError(kBinary, BinaryCall() + BinaryField(13, 1) + "\x08\x08" + Be32(1u << 30),
               "container of 1073741824 is larger than thrift_max_message_size (104857600 bytes)");
    // A count within the limit whose elements are not: 50M i64s.
    CheckError(kBinary, BinaryCall() + BinaryField(15, 1) + "\x0a" + Be32(50000000),
               "message larger than thrift_max_message_size (104857600 bytes)");
  }
  SUBCASE("compact binary and list") {
    CheckError(kCompact, CompactCall() + "\x18" + std::string("\xff\xff\xff\xff\x0f", 5),
               "negative string size");
    CheckError(kCompact, CompactCall() + "\x18" + std::string("\x80\x84\xaf\x5f", 4),
               "string of 200000000 is larger than thrift_max_message_size (104857600 bytes)");
    CheckError(kCompact, CompactCall() + "\x19" + "\xf5" + std::string("\x80\x80\x80\x80\x04", 5),
               "container of 1073741824 is larger than thrift_max_message_size (104857600 bytes)");
  }
  SUBCASE("a message growing past a small limit") {
    CheckError(kBinary, thriftd_test::EchoCall(std::string(2000, 'x'), 1),
               "string of 2000 is larger than thrift_max_message_size (1000 bytes)",
               {16384000, 1000});
    CheckError(kBinary, EncodeEverything(kBinary),
               "message larger than thrift_max_message_size (1000 bytes)", {16384000, 1000});
    CheckError(kCompact, EncodeEverything(kCompact),
               "message larger than thrift_max_message_size (1000 bytes)", {16384000, 1000});
    CheckError(kJson, thriftd_test::EchoCall(std::string(2000, 'x'), 1, kJson),
               "message larger than thrift_max_message_size (1000 bytes)", {16384000, 1000});
  }
}

TEST_CASE("a frame larger than thrift_max_frame_size is refused") {
  CheckError(kFramed, Be32(16384001),
             "frame of 16384001 bytes is larger than "
             "thrift_max_frame_size (16384000)");
  CheckError(kHeader, Be32(16384001),
             "frame of 16384001 bytes is larger than "
             "thrift_max_frame_size (16384000)");
  CheckError(kFramed, Be32(5000), "frame of 5000 bytes is larger than thrift_max_frame_size (4096)",
             {4096, 104857600});
  CheckError(kFramed, Be32(5000), "message larger than thrift_max_message_size (4000 bytes)",
             {16384000, 4000});
  // A frame within the limit is not refused before its bytes arrive.
  Result r = ScanOnce(kFramed, Be32(16384000));
  CHECK(r.kind == Result::kIncomplete);
  CHECK(r.length == 16384004);
}

TEST_CASE("the header protocol over framed: a framed frame holding a header frame is whole") {
  const Wire framed_header{"framed", "header"};
  std::string bytes = EncodeEverything(framed_header);
  // What Apache Thrift's TestClient writes: the framed frame's length, then
  // the header frame's own, four less.
  REQUIRE(bytes.size() > 12);
  CHECK(bytes.substr(0, 4) == Be32(static_cast<std::uint32_t>(bytes.size() - 4)));
  CHECK(bytes.substr(4, 4) == Be32(static_cast<std::uint32_t>(bytes.size() - 8)));
  CHECK(bytes.substr(8, 2) == "\x0f\xff");
  for (std::size_t k = 0; k < bytes.size(); ++k) {
    Result r = ScanOnce(framed_header, bytes.substr(0, k));
    REQUIRE(r.kind == Result::kIncomplete);
  }
  Result whole = ScanOnce(framed_header, bytes + PingCall(2, framed_header));
  CHECK(whole.kind == Result::kComplete);
  CHECK(whole.length == bytes.size());
  // Framed binary and compact messages are read inside frames too.
  for (const Wire& inner : {kFramed, Wire{"framed", "compact"}}) {
    std::string message = EncodeEverything(inner);
    Result r = ScanOnce(framed_header, message);
    CHECK(r.kind == Result::kComplete);
    CHECK(r.length == message.size());
  }
}

TEST_CASE("regression: a header frame claiming more than its framed frame is refused") {
  // THeaderTransport makes room for what the inner length claims before
  // reading it: 1 GiB for these 12 bytes.
  const Wire framed_header{"framed", "header"};
  CheckError(framed_header, Be32(8) + Be32(0x3ffffff0u) + Be32(0x0fff0000u),
             "header frame of 1073741808 bytes in a framed frame of 8 bytes");
  CheckError(framed_header, Be32(12) + Be32(9) + Be32(0x0fff0000u) + Be32(0),
             "header frame of 9 bytes in a framed frame of 12 bytes");
  Result fits = ScanOnce(framed_header, Be32(12) + Be32(8) + Be32(0x0fff0000u) + Be32(0));
  CHECK(fits.kind == Result::kComplete);
  // Found by fuzzing: a frame of 0 bytes before a binary version made
  // THeaderTransport read 2^32 - 4 bytes into its 4-byte buffer.
  CheckError(framed_header, Be32(12) + Be32(0) + Be32(0x80010001u) + Be32(0),
             "header frame of 0 bytes in a framed frame of 12 bytes");
  // What a shorter frame leaves in the framed transport's buffer would be
  // the next call's start, never scanned (the fuzzer's next frame claimed
  // 284 KiB there).
  CheckError(framed_header, Be32(16) + Be32(8) + Be32(0x0fff0000u) + Be32(0) + Be32(0x7ffff),
             "header frame of 8 bytes in a framed frame of 16 bytes");
  CheckError(framed_header, Be32(2) + "ab",
             "a framed frame of 2 bytes is too short for the header protocol");
  // So too after an unframed message inside the frame, or before its end.
  std::string ping = PingCall(3, kBinary);
  CheckError(framed_header,
             Be32(static_cast<std::uint32_t>(ping.size() + 4)) + ping + Be32(0x7ffff),
             "a message of " + std::to_string(ping.size()) + " bytes in a framed frame of " +
                 std::to_string(ping.size() + 4) + " bytes");
  CheckError(
      framed_header,
      Be32(static_cast<std::uint32_t>(ping.size() - 1)) + ping.substr(0, ping.size() - 1),
      "an unfinished message in a framed frame of " + std::to_string(ping.size() - 1) + " bytes");
  // Without the header protocol the frame's content is not looked into.
  Result plain = ScanOnce(kFramed, Be32(8) + Be32(0x3ffffff0u) + Be32(0x0fff0000u));
  CHECK(plain.kind == Result::kComplete);
}

TEST_CASE("a header frame whose header runs past it is refused") {
  // THeaderTransport compares the header's size with the frame's, not with
  // what is left after the frame's first 10 bytes, and reads past its
  // buffer: here a header of 4 bytes where 2 are left.
  const std::string fixed = std::string("\x0f\xff\x00\x00", 4) + Be32(1);
  const Wire framed_header{"framed", "header"};
  CheckError(kHeader, Be32(12) + fixed + std::string("\x00\x01\x00\x00", 4),
             "a header of 4 bytes in a header frame of 12 bytes");
  CheckError(framed_header, Be32(16) + Be32(12) + fixed + std::string("\x00\x01\x00\x00", 4),
             "a header of 4 bytes in a header frame of 12 bytes");
  // One that fits is Thrift's to read.
  std::string fits = Be32(14) + fixed + std::string("\x00\x01\x00\x00\x00\x00", 6);
  CHECK(ScanOnce(kHeader, fits).kind == Result::kComplete);
  CHECK(ScanOnce(framed_header, Be32(18) + fits).kind == Result::kComplete);
}

TEST_CASE("an unknown field type is refused") {
  CheckError(kBinary, BinaryCall() + BinaryField(5, 1) + "xxxx", "unknown field type 5");
  CheckError(kBinary, BinaryCall() + BinaryField(1, 1), "unknown field type 1");
  CheckError(kBinary, BinaryCall() + BinaryField(15, 1) + "\x10" + Be32(1) + "xxxx",
             "unknown field type 16");
  CheckError(kCompact, CompactCall() + "\x1d", "unknown compact field type 13");
}

TEST_CASE("an empty frame is skipped: kSkip of its four bytes") {
  for (const Wire& wire : {kFramed, kHeader}) {
    std::string bytes = Be32(0) + thriftd_test::PingCall(1, wire);
    Result r = ScanOnce(wire, bytes);
    CHECK(r.kind == Result::kSkip);
    CHECK(r.length == 4);
  }
}

TEST_CASE("the header transport tells unframed binary, unframed compact and frames apart") {
  // Each prefix asks for what the matching scanner asks for: after the
  // first four bytes, the header scanner walks like that one.
  struct Detected {
    const char* what;
    Wire client;
    Wire same_as;
  };
  for (const Detected& d :
       {Detected{"unframed binary", kBinary, kBinary},
        Detected{"unframed compact", kCompact, kCompact}, Detected{"framed", kFramed, kFramed},
        Detected{"header frame", {"header", "header"}, kFramed}}) {
    SUBCASE(d.what) {
      std::string message = EncodeEverything(d.client);
      std::string first_difference;
      for (std::size_t k = 0; k <= message.size() && first_difference.empty(); ++k) {
        Result header = ScanOnce(kHeader, message.substr(0, k));
        Result same = ScanOnce(d.same_as, message.substr(0, k));
        if (k < 4) {
          if (header.kind != Result::kIncomplete || header.length != 4)
            first_difference = "prefix " + std::to_string(k) + ": not Incomplete(4)";
        } else if (header.kind != same.kind || header.length != same.length) {
          first_difference = "prefix " + std::to_string(k) + ": header scanner says " +
                             std::to_string(header.kind) + "/" + std::to_string(header.length) +
                             ", the " + d.same_as.Name() + " one " + std::to_string(same.kind) +
                             "/" + std::to_string(same.length);
        }
      }
      CHECK(first_difference == "");
    }
  }
}

}  // namespace
}  // namespace thriftd
