// StopSignal, and the worker's signal handlers. The handlers are
// process-wide and a quick stop's alarm ends the process, so they are tried
// in a child process.
#include "workers/stop_signal.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "tests/unit/worker_fixture.h"

namespace thriftd {
namespace {

using namespace thriftd_test;

TEST_CASE("RequestStop: a quick stop overrides a graceful one, never the reverse") {
  StopSignal stop;
  REQUIRE(stop.Open().ok());
  CHECK_FALSE(stop.stop_requested());
  CHECK(stop.RequestStop());  // it changed the stop
  CHECK_FALSE(stop.RequestStop());
  CHECK(stop.stop_requested());
  CHECK_FALSE(stop.quick());
  CHECK(stop.RequestStop(/*quick=*/true));
  CHECK(stop.quick());
  CHECK_FALSE(stop.RequestStop(/*quick=*/true));
  CHECK_FALSE(stop.RequestStop());
  CHECK(stop.quick());
  pollfd p{stop.wake_fd(), POLLIN, 0};
  CHECK(poll(&p, 1, 0) == 1);
}

/// Runs `body` in a child process, which exits with what it returns;
/// returns the child's status as waitpid() gives it.
template <typename Body>
int InChild(Body body) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(body());
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

/// What is left of the process's alarm (alarm() is ITIMER_REAL), in ms.
std::int64_t AlarmLeftMs() {
  itimerval left{};
  if (getitimer(ITIMER_REAL, &left) < 0) return -1;
  return left.it_value.tv_sec * 1000 + left.it_value.tv_usec / 1000;
}

TEST_CASE("regression: another INT or QUIT does not put the quick stop's forced exit back") {
  // Each quick-stop signal re-armed the one-second alarm, so a stream of
  // them (an impatient operator, a supervisor repeating itself) put the
  // forced exit off for as long as it lasted.
  constexpr int kPassed = 20;  // not 0: the alarm's own exit
  int status = InChild([] {
    StopSignal stop;
    if (!stop.Open().ok()) return 10;
    InstallWorkerSignalHandlers(&stop, nullptr, STDERR_FILENO);
    if (raise(SIGINT) != 0 || !stop.quick()) return 11;
    std::int64_t armed = AlarmLeftMs();
    if (armed <= 200) return 12;
    if (!WaitFor([&] { return AlarmLeftMs() < armed - 200; }, 900ms)) return 13;
    if (raise(SIGQUIT) != 0 || raise(SIGINT) != 0) return 14;
    std::int64_t left = AlarmLeftMs();
    alarm(0);  // the child reports instead of being ended
    return left > 0 && left < armed - 200 ? kPassed : 15;
  });
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == kPassed);
}

}  // namespace
}  // namespace thriftd
