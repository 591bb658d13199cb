// The master's pidfile.
#include "src/pidfile.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "test_util.h"

namespace thriftd {
namespace {

// A pid that names no process: a child that has exited and been reaped.
pid_t DeadPid() {
  pid_t child = fork();
  if (child == 0) _exit(0);
  REQUIRE(child > 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  return child;
}

TEST_CASE("Create writes the pid and a newline") {
  thriftd_test::TempDir dir;
  std::string path = dir.Join("thriftd.pid");
  Pidfile pidfile;
  Status status = pidfile.Create(path, getpid());
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(thriftd_test::ReadFile(path) == std::to_string(getpid()) + "\n");
  CHECK_FALSE(thriftd_test::Exists(path + ".tmp" + std::to_string(getpid())));
}

TEST_CASE("Create makes the pidfile 0644 whatever the umask") {
  for (mode_t mask : {mode_t{0}, mode_t{077}, mode_t{022}}) {
    CAPTURE(mask);
    thriftd_test::TempDir dir;
    std::string path = dir.Join("thriftd.pid");
    mode_t old_mask = umask(mask);
    Pidfile pidfile;
    Status status = pidfile.Create(path, getpid());
    umask(old_mask);
    REQUIRE_MESSAGE(status.ok(), status.message());
    struct stat st;
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
  }
}

TEST_CASE("Create refuses a pidfile that is a symbolic link, and leaves its target alone") {
  thriftd_test::TempDir dir;
  std::string target = dir.Write("target", "precious\n");
  std::string path = dir.Join("thriftd.pid");
  REQUIRE(symlink(target.c_str(), path.c_str()) == 0);
  Pidfile pidfile;
  Status status = pidfile.Create(path, getpid());
  CHECK(status.message() ==
        "pidfile " + path + " is a symbolic link; refusing to write through it");
  CHECK(thriftd_test::ReadFile(target) == "precious\n");
  struct stat st;
  REQUIRE(lstat(path.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
}

TEST_CASE("Create never writes through a link planted at its temporary file") {
  thriftd_test::TempDir dir;
  std::string target = dir.Write("target", "precious\n");
  std::string path = dir.Join("thriftd.pid");
  std::string temporary = path + ".tmp" + std::to_string(getpid());
  REQUIRE(symlink(target.c_str(), temporary.c_str()) == 0);
  Pidfile pidfile;
  Status status = pidfile.Create(path, getpid());
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(thriftd_test::ReadFile(target) == "precious\n");
  CHECK(thriftd_test::ReadFile(path) == std::to_string(getpid()) + "\n");
  CHECK_FALSE(thriftd_test::Exists(temporary));
}

TEST_CASE("Create refuses a pidfile naming another live process") {
  thriftd_test::TempDir dir;
  std::string other = std::to_string(getppid()) + "\n";
  std::string path = dir.Write("thriftd.pid", other);
  Pidfile pidfile;
  Status status = pidfile.Create(path, getpid());
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "pidfile " + path + " names a running process (pid " +
                                std::to_string(getppid()) + "); is thriftd already running?");
  CHECK(thriftd_test::ReadFile(path) == other);
}

TEST_CASE("Create takes over a pidfile naming the live master it replaces") {
  // A binary upgrade: the old master may not be reaped yet when the new one
  // learns it has gone.
  thriftd_test::TempDir dir;
  std::string path = dir.Write("thriftd.pid", std::to_string(getppid()) + "\n");
  Pidfile pidfile;
  Status status = pidfile.Create(path, getpid(), /*replacing=*/getppid());
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(thriftd_test::ReadFile(path) == std::to_string(getpid()) + "\n");
}

// Regression (src/pidfile.cc, Create, fixed): a live process we may not signal makes
// kill(pid, 0) fail with EPERM, which Create takes for "no such process" and
// overwrites the pidfile of another user's running thriftd. Only ESRCH means
// the process is gone. Run as an unprivileged user (a child that drops to
// nobody when the test runs as root) against a pidfile naming a process it
// cannot signal.
TEST_CASE("regression: Create refuses a pidfile naming a live process of another user") {
  thriftd_test::TempDir dir;
  REQUIRE(chmod(dir.path().c_str(), 0777) == 0);
  pid_t other_user = getuid() == 0 ? getpid() : 1;  // root's test process, or init
  std::string path = dir.Write("thriftd.pid", std::to_string(other_user) + "\n");
  REQUIRE(chmod(path.c_str(), 0666) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    Pidfile pidfile;
    Status status = pidfile.Create(path, getpid());
    bool refused = !status.ok() && status.message() == "pidfile " + path +
                                                           " names a running process (pid " +
                                                           std::to_string(other_user) +
                                                           "); is thriftd already running?";
    _exit(refused ? 0 : 1);
  }
  int wait_status = 0;
  REQUIRE(waitpid(child, &wait_status, 0) == child);
  REQUIRE(WIFEXITED(wait_status));
  REQUIRE(WEXITSTATUS(wait_status) != 2);
  CHECK(WEXITSTATUS(wait_status) == 0);
  CHECK(thriftd_test::ReadFile(path) == std::to_string(other_user) + "\n");
}

TEST_CASE("Create overwrites a stale pidfile") {
  thriftd_test::TempDir dir;
  std::string path = dir.Write("thriftd.pid", std::to_string(DeadPid()) + "\n");
  Pidfile pidfile;
  Status status = pidfile.Create(path, getpid());
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(thriftd_test::ReadFile(path) == std::to_string(getpid()) + "\n");
}

TEST_CASE("Create overwrites a pidfile holding our own pid or garbage") {
  thriftd_test::TempDir dir;
  std::string path = dir.Write("thriftd.pid", std::to_string(getpid()) + "\n");
  Pidfile own;
  REQUIRE(own.Create(path, getpid()).ok());
  own.Remove();
  dir.Write("thriftd.pid", "not a pid\n");
  Pidfile garbage;
  REQUIRE(garbage.Create(path, getpid()).ok());
  CHECK(thriftd_test::ReadFile(path) == std::to_string(getpid()) + "\n");
}

TEST_CASE("Create into a missing directory names the failing call") {
  thriftd_test::TempDir dir;
  std::string path = dir.Join("no/such/dir/thriftd.pid");
  Pidfile pidfile;
  Status status = pidfile.Create(path, getpid());
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().rfind("open(" + path + ".tmp" + std::to_string(getpid()) + "): ", 0) == 0);
}

TEST_CASE("Remove deletes the pidfile, and the destructor does too") {
  thriftd_test::TempDir dir;
  std::string path = dir.Join("thriftd.pid");
  Pidfile pidfile;
  REQUIRE(pidfile.Create(path, getpid()).ok());
  pidfile.Remove();
  CHECK_FALSE(thriftd_test::Exists(path));
  pidfile.Remove();  // twice is harmless

  {
    Pidfile scoped;
    REQUIRE(scoped.Create(path, getpid()).ok());
    CHECK(thriftd_test::Exists(path));
  }
  CHECK_FALSE(thriftd_test::Exists(path));
}

TEST_CASE("Remove leaves a pidfile that another master has taken over") {
  // USR2: the new master writes its own pid; the old one must not delete it.
  thriftd_test::TempDir dir;
  std::string path = dir.Join("thriftd.pid");
  Pidfile pidfile;
  REQUIRE(pidfile.Create(path, getpid()).ok());
  dir.Write("thriftd.pid", std::to_string(getppid()) + "\n");
  pidfile.Remove();
  CHECK(thriftd_test::ReadFile(path) == std::to_string(getppid()) + "\n");
}

TEST_CASE("regression: a FIFO at the pidfile's path is refused, not waited on") {
  // Reading it hung the start until a writer came.
  thriftd_test::TempDir dir;
  std::string path = dir.Join("thriftd.pid");
  REQUIRE(mkfifo(path.c_str(), 0600) == 0);
  Pidfile pidfile;
  Status status = pidfile.Create(path, getpid());
  CHECK(status.message() == "pidfile " + path + " is not a regular file");
  CHECK(Pidfile::CheckPath(path).message() == status.message());
}

TEST_CASE("CheckPath refuses what Create refuses, and accepts a missing or regular file") {
  thriftd_test::TempDir dir;
  CHECK(Pidfile::CheckPath(dir.Join("missing.pid")).ok());
  CHECK(Pidfile::CheckPath(dir.Write("old.pid", "42\n")).ok());
  std::string link = dir.Join("link.pid");
  REQUIRE(symlink(dir.Join("old.pid").c_str(), link.c_str()) == 0);
  CHECK(Pidfile::CheckPath(link).message() ==
        "pidfile " + link + " is a symbolic link; refusing to write through it");
}

}  // namespace
}  // namespace thriftd
