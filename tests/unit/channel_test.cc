// The master <-> worker control channel.
#include "src/base/channel.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace thriftd {
namespace {

ChannelMessage Receive(int fd) {
  ChannelMessage message;
  REQUIRE(ReceiveChannelMessage(fd, &message) == ChannelRead::kMessage);
  return message;
}

TEST_CASE("a ready message travels from worker to master") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  CHECK((fcntl(pair.master_end.get(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((fcntl(pair.worker_end.get(), F_GETFD) & FD_CLOEXEC) != 0);
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelReady).ok());
  ChannelMessage message = Receive(pair.master_end.get());
  CHECK(message.kind == kChannelReady);
  CHECK(message.text == "");
  CHECK_FALSE(message.passed.valid());
}

TEST_CASE("a boot error carries its text, and messages keep their boundaries") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  std::string why = "cannot load app ./libx.so: App constructor threw: boom";
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelBootError, why).ok());
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelReady).ok());
  ChannelMessage first = Receive(pair.master_end.get());
  CHECK(first.kind == kChannelBootError);
  CHECK(first.text == why);
  ChannelMessage second = Receive(pair.master_end.get());
  CHECK(second.kind == kChannelReady);
  CHECK(second.text == "");
}

TEST_CASE("the channel works in both directions") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  REQUIRE(SendChannelMessage(pair.master_end.get(), 'X', "to the worker").ok());
  ChannelMessage message = Receive(pair.worker_end.get());
  CHECK(message.kind == 'X');
  CHECK(message.text == "to the worker");
}

TEST_CASE("a descriptor rides along with its text, close-on-exec, and stays the sender's") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  int sockets[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sockets) == 0);
  std::string carried(kMaxChannelText, 'c');  // the largest text fits whole
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelConnection, carried, sockets[0]).ok());
  ChannelMessage message = Receive(pair.master_end.get());
  CHECK(message.kind == kChannelConnection);
  CHECK(message.text == carried);
  REQUIRE(message.passed.valid());
  CHECK(message.passed.get() != sockets[0]);
  CHECK((fcntl(message.passed.get(), F_GETFD) & FD_CLOEXEC) != 0);
  // The same socket: what is written to the received copy reaches the peer.
  REQUIRE(write(message.passed.get(), "hi", 2) == 2);
  char got[2];
  REQUIRE(read(sockets[1], got, 2) == 2);
  CHECK(std::string(got, 2) == "hi");
  struct stat st;
  CHECK(fstat(sockets[0], &st) == 0);  // the sender's copy is still open
  close(sockets[0]);
  close(sockets[1]);
}

TEST_CASE("a text longer than kMaxChannelText is cut") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelBootError,
                             std::string(kMaxChannelText + 100, 'e'))
              .ok());
  CHECK(Receive(pair.master_end.get()).text == std::string(kMaxChannelText, 'e'));
}

TEST_CASE("receiving with nothing waiting is kEmpty, without blocking") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  ChannelMessage message;
  CHECK(ReceiveChannelMessage(pair.master_end.get(), &message) == ChannelRead::kEmpty);
  CHECK(ReceiveChannelMessage(pair.worker_end.get(), &message) == ChannelRead::kEmpty);
}

TEST_CASE("receiving after the other end closed is kClosed, after what it sent") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  REQUIRE(SendChannelMessage(pair.worker_end.get(), kChannelReady).ok());
  pair.worker_end.Reset();
  ChannelMessage message;
  CHECK(ReceiveChannelMessage(pair.master_end.get(), &message) == ChannelRead::kMessage);
  CHECK(ReceiveChannelMessage(pair.master_end.get(), &message) == ChannelRead::kClosed);
  CHECK(ReceiveChannelMessage(pair.master_end.get(), &message) == ChannelRead::kClosed);
}

TEST_CASE("sending to a closed channel is an error, not SIGPIPE") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  pair.master_end.Reset();
  Status status = SendChannelMessage(pair.worker_end.get(), kChannelReady);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "sendmsg(channel): Broken pipe");
}

TEST_CASE("TrySendChannelMessage on a full channel fails at once, and works once it is read") {
  ChannelPair pair;
  REQUIRE(OpenChannel(&pair).ok());
  int sent = 0;
  while (TrySendChannelMessage(pair.master_end.get(), 'X').ok()) ++sent;
  // Small messages: the kernel holds some hundreds, not thousands.
  CHECK(sent > 10);
  Status status = TrySendChannelMessage(pair.master_end.get(), 'X');
  CHECK(status.message() == "sendmsg(channel): Resource temporarily unavailable");
  ChannelMessage message;
  REQUIRE(ReceiveChannelMessage(pair.worker_end.get(), &message) == ChannelRead::kMessage);
  CHECK(TrySendChannelMessage(pair.master_end.get(), 'Y').ok());
}

TEST_CASE("receiving on a bad descriptor is kClosed") {
  ChannelMessage message;
  CHECK(ReceiveChannelMessage(-1, &message) == ChannelRead::kClosed);
}

}  // namespace
}  // namespace thriftd
