// HandOverChannel: the worker's side of connection hand-over, with the test
// at the master's end of the channel.
#include "workers/hand_over.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "src/base/channel.h"
#include "tests/unit/worker_fixture.h"

namespace thriftd {
namespace {

using thriftd_test::MakeSocketPair;
using thriftd_test::ReceiveSome;
using thriftd_test::SendAll;
using thriftd_test::SocketPair;

/// Checks that `a` and `b` are the two ends of one connection.
void CheckConnected(int a, int b) {
  REQUIRE(SendAll(a, "over"));
  std::string got;
  REQUIRE(thriftd_test::WaitFor([&] {
    ReceiveSome(b, &got);
    return got.size() >= 4;
  }));
  CHECK(got == "over");
}

TEST_CASE("a hand-over request is seen") {
  ChannelPair channel;
  REQUIRE(OpenChannel(&channel).ok());
  HandOverChannel hand_over(channel.worker_end.get());
  CHECK(hand_over.ReadChannel());
  CHECK_FALSE(hand_over.requested());
  REQUIRE(SendChannelMessage(channel.master_end.get(), kChannelHandOver).ok());
  CHECK(hand_over.ReadChannel());
  CHECK(hand_over.requested());
  CHECK(hand_over.ReadChannel());
  CHECK(hand_over.requested());  // for good
}

TEST_CASE(
    "an incoming connection arrives with its descriptor, its listener and its carried bytes "
    "intact") {
  ChannelPair channel;
  REQUIRE(OpenChannel(&channel).ok());
  HandOverChannel hand_over(channel.worker_end.get());
  SocketPair first = MakeSocketPair();
  SocketPair second = MakeSocketPair();
  const std::string listener = "unix:/run/x.sock";
  // The most a message carries, any byte (NUL too), after the listener's key.
  std::string carried(kMaxChannelText - listener.size() - 1, '\0');
  for (std::size_t i = 0; i < carried.size(); ++i) carried[i] = static_cast<char>(i * 31);
  REQUIRE(SendChannelMessage(channel.master_end.get(), kChannelConnection,
                             listener + std::string(1, '\0') + carried, first.server.get())
              .ok());
  REQUIRE(SendChannelMessage(channel.master_end.get(), kChannelHandOver).ok());
  REQUIRE(SendChannelMessage(channel.master_end.get(), kChannelConnection,
                             std::string("127.0.0.1:9090\0", 15), second.server.get())
              .ok());
  first.server.Reset();  // the master closes its copies once sent
  second.server.Reset();

  HandOverChannel::Incoming incoming;
  CHECK_FALSE(hand_over.TakeIncoming(&incoming));
  CHECK(hand_over.ReadChannel());  // reads all three
  CHECK(hand_over.requested());
  REQUIRE(hand_over.TakeIncoming(&incoming));
  CHECK(incoming.listener == listener);
  CHECK(incoming.carried == carried);
  REQUIRE(incoming.fd.valid());
  CheckConnected(first.client.get(), incoming.fd.get());
  CheckConnected(incoming.fd.get(), first.client.get());
  REQUIRE(hand_over.TakeIncoming(&incoming));  // in the order sent
  CHECK(incoming.listener == "127.0.0.1:9090");
  CHECK(incoming.carried == "");
  REQUIRE(incoming.fd.valid());
  CheckConnected(second.client.get(), incoming.fd.get());
  CHECK_FALSE(hand_over.TakeIncoming(&incoming));
}

TEST_CASE("messages the worker does not expect are ignored") {
  ChannelPair channel;
  REQUIRE(OpenChannel(&channel).ok());
  HandOverChannel hand_over(channel.worker_end.get());
  REQUIRE(SendChannelMessage(channel.master_end.get(), 'X', "what").ok());
  REQUIRE(SendChannelMessage(channel.master_end.get(), kChannelConnection, "no descriptor").ok());
  // A connection that names no listener: closed, for it would be served with
  // whichever protocol the first listener speaks.
  SocketPair pair = MakeSocketPair();
  REQUIRE(SendChannelMessage(channel.master_end.get(), kChannelConnection, "no listener",
                             pair.server.get())
              .ok());
  pair.server.Reset();
  CHECK(hand_over.ReadChannel());
  std::string ignored;
  CHECK(thriftd_test::WaitFor([&] { return !ReceiveSome(pair.client.get(), &ignored); }));
  CHECK_FALSE(hand_over.requested());
  HandOverChannel::Incoming incoming;
  CHECK_FALSE(hand_over.TakeIncoming(&incoming));
}

TEST_CASE(
    "Give sends the descriptor, the listener's key and the text to the master, and closes the "
    "worker's copy") {
  ChannelPair channel;
  REQUIRE(OpenChannel(&channel).ok());
  HandOverChannel hand_over(channel.worker_end.get());
  SocketPair pair = MakeSocketPair();
  std::string carried("\x80\x01\x00", 3);
  REQUIRE(hand_over.Give(std::move(pair.server), "127.0.0.1:9090", carried).ok());
  ChannelMessage message;
  REQUIRE(ReceiveChannelMessage(channel.master_end.get(), &message) == ChannelRead::kMessage);
  CHECK(message.kind == kChannelConnection);
  CHECK(message.text == std::string("127.0.0.1:9090\0", 15) + carried);
  REQUIRE(message.passed.valid());
  CheckConnected(pair.client.get(), message.passed.get());
  // The master's copy is the last: closing it, the client sees the end.
  message.passed.Reset();
  std::string ignored;
  CHECK(thriftd_test::WaitFor([&] { return !ReceiveSome(pair.client.get(), &ignored); }));
}

TEST_CASE("Give says why a connection could not go") {
  ChannelPair channel;
  REQUIRE(OpenChannel(&channel).ok());
  HandOverChannel hand_over(channel.worker_end.get());
  channel.master_end.Reset();
  SocketPair pair = MakeSocketPair();
  Status status = hand_over.Give(std::move(pair.server), "", "");
  CHECK(status.message() == "cannot hand a connection over: sendmsg(channel): Broken pipe");
  std::string ignored;
  CHECK_FALSE(ReceiveSome(pair.client.get(), &ignored));  // closed either way
}

TEST_CASE("end of file on the channel: the master is gone") {
  ChannelPair channel;
  REQUIRE(OpenChannel(&channel).ok());
  HandOverChannel hand_over(channel.worker_end.get());
  REQUIRE(SendChannelMessage(channel.master_end.get(), kChannelHandOver).ok());
  channel.master_end.Reset();
  CHECK_FALSE(hand_over.ReadChannel());  // what came before is still read
  CHECK(hand_over.requested());
  CHECK_FALSE(hand_over.ReadChannel());
}

}  // namespace
}  // namespace thriftd
