#include "workers/stop_signal.h"

#include "src/base/channel.h"
#include "src/base/clock.h"
#include "src/base/exit_codes.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <atomic>
#include <cerrno>

namespace thriftd {
namespace {

// Signal handling's process-wide state: what the handlers may touch, set
// once by InstallWorkerSignalHandlers before any signal is unblocked.
StopSignal* handled_stop = nullptr;
const ScoreboardSlot* hung_slot = nullptr;  // what SIGABRT reports
int hung_log_fd = STDERR_FILENO;
pid_t handled_master_pid = 0;  // stop signals from anyone else are said to it
int handled_channel_fd = -1;
// How long a quick stop may take, OnWorkerExit included.
constexpr unsigned kQuickStopSeconds = 1;

void NoteSender(int signo, const siginfo_t* info);

void OnGracefulStop(int signo, siginfo_t* info, void*) {
  NoteSender(signo, info);
  handled_stop->RequestStop();
}

void OnQuickStop(int signo, siginfo_t* info, void*) {
  NoteSender(signo, info);
  // Armed by the first quick stop only: re-arming on each one would put the
  // forced exit off for as long as the signals kept coming.
  if (handled_stop->RequestStop(/*quick=*/true)) alarm(kQuickStopSeconds);
}

void OnQuickStopOverdue(int) { _exit(0); }

void OnReopen(int) { handled_stop->RequestReopen(); }

// Appends text to a fixed buffer; async-signal-safe.
struct SignalLine {
  char text[256];
  size_t size = 0;
  void Add(const char* s) {
    while (*s && size < sizeof text - 1) text[size++] = *s++;
  }
  void AddNumber(long long n, int width = 0) {
    char digits[24];
    int count = 0;
    bool negative = n < 0;
    unsigned long long value = negative ? -static_cast<unsigned long long>(n) : n;
    do {
      digits[count++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value > 0 && count < 23);
    while (count < width) digits[count++] = '0';
    if (negative) Add("-");
    while (count > 0 && size < sizeof text - 1) text[size++] = digits[--count];
  }
};

// The master found this worker hung and sent SIGABRT: say where it was
// stuck, in the error log's format (UTC: localtime is not signal-safe), and
// exit. Everything here is async-signal-safe.
void OnHung(int) {
  SignalLine line;
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  long long days = now.tv_sec / 86400;
  long long seconds = now.tv_sec % 86400;
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  long long z = days + 719468;
  long long era = z / 146097;
  long long doe = z - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long long mp = (5 * doy + 2) / 153;
  long long day = doy - (153 * mp + 2) / 5 + 1;
  long long month = mp < 10 ? mp + 3 : mp - 9;
  long long year = yoe + era * 400 + (month <= 2);
  line.Add("[");
  line.AddNumber(year, 4);
  line.Add("-");
  line.AddNumber(month, 2);
  line.Add("-");
  line.AddNumber(day, 2);
  line.Add(" ");
  line.AddNumber(seconds / 3600, 2);
  line.Add(":");
  line.AddNumber(seconds / 60 % 60, 2);
  line.Add(":");
  line.AddNumber(seconds % 60, 2);
  line.Add(" +0000] [");
  line.AddNumber(getpid());
  line.Add("] [CRITICAL] WORKER TIMEOUT: stuck ");
  if (hung_slot != nullptr && hung_slot->call_started_ms.load() != 0) {
    line.Add("in ");
    const char* method = hung_slot->current_method.load();
    line.Add(method != nullptr ? method : "an unknown method");
    line.Add(" for ");
    // Tenths: "for 0 s" of a call killed after a one-second timeout read as
    // a kill that came too early.
    long long tenths = (CoarseMonotonicMillis() - hung_slot->call_started_ms.load()) / 100;
    line.AddNumber(tenths / 10);
    line.Add(".");
    line.AddNumber(tenths % 10);
    line.Add(" s");
  } else {
    line.Add("outside any call");
  }
  line.Add("; exiting\n");
  ssize_t ignored = write(hung_log_fd, line.text, line.size);
  (void)ignored;
  _exit(kWorkerExitHung);
}

// A stop signal from another process than the master: say so to the master
// at once (one packet on the channel, in its format: the kind byte, then
// "SIGTERM from pid N"), the first time only. Async-signal-safe: a raw
// non-blocking send from a stack buffer.
void NoteSender(int signo, const siginfo_t* info) {
  pid_t sender = info != nullptr ? info->si_pid : 0;
  if (handled_master_pid == 0 || sender == handled_master_pid) return;
  if (!handled_stop->NoteOutsideStop(signo) || handled_channel_fd < 0) return;
  SignalLine line;
  line.text[0] = kChannelStopSignal;
  line.size = 1;
  line.Add("SIG");
  const char* name = sigabbrev_np(signo);
  line.Add(name != nullptr ? name : "?");
  line.Add(" from pid ");
  line.AddNumber(sender);
  int saved = errno;
  // A full channel (the master is not reading) loses only the log line: the
  // master still sees this worker exit, and replaces it then.
  (void)send(handled_channel_fd, line.text, line.size, MSG_DONTWAIT | MSG_NOSIGNAL);
  errno = saved;
}

void HandleWithInfo(int signo, void (*handler)(int, siginfo_t*, void*)) {
  struct sigaction action {};
  action.sa_sigaction = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_SIGINFO;
  // Only with an invalid signal number, which these are not.
  (void)sigaction(signo, &action, nullptr);
}

void Handle(int signo, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  // Only with an invalid signal number, which these are not.
  (void)sigaction(signo, &action, nullptr);
}

}  // namespace

Status StopSignal::Open() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return Status::FromErrno("pipe2(stop)", errno);
  wake_read_.Reset(fds[0]);
  wake_write_.Reset(fds[1]);
  return Status::Ok();
}

bool StopSignal::NoteOutsideStop(int signo) {
  int none = 0;
  return outside_signal_.compare_exchange_strong(none, signo, std::memory_order_acq_rel);
}

bool StopSignal::RequestStop(bool quick) {
  int wanted = quick ? kQuick : kGraceful;
  int current = stop_.load(std::memory_order_relaxed);
  // A quick stop overrides a graceful one, never the reverse.
  bool changed = false;
  while (current < wanted && !changed)
    changed = stop_.compare_exchange_weak(current, wanted, std::memory_order_acq_rel);
  if (wake_write_.valid()) {
    int saved = errno;
    // A full pipe already wakes every reader; nothing else can fail here.
    ssize_t ignored = write(wake_write_.get(), "s", 1);
    (void)ignored;
    errno = saved;
  }
  return changed;
}

void InstallWorkerSignalHandlers(StopSignal* stop, const ScoreboardSlot* slot, int log_fd,
                                 pid_t master_pid, int channel_fd) {
  handled_stop = stop;
  hung_slot = slot;
  hung_log_fd = log_fd;
  handled_master_pid = master_pid;
  handled_channel_fd = channel_fd;
  HandleWithInfo(SIGTERM, OnGracefulStop);
  HandleWithInfo(SIGHUP, OnGracefulStop);
  HandleWithInfo(SIGINT, OnQuickStop);
  HandleWithInfo(SIGQUIT, OnQuickStop);
  Handle(SIGALRM, OnQuickStopOverdue);
  Handle(SIGUSR1, OnReopen);
  Handle(SIGABRT, OnHung);
  Handle(SIGTTIN, SIG_IGN);
  Handle(SIGTTOU, SIG_IGN);
  Handle(SIGWINCH, SIG_IGN);
  Handle(SIGUSR2, SIG_IGN);
  Handle(SIGPIPE, SIG_IGN);
  sigset_t all;
  sigfillset(&all);
  (void)sigprocmask(SIG_UNBLOCK, &all, nullptr);  // cannot fail with SIG_UNBLOCK
}

}  // namespace thriftd
