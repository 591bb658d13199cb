// chdir, umask and raw_env applied in the master (src/process_environment.h).
#include "src/process_environment.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_util.h"

namespace thriftd {
namespace {

Config Resolved(const std::vector<std::string>& args) {
  Config config;
  Status status = ResolveConfig(args, std::nullopt, &config);
  REQUIRE_MESSAGE(status.ok(), status.message());
  return config;
}

TEST_CASE("umask and raw_env reach this process, and so every child forked after") {
  mode_t old_mask = umask(0);
  Config config =
      Resolved({"--umask", "027", "-e", "THRIFTD_TEST_ENV=a b", "-e", "HOME=/elsewhere"});
  const char* old_home = std::getenv("HOME");
  std::string saved_home = old_home ? old_home : "";
  Status status = ApplyUmaskAndEnvironment(config);
  REQUIRE_MESSAGE(status.ok(), status.message());
  mode_t mask = umask(old_mask);
  CHECK(mask == 027);
  CHECK(std::string(std::getenv("THRIFTD_TEST_ENV")) == "a b");
  CHECK(std::string(std::getenv("HOME")) == "/elsewhere");  // an existing one is replaced
  CHECK(unsetenv("THRIFTD_TEST_ENV") == 0);
  if (old_home != nullptr) CHECK(setenv("HOME", saved_home.c_str(), 1) == 0);
}

TEST_CASE("chdir changes the directory; a missing one is one line naming the setting") {
  thriftd_test::TempDir dir;
  char old[PATH_MAX];
  REQUIRE(getcwd(old, sizeof old) != nullptr);
  Status status = ApplyChdir(Resolved({"--chdir", dir.path()}));
  REQUIRE_MESSAGE(status.ok(), status.message());
  char now[PATH_MAX];
  REQUIRE(getcwd(now, sizeof now) != nullptr);
  REQUIRE(chdir(old) == 0);
  CHECK(std::filesystem::canonical(dir.path()).string() == now);

  std::string missing = dir.Join("missing");
  status = ApplyChdir(Resolved({"--chdir", missing}));
  CHECK(status.message() ==
        "command line: --chdir: chdir(" + missing + "): No such file or directory");
  REQUIRE(getcwd(now, sizeof now) != nullptr);
  CHECK(std::string(now) == old);
  CHECK(ApplyChdir(Resolved({})).ok());  // unset: stays
}

}  // namespace
}  // namespace thriftd

namespace thriftd {
namespace {

TEST_CASE("a user and a group are found by name or id; an unknown name is one line") {
  uid_t uid = 1;
  gid_t gid = 1;
  std::string name;
  REQUIRE(LookUpUser("root", &uid, &gid, &name).ok());
  CHECK((uid == 0 && gid == 0 && name == "root"));
  REQUIRE(LookUpUser("0", &uid, &gid, &name).ok());
  CHECK((uid == 0 && name == "root"));
  // An id with no passwd entry is taken as is (containers run with any uid).
  REQUIRE(LookUpUser("3999999", &uid, &gid, &name).ok());
  CHECK((uid == 3999999 && gid == static_cast<gid_t>(-1) && name == "3999999"));
  CHECK(LookUpUser("no-such-user-x", &uid, &gid, &name).message() ==
        "no such user \"no-such-user-x\"");
  REQUIRE(LookUpGroup("0", &gid, &name).ok());
  CHECK((gid == 0 && name == "root"));
  CHECK(LookUpGroup("no-such-group-x", &gid, &name).message() ==
        "no such group \"no-such-group-x\"");
}

TEST_CASE("naming the user and group thriftd runs as asks for no change") {
  Config config = Resolved({"-u", std::to_string(geteuid()), "-g", std::to_string(getegid())});
  std::optional<Credentials> credentials;
  Status status = ResolveWorkerCredentials(config, &credentials);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(!credentials.has_value());
}

TEST_CASE("refuse_root_workers refuses a root start without a user") {
  if (geteuid() != 0) return;  // the integration tests cover it as root; nothing to refuse here
  std::optional<Credentials> credentials;
  CHECK(ResolveWorkerCredentials(Resolved({"--refuse-root-workers"}), &credentials).message() ==
        "command line: --refuse-root-workers: the workers would run as root (set user to "
        "another user)");
}

TEST_CASE("a user with no passwd entry and no group is refused, not run in root's group") {
  if (geteuid() != 0) return;  // not root: any other user is refused anyway
  std::optional<Credentials> credentials;
  CHECK(ResolveWorkerCredentials(Resolved({"-u", "3999999"}), &credentials).message() ==
        "command line: --user: user 3999999 has no passwd entry to take a group from: set group "
        "too");
  Status status =
      ResolveWorkerCredentials(Resolved({"-u", "3999999", "-g", "3999999"}), &credentials);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK((credentials && credentials->uid == 3999999 && credentials->gid == 3999999));
}

TEST_CASE("only a plain log file of its own is given to the workers' user") {
  if (geteuid() != 0) return;  // fchown to another user needs root
  thriftd_test::TempDir dir;
  std::optional<Credentials> credentials;
  REQUIRE(
      ResolveWorkerCredentials(Resolved({"-u", "3999999", "-g", "3999999"}), &credentials).ok());
  const std::string log = dir.Join("error.log");
  Config plain = Resolved({"--error-logfile", log});
  REQUIRE(GiveLogFilesToWorkers(plain, credentials).ok());
  struct stat st;
  REQUIRE(stat(log.c_str(), &st) == 0);
  CHECK(st.st_uid == 3999999);
  // A hard link to a file the workers must not own (root's, elsewhere).
  const std::string secret = dir.Join("secret");
  const std::string linked = dir.Join("linked.log");
  dir.Write("secret", "root's\n");
  REQUIRE(link(secret.c_str(), linked.c_str()) == 0);
  CHECK(GiveLogFilesToWorkers(Resolved({"--error-logfile", linked}), credentials).message() ==
        "command line: --error-logfile: cannot give " + linked +
            " to the workers' user: it has 2 hard links");
  REQUIRE(stat(secret.c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
  // A FIFO: refused at once, where a blocking open would hang the master.
  const std::string fifo = dir.Join("fifo.log");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(GiveLogFilesToWorkers(Resolved({"--error-logfile", fifo}), credentials).message() ==
        "command line: --error-logfile: open(" + fifo + "): No such device or address");
}

TEST_CASE("the unix sockets' group is unix_socket_group, else group, else none") {
  UnixSocketAccess access;
  REQUIRE(ResolveUnixSocketAccess(Resolved({}), &access).ok());
  CHECK((access.mode == 0660 && access.group == static_cast<gid_t>(-1)));
  REQUIRE(
      ResolveUnixSocketAccess(Resolved({"-g", "0", "--unix-socket-mode", "0600"}), &access).ok());
  CHECK((access.mode == 0600 && access.group == 0));
  CHECK(ResolveUnixSocketAccess(Resolved({"--unix-socket-group", "no-such-group-x"}), &access)
            .message() == "command line: --unix-socket-group: no such group \"no-such-group-x\"");
}

}  // namespace
}  // namespace thriftd
