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
