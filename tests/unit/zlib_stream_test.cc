// ZlibStream: the zlib transport's two streams, against zlib as Apache
// Thrift's TZlibTransport uses it (one stream a connection, a sync point
// after each flush).
#include "workers/zlib_stream.h"

#include <doctest/doctest.h>

#include <zlib.h>

#include <string>
#include <vector>

namespace thriftd {
namespace {

/// What a TZlibTransport writer sends for `pieces`, each flushed.
std::string Compress(const std::vector<std::string>& pieces, bool finish = false) {
  z_stream stream{};
  REQUIRE(deflateInit(&stream, Z_DEFAULT_COMPRESSION) == Z_OK);
  std::string out;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(pieces[i].data()));
    stream.avail_in = static_cast<uInt>(pieces[i].size());
    int flush = finish && i + 1 == pieces.size() ? Z_FINISH : Z_FULL_FLUSH;
    do {
      char chunk[4096];
      stream.next_out = reinterpret_cast<Bytef*>(chunk);
      stream.avail_out = sizeof chunk;
      deflate(&stream, flush);
      out.append(chunk, sizeof chunk - stream.avail_out);
    } while (stream.avail_out == 0);
  }
  deflateEnd(&stream);
  return out;
}

void Put(ByteBuffer& buffer, const std::string& bytes) {
  buffer.Append(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

/// Inflates all of `in` through a room of `room` bytes at a time.
std::string InflateAll(ZlibStream& stream, ByteBuffer& in, std::size_t room, std::string* error) {
  std::string out;
  std::string chunk(room, '\0');
  for (;;) {
    std::size_t n = stream.Inflate(in, reinterpret_cast<std::uint8_t*>(chunk.data()), room, error);
    if (n == 0) return out;
    out.append(chunk.data(), n);
  }
}

TEST_CASE("a client's stream is inflated across reads, through any room, to the last byte") {
  std::string first(100000, 'a');
  for (std::size_t i = 0; i < first.size(); i += 3) first[i] = static_cast<char>(i);
  std::string second = "second message";
  std::string wire = Compress({first, second});
  for (std::size_t room : {std::size_t{1}, std::size_t{7}, std::size_t{65536}}) {
    CAPTURE(room);
    ZlibStream stream;
    ByteBuffer in;
    std::string inflated;
    std::string error;
    // The compressed bytes arrive in pieces of 1000.
    for (std::size_t at = 0; at < wire.size(); at += 1000) {
      Put(in, wire.substr(at, 1000));
      inflated += InflateAll(stream, in, room, &error);
      REQUIRE(error.empty());
    }
    CHECK(inflated == first + second);
    CHECK(in.empty());
  }
}

TEST_CASE("bytes that are no zlib stream, or follow its end, are refused") {
  ZlibStream stream;
  ByteBuffer in;
  Put(in, "GET / HTTP/1.1\r\n");
  std::string error;
  std::uint8_t room[64];
  CHECK(stream.Inflate(in, room, sizeof room, &error) == 0);
  CHECK(error == "zlib transport: the client's data does not inflate (incorrect header check)");

  ZlibStream finished;
  ByteBuffer after;
  Put(after, Compress({"all"}, /*finish=*/true) + "more");
  error.clear();
  CHECK(InflateAll(finished, after, 64, &error) == "all");
  CHECK(error == "zlib transport: bytes after the end of the client's zlib stream");
}

// What a client's one zlib stream (`reader`) inflates from all of `out`,
// up to a sync point: `expected` bytes, with room to find more.
std::string InflateSynced(z_stream* reader, const ByteBuffer& out, std::size_t expected) {
  std::string inflated(expected + 16, '\0');
  reader->next_in = const_cast<Bytef*>(out.data());
  reader->avail_in = static_cast<uInt>(out.size());
  reader->next_out = reinterpret_cast<Bytef*>(inflated.data());
  reader->avail_out = static_cast<uInt>(inflated.size());
  int result = inflate(reader, Z_SYNC_FLUSH);
  CHECK((result == Z_OK || result == Z_BUF_ERROR));
  CHECK(reader->avail_in == 0);
  inflated.resize(inflated.size() - reader->avail_out);
  return inflated;
}

TEST_CASE("replies are one stream, each inflatable whole at its flush") {
  ZlibStream stream;
  ByteBuffer out;
  z_stream reader{};
  REQUIRE(inflateInit(&reader) == Z_OK);
  for (const std::string& reply : {std::string("pong"), std::string(200000, 'r'), std::string()}) {
    stream.Deflate(reinterpret_cast<const std::uint8_t*>(reply.data()), reply.size(), out);
    stream.Flush(out);
    CHECK(InflateSynced(&reader, out, reply.size()) == reply);
    out.Consume(out.size());
  }
  inflateEnd(&reader);
}

TEST_CASE("a reply's many small writes are deflated together at its flush, in order") {
  ZlibStream stream;
  ByteBuffer out;
  std::string reply;
  auto write = [&](const std::string& piece) {
    stream.Deflate(reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size(), out);
    reply += piece;
  };
  // A protocol's field-by-field writes: nothing is deflated yet (not even
  // the stream's header), so deflate() runs once for all of them.
  for (int i = 0; i < 100; ++i) write(std::string(1 + i % 7, static_cast<char>('a' + i % 26)));
  CHECK(out.empty());
  // A write past what is collected, a large one, then small ones again.
  write(std::string(5000, 'L'));
  CHECK(!out.empty());
  write("tail");
  stream.Flush(out);
  z_stream reader{};
  REQUIRE(inflateInit(&reader) == Z_OK);
  CHECK(InflateSynced(&reader, out, reply.size()) == reply);
  inflateEnd(&reader);
}

}  // namespace
}  // namespace thriftd
