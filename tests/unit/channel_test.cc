// The master <-> worker control channel.
#include "src/base/channel.h"

#include <doctest/doctest.h>
#include <fcntl.h>

#include <string>

namespace thriftd {
namespace {

TEST_CASE("a ready message travels from worker to master") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  CHECK((fcntl(pair.master_end.get(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((fcntl(pair.worker_end.get(), F_GETFD) & FD_CLOEXEC) != 0);
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelReady).ok());
  char kind = 0;
  std::string text = "stale";
  REQUIRE(ReceiveChannelMessage(pair.master_end.get(), &kind, &text) == ChannelRead::kMessage);
  CHECK(kind == kChannelReady);
  CHECK(text == "");
}

TEST_CASE("a boot error carries its text, and messages keep their boundaries") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  std::string why = "cannot load app ./libx.so: App constructor threw: boom";
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelBootError, why).ok());
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelReady).ok());
  char kind = 0;
  std::string text;
  REQUIRE(ReceiveChannelMessage(pair.master_end.get(), &kind, &text) == ChannelRead::kMessage);
  CHECK(kind == kChannelBootError);
  CHECK(text == why);
  REQUIRE(ReceiveChannelMessage(pair.master_end.get(), &kind, &text) == ChannelRead::kMessage);
  CHECK(kind == kChannelReady);
  CHECK(text == "");
}

TEST_CASE("the channel works in both directions") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  REQUIRE(SendChannelMessage(pair.master_end.get(), 'X', "to the worker").ok());
  char kind = 0;
  std::string text;
  REQUIRE(ReceiveChannelMessage(pair.worker_end.get(), &kind, &text) == ChannelRead::kMessage);
  CHECK(kind == 'X');
  CHECK(text == "to the worker");
}

TEST_CASE("a long text is cut to 4000 bytes") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  REQUIRE(
      SendChannelMessage(pair.worker_end.get(), kChannelBootError, std::string(10000, 'e')).ok());
  char kind = 0;
  std::string text;
  REQUIRE(ReceiveChannelMessage(pair.master_end.get(), &kind, &text) == ChannelRead::kMessage);
  CHECK(text == std::string(4000, 'e'));
}

TEST_CASE("receiving with nothing waiting is kEmpty, without blocking") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  char kind = 0;
  std::string text;
  CHECK(ReceiveChannelMessage(pair.master_end.get(), &kind, &text) == ChannelRead::kEmpty);
  CHECK(ReceiveChannelMessage(pair.worker_end.get(), &kind, &text) == ChannelRead::kEmpty);
}

TEST_CASE("receiving after the other end closed is kClosed, after what it sent") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelReady).ok());
  pair.worker_end.Reset();
  char kind = 0;
  std::string text;
  CHECK(ReceiveChannelMessage(pair.master_end.get(), &kind, &text) == ChannelRead::kMessage);
  CHECK(ReceiveChannelMessage(pair.master_end.get(), &kind, &text) == ChannelRead::kClosed);
  CHECK(ReceiveChannelMessage(pair.master_end.get(), &kind, &text) == ChannelRead::kClosed);
}

TEST_CASE("sending to a closed channel is an error, not SIGPIPE") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  pair.master_end.Reset();
  Status status = SendChannelMessage(pair.worker_end.get(), kChannelReady);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "send(channel): Broken pipe");
}

TEST_CASE("receiving on a bad descriptor is kClosed") {
  char kind = 0;
  std::string text;
  CHECK(ReceiveChannelMessage(-1, &kind, &text) == ChannelRead::kClosed);
}

}  // namespace
}  // namespace thriftd
