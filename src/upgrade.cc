#include "src/upgrade.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "src/base/channel.h"
#include "src/close_descriptors.h"
#include "src/open_listeners.h"

extern char** environ;

namespace thriftd {
namespace {

// How long the old master's send of a connection may wait for the new
// master to read its channel. It reads it in its loop, so this is only
// reached when it hangs; then the connection is closed rather than the old
// master stalled.
constexpr timeval kSendTimeout = {2, 0};

bool Named(const char* entry, const char* name) {
  std::size_t length = std::strlen(name);
  return std::strncmp(entry, name, length) == 0 && entry[length] == '=';
}

// This process's environment for the new master, with the upgrade's own
// variables. LISTEN_* and THRIFTD_* were taken (and unset) at start;
// WATCHDOG_PID names this process and goes: the child names itself
// (*watchdog says whether to).
std::vector<std::string> SuccessorEnvironment(const std::vector<PassedSocket>& sockets,
                                              int channel_fd, bool* watchdog) {
  std::vector<std::string> environment;
  *watchdog = false;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (Named(*entry, "WATCHDOG_PID")) {
      *watchdog = true;
    } else {
      environment.emplace_back(*entry);
    }
  }
  environment.push_back(std::string(kListenersVariable) + "=" + ListenersVariable(sockets));
  environment.push_back(std::string(kUpgradeFdVariable) + "=" + std::to_string(channel_fd));
  environment.push_back(std::string(kUpgradeFromVariable) + "=" + std::to_string(getpid()));
  return environment;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// In the child: says why it cannot become the new master, and exits.
[[noreturn]] void ChildFails(int channel_fd, const std::string& what, int err) {
  std::string message = "cannot execute the new master: " + what + ": " + std::strerror(err);
  (void)SendChannelMessage(channel_fd, kChannelBootError, message);
  _exit(127);
}

// In the child, after fork: never returns. It may allocate: the master is
// single-threaded, so no lock was held by another thread at the fork.
[[noreturn]] void ExecSuccessor(const ExecCommand& command, const std::vector<int>& keep,
                                const std::vector<int>& passed, int channel_fd,
                                std::vector<std::string>& environment, bool watchdog) {
  CloseAllBut(keep);
  for (int fd : passed) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
      ChildFails(channel_fd, "fcntl(" + std::to_string(fd) + ")", errno);
  }
  // systemd's watchdog is meant for the main process, which the new master
  // will be; execve keeps this pid.
  if (watchdog) environment.push_back("WATCHDOG_PID=" + std::to_string(getpid()));
  if (!command.cwd.empty() && chdir(command.cwd.c_str()) != 0)
    ChildFails(channel_fd, "chdir(" + command.cwd + ")", errno);
  std::vector<std::string> argv = command.argv;
  std::vector<char*> argv_pointers = Pointers(argv);
  std::vector<char*> environment_pointers = Pointers(environment);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execvpe(argv_pointers[0], argv_pointers.data(), environment_pointers.data());
  ChildFails(channel_fd, argv[0], errno);
}

}  // namespace

ExecCommand CaptureExecCommand(int argc, char** argv) {
  ExecCommand command;
  command.argv.assign(argv, argv + argc);
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) != nullptr) command.cwd = cwd;
  return command;
}

Status StartSuccessor(const ExecCommand& command, const std::vector<PassedSocket>& sockets,
                      Successor* successor) {
  if (command.argv.empty() || command.argv[0].empty())
    return Status::Error("cannot tell how thriftd was started (no argv[0])");
  ChannelPair channel;
  Status status = OpenChannel(&channel);
  if (!status.ok()) return status;
  if (setsockopt(channel.master_end.get(), SOL_SOCKET, SO_SNDTIMEO, &kSendTimeout,
                 sizeof kSendTimeout) < 0) {
    return Status::FromErrno("setsockopt(SO_SNDTIMEO)", errno);
  }
  int child_end = channel.worker_end.get();
  std::vector<int> passed{child_end};
  for (const PassedSocket& socket : sockets) passed.push_back(socket.fd);
  const std::vector<int> keep = DescriptorsToKeep(passed);
  bool watchdog = false;
  std::vector<std::string> environment = SuccessorEnvironment(sockets, child_end, &watchdog);

  // Blocked across fork, as for a worker: the master's handlers are
  // libevent's, which would hand the child's signals to the master's loop.
  sigset_t all, previous;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &previous);
  pid_t child = fork();
  if (child == 0) ExecSuccessor(command, keep, passed, child_end, environment, watchdog);
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  if (child < 0) return Status::FromErrno("fork", errno);
  successor->pid = child;
  successor->channel = std::move(channel.master_end);
  successor->ready = false;
  successor->error.clear();
  return Status::Ok();
}

Status TakePredecessor(std::optional<Predecessor>* predecessor) {
  const char* fd_text = std::getenv(kUpgradeFdVariable);
  const char* from_text = std::getenv(kUpgradeFromVariable);
  if (fd_text == nullptr && from_text == nullptr) return Status::Ok();
  std::string fd_value = fd_text ? fd_text : "";
  std::string from_value = from_text ? from_text : "";
  unsetenv(kUpgradeFdVariable);
  unsetenv(kUpgradeFromVariable);
  char* end = nullptr;
  long fd = std::strtol(fd_value.c_str(), &end, 10);
  if (fd_value.empty() || *end != '\0' || fd < 0 || fd > 1 << 20)
    return Status::Error(std::string(kUpgradeFdVariable) + ": expected a descriptor, got \"" +
                         fd_value + "\"");
  long pid = std::strtol(from_value.c_str(), &end, 10);
  if (from_value.empty() || *end != '\0' || pid <= 0)
    return Status::Error(std::string(kUpgradeFromVariable) + ": expected a pid, got \"" +
                         from_value + "\"");
  UniqueFd channel(static_cast<int>(fd));
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(channel.get(), SOL_SOCKET, SO_TYPE, &type, &length) < 0 ||
      type != SOCK_SEQPACKET) {
    channel.Release();  // not ours to close: it is not what the variable said
    return Status::Error(std::string(kUpgradeFdVariable) + ": descriptor " + fd_value +
                         " is not the upgrade channel");
  }
  if (fcntl(channel.get(), F_SETFD, FD_CLOEXEC) < 0)
    return Status::FromErrno("fcntl(" + std::string(kUpgradeFdVariable) + ")", errno);
  // A rollback's hand-back may wait for the old master to read, as the
  // other way round; never longer.
  if (setsockopt(channel.get(), SOL_SOCKET, SO_SNDTIMEO, &kSendTimeout, sizeof kSendTimeout) < 0)
    return Status::FromErrno("setsockopt(SO_SNDTIMEO)", errno);
  predecessor->emplace(Predecessor{static_cast<pid_t>(pid), std::move(channel)});
  return Status::Ok();
}

}  // namespace thriftd
