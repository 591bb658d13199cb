// PosixProcessOps against real children. Every test reaps each child it
// creates, and waits on conditions with deadlines (never a bare sleep): a
// child's message on its channel, or its exit.
#include "src/posix_process_ops.h"

#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "src/base/channel.h"
#include "src/base/clock.h"
#include "src/base/log.h"
#include "tests/unit/test_util.h"

namespace thriftd {
namespace {

constexpr double kDeadline = 10;  // seconds: generous, for a loaded machine

// In the child: default dispositions (the test runner's handlers are not
// the child's), every signal unblocked, then 'W' (waiting) on the channel.
void SettleChild(int channel_fd) {
  for (int signo = 1; signo < NSIG; ++signo) signal(signo, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  (void)SendChannelMessage(channel_fd, 'W');
}

// In the child: settles, then waits until the master's end of the channel
// closes, and exits 0.
[[noreturn]] void WaitForEof(int channel_fd) {
  SettleChild(channel_fd);
  char byte;
  while (recv(channel_fd, &byte, 1, 0) != 0) {
  }
  _exit(0);
}

// In the child: settles, then never reads its channel (a hung worker);
// only a signal ends it.
[[noreturn]] void Hang(int channel_fd) {
  SettleChild(channel_fd);
  for (;;) pause();
}

// Spawns children through a PosixProcessOps whose prepared body is the one
// the test gives, watches their channels, and reaps them.
class Children {
 public:
  Children() {
    REQUIRE(Scoreboard::Create(&scoreboard_).ok());
    ops_ = std::make_unique<PosixProcessOps>(
        *scoreboard_,
        [this](const WorkerSpec& spec, PosixProcessOps::WorkerStart* start) {
          if (!prepare_error_.empty()) return Status::Error(prepare_error_);
          start->inherited_fds = inherited_;
          start->run = [this, spec](int channel_fd) { body_(spec, channel_fd); };
          return Status::Ok();
        },
        [this](pid_t pid, int fd) {
          if (!watch_error_.empty()) {
            refused_.push_back(pid);
            return Status::Error(watch_error_);
          }
          watched_[pid] = fd;
          return Status::Ok();
        });
  }

  // Whatever a test left running is killed and reaped.
  ~Children() {
    for (pid_t pid : live_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    // Spawn() should have killed and reaped these; if it did not, they are
    // still this process's children (so not anybody else's pid), and go.
    for (pid_t pid : refused_) {
      if (waitpid(pid, nullptr, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  }

  PosixProcessOps& ops() { return *ops_; }
  Scoreboard& scoreboard() { return *scoreboard_; }
  const std::map<pid_t, int>& watched() const { return watched_; }
  void Inherit(std::vector<int> fds) { inherited_ = std::move(fds); }
  void FailPreparing(std::string error) { prepare_error_ = std::move(error); }
  void FailWatching(std::string error) { watch_error_ = std::move(error); }

  /// Spawns a child running `body`; fails the test if it cannot.
  pid_t Spawn(std::function<void(const WorkerSpec&, int)> body, WorkerSpec spec = {}) {
    body_ = std::move(body);
    pid_t pid = 0;
    Status status = ops_->Spawn(spec, &pid);
    REQUIRE_MESSAGE(status.ok(), status.message());
    REQUIRE(pid > 0);
    live_.insert(pid);
    return pid;
  }

  /// The next message on `pid`'s channel, waiting up to the deadline.
  ChannelMessage Receive(pid_t pid) {
    int fd = ops_->ChannelFd(pid);
    REQUIRE(fd >= 0);
    pollfd readable{fd, POLLIN, 0};
    REQUIRE_MESSAGE(poll(&readable, 1, static_cast<int>(kDeadline * 1000)) == 1,
                    "no message from the child");
    ChannelMessage message;
    REQUIRE(ReceiveChannelMessage(fd, &message) == ChannelRead::kMessage);
    return message;
  }

  /// Reaps until `pid` has exited (other exits are kept for later calls).
  /// Its channel stays open, as after any Reap().
  ProcessExit WaitExit(pid_t pid) {
    double end = MonotonicSeconds() + kDeadline;
    for (;;) {
      for (const ProcessExit& exit : ops_->Reap()) {
        live_.erase(exit.pid);
        exits_[exit.pid] = exit;
      }
      auto it = exits_.find(pid);
      if (it != exits_.end()) return it->second;
      REQUIRE_MESSAGE(MonotonicSeconds() < end, "child " << pid << " did not exit");
      poll(nullptr, 0, 5);  // the next look at the condition, not a wait for it
    }
  }

 private:
  std::unique_ptr<Scoreboard> scoreboard_;
  std::unique_ptr<PosixProcessOps> ops_;
  // Until a test gives one (Spawn), a child hangs until killed.
  std::function<void(const WorkerSpec&, int)> body_ = [](const WorkerSpec&, int fd) { Hang(fd); };
  std::vector<int> inherited_;
  std::string prepare_error_;
  std::string watch_error_;
  std::map<pid_t, int> watched_;
  std::vector<pid_t> refused_;  // forked, but the watch failed
  std::set<pid_t> live_;
  std::map<pid_t, ProcessExit> exits_;
};

std::set<int> ParseFds(const std::string& text) {
  std::set<int> fds;
  std::istringstream in(text);
  int fd;
  while (in >> fd) fds.insert(fd);
  return fds;
}

std::string Join(const std::set<int>& fds) {
  std::string out;
  for (int fd : fds) out += (out.empty() ? "" : " ") + std::to_string(fd);
  return out;
}

// In the child: its open descriptors, "0 1 2 ...".
std::string OpenFds() {
  std::string out;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return "?";
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    if (fd != dirfd(dir)) out += std::to_string(fd) + " ";
  }
  closedir(dir);
  return out;
}

TEST_CASE("PosixProcessOps runs the body in a child with the given spec, and watches its channel") {
  Children children;
  pid_t parent = getpid();
  WorkerSpec spec{2, 7, 5};
  pid_t pid = children.Spawn(
      [](const WorkerSpec& given, int channel_fd) {
        std::string text = std::to_string(given.index) + " " + std::to_string(given.generation) +
                           " " + std::to_string(given.slot) + " " + std::to_string(getpid()) + " " +
                           std::to_string(getppid());
        (void)SendChannelMessage(channel_fd, 'S', text);
        _exit(0);
      },
      spec);
  CHECK(children.watched().at(pid) == children.ops().ChannelFd(pid));
  ProcessExit exit = children.WaitExit(pid);
  CHECK(exit.pid == pid);
  CHECK(WIFEXITED(exit.wait_status));
  CHECK(WEXITSTATUS(exit.wait_status) == 0);
  // Reaped, and what it said before exiting is still there to read.
  ChannelMessage message = children.Receive(pid);
  CHECK(message.kind == 'S');
  CHECK(message.text ==
        "2 7 5 " + std::to_string(pid) + " " + std::to_string(static_cast<long>(parent)));
  children.ops().CloseChannel(pid);
  CHECK(children.ops().ChannelFd(pid) == -1);
}

TEST_CASE("PosixProcessOps starts the body with every signal blocked") {
  Children children;
  pid_t pid = children.Spawn([](const WorkerSpec&, int) {
    sigset_t mask;
    sigprocmask(SIG_BLOCK, nullptr, &mask);
    _exit(sigismember(&mask, SIGTERM) && sigismember(&mask, SIGHUP) && sigismember(&mask, SIGCHLD)
              ? 0
              : 1);
  });
  CHECK(WEXITSTATUS(children.WaitExit(pid).wait_status) == 0);
  sigset_t mask;
  sigprocmask(SIG_BLOCK, nullptr, &mask);
  CHECK_FALSE(sigismember(&mask, SIGTERM));  // the master's own mask is back
}

TEST_CASE("PosixProcessOps forks nothing when preparing the worker fails") {
  Children children;
  children.FailPreparing("no configuration for generation");
  pid_t pid = 0;
  Status status = children.ops().Spawn(WorkerSpec{}, &pid);
  CHECK(status.message() == "no configuration for generation");
  CHECK(pid == 0);
  CHECK(children.watched().empty());
  status = children.ops().Spawn(WorkerSpec{0, 1, Scoreboard::kMaxSlots}, &pid);
  CHECK(status.message() == "more than 1024 workers");
  CHECK(children.ops().Reap().empty());
}

TEST_CASE("a worker whose channel cannot be watched is killed and reaped, and the spawn fails") {
  Children children;
  children.FailWatching("cannot watch its channel: event_new/event_add failed");
  pid_t pid = 0;
  Status status = children.ops().Spawn(WorkerSpec{}, &pid);
  CHECK(status.message() == "cannot watch its channel: event_new/event_add failed");
  CHECK(pid == 0);
  CHECK(children.watched().empty());
  // No child left, not even a zombie for Reap() to report as an unknown pid.
  // (Should one be left, ~Children kills and reaps it.)
  errno = 0;
  CHECK(waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("PosixProcessOps::Reap returns the exact wait status: exit code or signal") {
  Children children;
  pid_t exits_7 = children.Spawn([](const WorkerSpec&, int) { _exit(7); });
  pid_t aborts = children.Spawn([](const WorkerSpec&, int channel_fd) {
    signal(SIGABRT, SIG_DFL);
    (void)channel_fd;
    abort();
  });
  ProcessExit exit = children.WaitExit(exits_7);
  CHECK(exit.pid == exits_7);
  CHECK(WIFEXITED(exit.wait_status));
  CHECK(WEXITSTATUS(exit.wait_status) == 7);
  exit = children.WaitExit(aborts);
  CHECK(exit.pid == aborts);
  CHECK(WIFSIGNALED(exit.wait_status));
  CHECK(WTERMSIG(exit.wait_status) == SIGABRT);
}

TEST_CASE("PosixProcessOps::Reap returns nothing, at once, while no child has exited") {
  Children children;
  CHECK(children.ops().Reap().empty());  // no children at all
  pid_t pid = children.Spawn([](const WorkerSpec&, int fd) { WaitForEof(fd); });
  CHECK(children.Receive(pid).kind == 'W');
  double start = MonotonicSeconds();
  CHECK(children.ops().Reap().empty());
  CHECK(MonotonicSeconds() - start < 1);
  children.ops().CloseChannel(pid);  // EOF: the child exits 0
  ProcessExit exit = children.WaitExit(pid);
  CHECK(WIFEXITED(exit.wait_status));
  CHECK(WEXITSTATUS(exit.wait_status) == 0);
}

TEST_CASE("PosixProcessOps::Kill delivers the signal") {
  Children children;
  for (int signo : {SIGTERM, SIGKILL, SIGUSR1}) {
    CAPTURE(signo);
    pid_t pid = children.Spawn([](const WorkerSpec&, int fd) { WaitForEof(fd); });
    CHECK(children.Receive(pid).kind == 'W');
    children.ops().Kill(pid, signo);
    ProcessExit exit = children.WaitExit(pid);
    CHECK(WIFSIGNALED(exit.wait_status));
    CHECK(WTERMSIG(exit.wait_status) == signo);
  }
}

TEST_CASE("PosixProcessOps::Kill of a worker already gone is not an error") {
  Children children;
  pid_t pid = children.Spawn([](const WorkerSpec&, int) { _exit(0); });
  children.WaitExit(pid);
  thriftd_test::LogCapture log(LogLevel::kDebug);
  children.ops().Kill(pid, 0);  // ESRCH; signal 0, in case the pid was reused meanwhile
  CHECK(log.Text() == "");
}

TEST_CASE("PosixProcessOps::Retire puts a hand-over request on the channel before SIGTERM") {
  Children children;
  // The child waits for SIGTERM (blocked since the fork, so it cannot be
  // missed), then looks at its channel: exit 0 when the request was
  // already there, 1 when nothing was, 2 for anything else.
  pid_t pid = children.Spawn([](const WorkerSpec&, int channel_fd) {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    int signo = 0;
    sigwait(&term, &signo);
    ChannelMessage message;
    ChannelRead read = ReceiveChannelMessage(channel_fd, &message);
    if (read == ChannelRead::kEmpty) _exit(1);
    _exit(read == ChannelRead::kMessage && message.kind == kChannelHandOver ? 0 : 2);
  });
  children.ops().Retire(pid);
  ProcessExit exit = children.WaitExit(pid);
  REQUIRE(WIFEXITED(exit.wait_status));
  CHECK(WEXITSTATUS(exit.wait_status) == 0);
}

// Regression: Retire sent the request with a blocking sendmsg, and a worker
// that was not reading its channel (hung) stopped the master's loop for good.
TEST_CASE("PosixProcessOps::Retire of a worker whose channel is full does not block") {
  Children children;
  pid_t pid = children.Spawn([](const WorkerSpec&, int fd) { Hang(fd); });
  CHECK(children.Receive(pid).kind == 'W');  // its handlers are in place
  int fd = children.ops().ChannelFd(pid);
  // A blocking send would give up after a second: the test fails, not hangs.
  timeval limit{1, 0};
  REQUIRE(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == 0);
  while (TrySendChannelMessage(fd, 'X', std::string(1024, 'x')).ok()) {
  }
  thriftd_test::LogCapture log(LogLevel::kDebug);
  double started = MonotonicSeconds();
  children.ops().Retire(pid);
  CHECK(MonotonicSeconds() - started < 0.5);  // a blocking send would wait the full second
  CHECK(log.Text().find("cannot ask worker (pid:" + std::to_string(pid) +
                        ") to hand its connections over: sendmsg(channel): Resource "
                        "temporarily unavailable") != std::string::npos);
  ProcessExit exit = children.WaitExit(pid);  // SIGTERM went all the same
  CHECK(WIFSIGNALED(exit.wait_status));
  CHECK(WTERMSIG(exit.wait_status) == SIGTERM);
}

TEST_CASE("PosixProcessOps::Now is monotonic seconds") {
  Children children;
  timespec before, after;
  clock_gettime(CLOCK_MONOTONIC, &before);
  double now = children.ops().Now();
  clock_gettime(CLOCK_MONOTONIC, &after);
  CHECK(now >= static_cast<double>(before.tv_sec) + before.tv_nsec / 1e9 - 1e-6);
  CHECK(now <= static_cast<double>(after.tv_sec) + after.tv_nsec / 1e9 + 1e-6);
  CHECK(children.ops().Now() >= now);
}

TEST_CASE("PosixProcessOps::LastHeartbeat reads the worker's scoreboard slot") {
  Children children;
  children.scoreboard().slot(3).heartbeat_ms.store(12345);
  CHECK(children.ops().LastHeartbeat(3) == doctest::Approx(12.345));
  // A spawn clears the slot it gives out; the child's reports show through.
  pid_t pid = children.Spawn(
      [&children](const WorkerSpec& spec, int fd) {
        children.scoreboard().slot(spec.slot).heartbeat_ms.store(MonotonicMillis());
        WaitForEof(fd);
      },
      WorkerSpec{0, 1, 3});
  CHECK(children.Receive(pid).kind == 'W');
  double beat = children.ops().LastHeartbeat(3);
  CHECK(beat > 0);
  CHECK(beat <= children.ops().Now());
  CHECK(beat != doctest::Approx(12.345));
  children.ops().CloseChannel(pid);
  children.WaitExit(pid);
}

TEST_CASE("regression: LastHeartbeat counts a call in flight from its start") {
  // The heartbeat is written at most every few hundred ms: a call started
  // since proves the loop ran then, and the timeout counts from there (a
  // call was killed timeout minus that gap into it).
  Children children;
  ScoreboardSlot& slot = children.scoreboard().slot(3);
  slot.heartbeat_ms.store(10000);
  slot.call_started_ms.store(10900);
  CHECK(children.ops().LastHeartbeat(3) == doctest::Approx(10.9));
  slot.call_started_ms.store(0);  // between calls: the heartbeat alone
  CHECK(children.ops().LastHeartbeat(3) == doctest::Approx(10.0));
}

TEST_CASE("a worker holds only stdio, the error log, its channel and the inherited sockets") {
  Children children;
  // Descriptors the master holds that no worker may: a pipe, a socket not
  // handed down (say, the metrics endpoint's), and another worker's channel.
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  int metrics = socket(AF_INET, SOCK_STREAM, 0);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(metrics >= 0);
  REQUIRE(listener >= 0);
  pid_t other = children.Spawn([](const WorkerSpec&, int fd) { WaitForEof(fd); });
  CHECK(children.Receive(other).kind == 'W');

  children.Inherit({listener});
  pid_t pid = children.Spawn([](const WorkerSpec&, int channel_fd) {
    (void)SendChannelMessage(channel_fd, 'F', std::to_string(channel_fd) + " " + OpenFds());
    _exit(0);
  });
  ChannelMessage message = children.Receive(pid);
  std::set<int> held = ParseFds(message.text);
  int channel_fd = *ParseFds(message.text.substr(0, message.text.find(' '))).begin();

  std::set<int> expected{listener, log::Fd(), channel_fd};
  for (int fd : {0, 1, 2})
    if (fcntl(fd, F_GETFD) != -1) expected.insert(fd);
  CHECK(Join(held) == Join(expected));
  CHECK(held.count(children.ops().ChannelFd(other)) == 0);
  CHECK(held.count(metrics) == 0);
  CHECK(held.count(pipe_fds[0]) == 0);
  children.WaitExit(pid);
  children.ops().CloseChannel(other);
  children.WaitExit(other);
  for (int fd : {pipe_fds[0], pipe_fds[1], metrics, listener}) close(fd);
}

}  // namespace
}  // namespace thriftd
