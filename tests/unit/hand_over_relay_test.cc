// The master's side of connection hand-over, with socketpairs standing in
// for the workers' channels and for the client connections.
#include "src/hand_over_relay.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/base/channel.h"
#include "src/base/clock.h"

namespace thriftd {
namespace {

// A worker table, a scoreboard and a channel per worker, as the master has.
class Workers {
 public:
  Workers() {
    REQUIRE(Scoreboard::Create(&scoreboard_).ok());
    relay_ = std::make_unique<HandOverRelay>(*scoreboard_, [this](pid_t pid) {
      auto it = channels_.find(pid);
      return it == channels_.end() ? -1 : it->second.master_end.get();
    });
  }

  /// Adds worker `pid` in scoreboard slot pid - 100, holding `connections`
  /// of `limit`.
  void Add(pid_t pid, WorkerState state, int connections, int limit = 100,
           std::uint64_t generation = 2) {
    WorkerRecord& worker = workers_[pid];
    worker.pid = pid;
    worker.state = state;
    worker.spec.generation = generation;
    worker.spec.slot = pid - 100;
    ScoreboardSlot& slot = scoreboard_->slot(worker.spec.slot);
    slot.connections.store(connections);
    slot.connection_limit.store(limit);
    REQUIRE(OpenChannel(&channels_[pid]).ok());
  }
  void DropChannel(pid_t pid) { channels_.erase(pid); }
  /// Fills worker `pid`'s channel as a worker that does not read it would
  /// leave it: the next send from the master's end would block. A send
  /// that did block would give up after a second (SO_SNDTIMEO), so a relay
  /// that blocks fails these tests instead of hanging them.
  void FillChannel(pid_t pid) {
    int fd = channels_.at(pid).master_end.get();
    timeval limit{1, 0};
    REQUIRE(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == 0);
    int sent = 0;
    while (TrySendChannelMessage(fd, kChannelConnection, std::string(1024, 'x')).ok()) ++sent;
    REQUIRE(sent > 0);
    Status status = TrySendChannelMessage(fd, kChannelConnection);
    REQUIRE(status.message() == "sendmsg(channel): Resource temporarily unavailable");
  }

  /// Hands a new connection over from `from` (generation 2 is serving);
  /// returns the pid it went to, 0 if closed. The client's end is kept in
  /// *client.
  pid_t HandOver(pid_t from, const std::string& carried = "", UniqueFd* client = nullptr) {
    int pair[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    UniqueFd client_end(pair[0]);
    pid_t to = relay_->Forward(workers_, /*generation=*/2, from, UniqueFd(pair[1]), carried,
                               /*now=*/0);
    if (client != nullptr) *client = std::move(client_end);
    return to;
  }

  /// The next message waiting on worker `pid`'s end of its channel (kind 0: none).
  ChannelMessage Received(pid_t pid) {
    ChannelMessage message;
    if (ReceiveChannelMessage(channels_.at(pid).worker_end.get(), &message) !=
        ChannelRead::kMessage)
      message.kind = 0;
    return message;
  }

  HandOverRelay& relay() { return *relay_; }
  const std::map<pid_t, WorkerRecord>& records() const { return workers_; }
  void SetConnections(pid_t pid, int connections) {
    scoreboard_->slot(workers_.at(pid).spec.slot).connections.store(connections);
  }
  void SetState(pid_t pid, WorkerState state) { workers_.at(pid).state = state; }

 private:
  std::unique_ptr<Scoreboard> scoreboard_;
  std::map<pid_t, WorkerRecord> workers_;
  std::map<pid_t, ChannelPair> channels_;
  std::unique_ptr<HandOverRelay> relay_;
};

TEST_CASE("a handed-over connection goes to the ready worker with the most room, intact") {
  Workers workers;
  workers.Add(100, WorkerState::kDraining, 5);  // the sender
  workers.Add(101, WorkerState::kReady, 90);
  workers.Add(102, WorkerState::kReady, 50);
  workers.Add(103, WorkerState::kReady, 70);
  const std::string carried("\x80\x01\x00\x01\x00\x00\x00\x04ping\0\xff", 14);
  UniqueFd client;
  CHECK(workers.HandOver(100, carried, &client) == 102);

  ChannelMessage message = workers.Received(102);
  CHECK(message.kind == kChannelConnection);
  CHECK(message.text == carried);
  REQUIRE(message.passed.valid());
  // The descriptor that arrived is the client's connection.
  REQUIRE(send(client.get(), "hi", 2, 0) == 2);
  char buffer[2];
  REQUIRE(recv(message.passed.get(), buffer, 2, 0) == 2);
  CHECK(std::string(buffer, 2) == "hi");
  for (pid_t other : {100, 101, 103}) CHECK(workers.Received(other).kind == 0);
}

TEST_CASE("a burst of handed-over connections is spread by room, counting those not yet adopted") {
  Workers workers;
  workers.Add(100, WorkerState::kDraining, 0);
  workers.Add(101, WorkerState::kReady, 0, /*limit=*/10);
  workers.Add(102, WorkerState::kReady, 2, /*limit=*/10);
  std::map<pid_t, int> got;
  for (int i = 0; i < 6; ++i) ++got[workers.HandOver(100)];
  CHECK(got[101] == 4);  // 10 - 4 == 8 - 2: even room left
  CHECK(got[102] == 2);
  // Adopted by now: the scoreboard (unchanged here) is all that counts again.
  workers.relay().ForgetForwarded();
  CHECK(workers.HandOver(100) == 101);
}

TEST_CASE("a handed-over connection never goes back to the worker that handed it over") {
  Workers workers;
  workers.Add(100, WorkerState::kReady, 0);  // the sender, with the most room
  workers.Add(101, WorkerState::kReady, 99);
  CHECK(workers.HandOver(100) == 101);
  CHECK(workers.Received(100).kind == 0);
}

TEST_CASE("only a ready worker of the serving generation adopts a connection") {
  Workers workers;
  workers.Add(100, WorkerState::kDraining, 0);  // the sender
  workers.Add(101, WorkerState::kBooting, 0);
  workers.Add(102, WorkerState::kRetiring, 0);
  workers.Add(103, WorkerState::kDraining, 0);
  workers.Add(104, WorkerState::kAborted, 0);
  workers.Add(105, WorkerState::kKilled, 0);
  workers.Add(106, WorkerState::kReady, 0, 100, /*generation=*/1);  // the old generation
  workers.Add(107, WorkerState::kReady, 150, /*limit=*/100);        // over its limit, yet ready
  // Held for want of room, then, past its hold, to the one that may adopt it.
  CHECK(workers.HandOver(100) == HandOverRelay::kHeld);
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/30);
  CHECK(workers.Received(107).kind == kChannelConnection);
  for (pid_t other = 100; other <= 106; ++other) CHECK(workers.Received(other).kind == 0);
}

TEST_CASE("a handed-over connection nobody can adopt is held, then closed past its hold") {
  Workers workers;
  workers.relay().set_hold(5);
  workers.Add(100, WorkerState::kDraining, 0);
  workers.Add(101, WorkerState::kDraining, 0);
  UniqueFd client;
  // No worker is ready: one may be soon (the only one is being replaced).
  CHECK(workers.HandOver(100, "partial", &client) == HandOverRelay::kHeld);
  char byte;
  CHECK(recv(client.get(), &byte, 1, MSG_DONTWAIT) == -1);  // open, waiting
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/5);
  CHECK(workers.relay().held() == 0);
  CHECK(recv(client.get(), &byte, 1, MSG_DONTWAIT) == 0);  // end of file: closed
  CHECK(workers.Received(101).kind == 0);

  SUBCASE("or whose adopter has no channel left") {
    workers.Add(102, WorkerState::kReady, 0);
    workers.DropChannel(102);
    CHECK(workers.HandOver(100, "", &client) == 0);
    CHECK(recv(client.get(), &byte, 1, MSG_DONTWAIT) == 0);
  }
}

// Regression: the relay sent with a blocking sendmsg. A worker reads its
// channel only when it gets to it (a sync worker between connections, a
// hung one never); once its channel was full the master's loop stopped.
TEST_CASE("a handed-over connection skips a worker whose channel is full, without blocking") {
  Workers workers;
  workers.Add(100, WorkerState::kDraining, 0);  // the sender
  workers.Add(101, WorkerState::kReady, 0);     // the most room, but not reading
  workers.Add(102, WorkerState::kReady, 50);
  workers.FillChannel(101);
  double start = MonotonicSeconds();
  UniqueFd client;
  CHECK(workers.HandOver(100, "carried", &client) == 102);
  CHECK(workers.Received(102).text == "carried");

  SUBCASE("and closes it when every adopter's channel is full") {
    workers.FillChannel(102);
    CHECK(workers.HandOver(100, "", &client) == 0);
    char byte;
    CHECK(recv(client.get(), &byte, 1, MSG_DONTWAIT) == 0);  // end of file: closed
  }
  CHECK(MonotonicSeconds() - start < 1);  // no send waited for SO_SNDTIMEO
}

TEST_CASE("regression: with every worker full, a connection is held until one has room") {
  // Sync workers hold one connection each and read their channel only
  // between connections: one sent to a busy sync worker waited for its
  // client to leave, and the handed-over client's next call with it.
  Workers workers;
  workers.Add(100, WorkerState::kDraining, 0);
  workers.Add(101, WorkerState::kReady, 1, /*limit=*/1);
  workers.Add(102, WorkerState::kReady, 1, /*limit=*/1);
  CHECK(workers.HandOver(100, "abc") == HandOverRelay::kHeld);
  CHECK(workers.relay().held() == 1);
  CHECK(workers.Received(101).kind == 0);
  CHECK(workers.Received(102).kind == 0);
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/1);
  CHECK(workers.relay().held() == 1);  // still no room
  workers.SetConnections(102, 0);      // its client left
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/2);
  CHECK(workers.relay().held() == 0);
  ChannelMessage message = workers.Received(102);
  CHECK(message.kind == kChannelConnection);
  CHECK(message.text == "abc");
}

TEST_CASE("a connection held past its hold goes to a full worker rather than wait on") {
  Workers workers;
  workers.relay().set_hold(5);
  workers.Add(100, WorkerState::kDraining, 0);
  workers.Add(101, WorkerState::kReady, 1, /*limit=*/1);
  CHECK(workers.HandOver(100) == HandOverRelay::kHeld);
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/4.9);
  CHECK(workers.relay().held() == 1);
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/5);
  CHECK(workers.relay().held() == 0);
  CHECK(workers.Received(101).kind == kChannelConnection);
}

TEST_CASE("a held connection waits for a worker to be ready, and goes to it") {
  // A worker TERMed while the only other one boots: its connections wait
  // for that one instead of being closed.
  Workers workers;
  workers.Add(100, WorkerState::kDraining, 0);
  workers.Add(101, WorkerState::kBooting, 0, /*limit=*/1);
  UniqueFd client;
  CHECK(workers.HandOver(100, "", &client) == HandOverRelay::kHeld);
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/1);
  CHECK(workers.relay().held() == 1);
  workers.SetState(101, WorkerState::kReady);
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/2);
  CHECK(workers.relay().held() == 0);
  CHECK(workers.Received(101).kind == kChannelConnection);
}

TEST_CASE("held connections are closed past their hold when nobody is left to take them") {
  Workers workers;
  workers.relay().set_hold(5);
  workers.Add(100, WorkerState::kDraining, 0);
  workers.Add(101, WorkerState::kReady, 1, /*limit=*/1);
  UniqueFd client;
  CHECK(workers.HandOver(100, "", &client) == HandOverRelay::kHeld);
  workers.SetState(101, WorkerState::kDraining);  // thriftd stops
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/1);
  CHECK(workers.relay().held() == 1);
  workers.relay().RetryHeld(workers.records(), 2, /*now=*/5);
  CHECK(workers.relay().held() == 0);
  char byte;
  CHECK(recv(client.get(), &byte, 1, MSG_DONTWAIT) == 0);  // closed
}

TEST_CASE(
    "held connections go, oldest first, to whoever SendHeld's caller names, until it refuses") {
  // A stopping master whose held connections go to the other master of a
  // binary upgrade rather than close with it.
  Workers workers;
  workers.Add(100, WorkerState::kDraining, 0);
  UniqueFd first_client, second_client, third_client;
  CHECK(workers.HandOver(100, "first", &first_client) == HandOverRelay::kHeld);
  CHECK(workers.HandOver(100, "second", &second_client) == HandOverRelay::kHeld);
  CHECK(workers.HandOver(100, "third", &third_client) == HandOverRelay::kHeld);
  std::vector<std::string> taken;
  std::vector<UniqueFd> kept;
  workers.relay().SendHeld([&](UniqueFd& connection, const std::string& carried) {
    if (taken.size() == 2) return false;
    taken.push_back(carried);
    kept.push_back(std::move(connection));
    return true;
  });
  CHECK(taken == std::vector<std::string>{"first", "second"});
  CHECK(workers.relay().held() == 1);
  // The taken ones are the clients' connections, open and intact.
  REQUIRE(send(first_client.get(), "x", 1, 0) == 1);
  char byte = 0;
  CHECK(recv(kept[0].get(), &byte, 1, MSG_DONTWAIT) == 1);
  CHECK(byte == 'x');
  // The one refused stays held, and is offered again next time.
  workers.relay().SendHeld([&](UniqueFd&, const std::string& carried) {
    taken.push_back(carried);
    return true;
  });
  CHECK(taken.back() == "third");
  CHECK(workers.relay().held() == 0);
}

}  // namespace
}  // namespace thriftd
