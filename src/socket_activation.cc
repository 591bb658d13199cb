#include "src/socket_activation.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>

namespace thriftd {
namespace {

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// A positive decimal int, as libsystemd reads LISTEN_PID and LISTEN_FDS.
bool IsPositiveInt(const std::optional<std::string>& text) {
  if (!text || text->empty() || text->size() > 10) return false;
  if (!std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  long long value = std::stoll(*text);
  return value > 0 && value <= INT_MAX;
}

// libsystemd tells only an errno (EINVAL, or EBADF for a descriptor that
// is not open); the operator needs the variable. The checks follow the
// order libsystemd makes them in.
std::string Refusal(const std::optional<std::string>& pid, const std::optional<std::string>& fds,
                    const std::optional<std::string>& names, int err) {
  std::string prefix = "socket activation: ";
  if (!IsPositiveInt(pid)) return prefix + "LISTEN_PID=" + pid.value_or("") + " is not a pid";
  if (!IsPositiveInt(fds))
    return prefix + "LISTEN_FDS=" + fds.value_or("") + " is not a positive number";
  if (err == EBADF) {
    int last = SD_LISTEN_FDS_START + std::stoi(*fds) - 1;
    return prefix + "LISTEN_FDS=" + *fds +
           (last == SD_LISTEN_FDS_START
                ? " names descriptor 3, which is not open"
                : " names descriptors 3.." + std::to_string(last) + ", not all open");
  }
  if (names) {
    std::size_t count = std::count(names->begin(), names->end(), ':') + 1;
    return prefix + "LISTEN_FDNAMES=" + *names + " has " + std::to_string(count) +
           " names for LISTEN_FDS=" + *fds;
  }
  return prefix + Status::FromErrno("sd_listen_fds_with_names", err).message();
}

// The NULL-terminated array of names libsystemd allocates, and each name.
struct Names {
  Names() = default;
  Names(const Names&) = delete;
  Names& operator=(const Names&) = delete;
  ~Names() {
    if (list == nullptr) return;
    for (char** name = list; *name != nullptr; ++name) free(*name);
    free(list);
  }
  char** list = nullptr;
};

}  // namespace

Status TakeActivatedSockets(std::vector<ActivatedSocket>* sockets) {
  sockets->clear();
  // Copied before the call, which unsets them (as asked) even when it
  // refuses them: the refusal's message quotes them.
  std::optional<std::string> pid = Env("LISTEN_PID");
  std::optional<std::string> fds = Env("LISTEN_FDS");
  std::optional<std::string> fd_names = Env("LISTEN_FDNAMES");
  Names names;
  int count = sd_listen_fds_with_names(1, &names.list);
  if (count < 0) return Status::Error(Refusal(pid, fds, fd_names, -count));
  // Close-on-exec already (sd_listen_fds(3) sets it): a binary upgrade's
  // exec passes on only what it means to; AdoptListener makes sure again.
  for (int i = 0; i < count; ++i)
    sockets->push_back(ActivatedSocket{SD_LISTEN_FDS_START + i, names.list[i]});
  return Status::Ok();
}

}  // namespace thriftd
