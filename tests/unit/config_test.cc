// Resolving the configuration: defaults < config file < THRIFTD_CMD_ARGS <
// command line, and every error as one line naming where the bad value came from.
#include "src/config.h"
#include "src/bind_entry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <climits>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "src/setting_paths.h"
#include "test_util.h"

namespace thriftd {
namespace {

using Args = std::vector<std::string>;
using StringMap = std::map<std::string, std::string>;

// ResolveConfig's error message, or "ok".
std::string ResolveError(const Args& args, const std::optional<std::string>& env = std::nullopt) {
  Config config;
  Status status = ResolveConfig(args, env, &config);
  return status.ok() ? "ok" : status.message();
}

Config Resolve(const Args& args, const std::optional<std::string>& env = std::nullopt) {
  Config config;
  Status status = ResolveConfig(args, env, &config);
  REQUIRE_MESSAGE(status.ok(), status.message());
  return config;
}

// The error from a config file holding `yaml`, named f.yaml in a temp dir.
std::string YamlError(const std::string& yaml) {
  ConfigLayer layer;
  Status status = ParseYamlConfig(yaml, "f.yaml", &layer);
  return status.ok() ? "ok" : status.message();
}

TEST_CASE("with no arguments every setting has its default") {
  Config config = Resolve({});
  CHECK(config.app == "");
  CHECK(config.bind == std::vector<std::string>{"127.0.0.1:8000"});
  CHECK(config.backlog == 2048);
  CHECK(config.workers == 1);
  CHECK(config.worker_class == "sync");
  CHECK(config.graceful_timeout == 30.0);
  CHECK(config.thrift_transport_factory == "buffered");
  CHECK(config.thrift_protocol_factory == "binary");
  CHECK(config.thrift_client_timeout == 0.0);
  CHECK(config.thrift_max_frame_size == 16384000);
  CHECK(config.thrift_max_message_size == 104857600);
  CHECK(config.pidfile == "");
  CHECK(config.errorlog == "-");
  CHECK(config.loglevel == LogLevel::kInfo);
  CHECK(config.app_config.empty());
  CHECK_FALSE(config.check_config);
  CHECK_FALSE(config.print_config);
  CHECK_FALSE(config.help);
  CHECK_FALSE(config.version);
  CHECK(config.OriginOf("workers").Describe() == "default: workers");
}

TEST_CASE("the command line sets every kind of setting") {
  Config config = Resolve({"./libpingpong.so:PingPongApp",
                           "-w",
                           "4",
                           "--backlog=64",
                           "-b",
                           "127.0.0.1:9090",
                           "--bind",
                           "unix:/tmp/x.sock",
                           "--graceful-timeout",
                           "2.5",
                           "--thrift-transport-factory",
                           "framed",
                           "--log-level",
                           "debug",
                           "-p",
                           "/run/t.pid",
                           "--app-config",
                           "a=1",
                           "--app-config",
                           "b=2",
                           "--check-config",
                           "--error-logfile",
                           "/var/log/t.log"});
  CHECK(config.app == "./libpingpong.so:PingPongApp");
  CHECK(config.workers == 4);
  CHECK(config.backlog == 64);
  CHECK(config.bind == std::vector<std::string>{"127.0.0.1:9090", "unix:/tmp/x.sock"});
  CHECK(config.graceful_timeout == 2.5);
  CHECK(config.thrift_transport_factory == "framed");
  CHECK(config.loglevel == LogLevel::kDebug);
  CHECK(config.pidfile == "/run/t.pid");
  CHECK(config.app_config == StringMap{{"a", "1"}, {"b", "2"}});
  CHECK(config.check_config);
  CHECK(config.errorlog == "/var/log/t.log");
  CHECK(config.OriginOf("workers").Describe() == "command line: --workers");
  CHECK(config.OriginOf("app").Describe() == "command line: app");
}

TEST_CASE("defaults < config file < THRIFTD_CMD_ARGS < command line") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml",
                               "workers: 2\n"
                               "backlog: 100\n"
                               "graceful_timeout: 5\n"
                               "loglevel: warning\n");
  Config config = Resolve({"-c", file, "--workers", "4"}, "--workers 3 --backlog 200");
  CHECK(config.workers == 4);
  CHECK(config.OriginOf("workers").Describe() == "command line: --workers");
  CHECK(config.backlog == 200);
  CHECK(config.OriginOf("backlog").Describe() == "THRIFTD_CMD_ARGS: --backlog");
  CHECK(config.graceful_timeout == 5.0);
  CHECK(config.OriginOf("graceful_timeout").Describe() == file + ":3: graceful_timeout");
  CHECK(config.loglevel == LogLevel::kWarning);
  CHECK(config.thrift_max_frame_size == 16384000);
  CHECK(config.OriginOf("thrift_max_frame_size").Describe() == "default: thrift_max_frame_size");
  CHECK(config.config_file == file);
}

TEST_CASE("THRIFTD_CMD_ARGS may name the config file; the command line's -c wins") {
  thriftd_test::TempDir dir;
  std::string from_env = dir.Write("env.yaml", "workers: 2\n");
  std::string from_cli = dir.Write("cli.yaml", "workers: 5\n");
  CHECK(Resolve({}, "-c " + from_env).workers == 2);
  CHECK(Resolve({"-c", from_cli}, "-c " + from_env).workers == 5);
  CHECK(Resolve({"--config=" + from_cli}).workers == 5);
}

TEST_CASE("THRIFTD_CMD_ARGS is split as a shell would") {
  Config config = Resolve({}, "--app-config 'greeting=hello world' -w 3");
  CHECK(config.app_config == StringMap{{"greeting", "hello world"}});
  CHECK(config.workers == 3);
}

TEST_CASE("THRIFTD_CMD_ARGS with a quote left open is refused, as a shell would") {
  CHECK(ResolveError({}, "-w \"2") == "THRIFTD_CMD_ARGS: a \" quote is not closed in \"-w \\\"2\"");
  CHECK(ResolveError({}, "--app-config 'a=b") ==
        "THRIFTD_CMD_ARGS: a ' quote is not closed in \"--app-config 'a=b\"");
  // Closed or escaped: fine.
  CHECK(Resolve({}, "--app-config 'a=b c' -w 2").app_config == StringMap{{"a", "b c"}});
  CHECK(Resolve({}, "--app-config a=\\\"b").app_config == StringMap{{"a", "\"b"}});
}

TEST_CASE("app_config is merged key by key across file, THRIFTD_CMD_ARGS and command line") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml",
                               "app_config:\n"
                               "  dsn: postgres://db/prod\n"
                               "  pool: 8\n"
                               "  region: eu\n");
  Config config =
      Resolve({"-c", file, "--app-config", "pool=16"}, "--app-config region=us --app-config x=1");
  CHECK(config.app_config ==
        StringMap{{"dsn", "postgres://db/prod"}, {"pool", "16"}, {"region", "us"}, {"x", "1"}});
}

TEST_CASE("app_config in a file may be a mapping or a list of KEY=VALUE") {
  ConfigLayer layer;
  REQUIRE(ParseYamlConfig("app_config: [a=1, b=2]\n", "f.yaml", &layer).ok());
  CHECK(std::get<StringMap>(layer.entries.at("app_config").value) ==
        StringMap{{"a", "1"}, {"b", "2"}});
  ConfigLayer mapping;
  REQUIRE(ParseYamlConfig("app_config: {a: 1, empty: }\n", "f.yaml", &mapping).ok());
  CHECK(std::get<StringMap>(mapping.entries.at("app_config").value) ==
        StringMap{{"a", "1"}, {"empty", ""}});
}

TEST_CASE("bind is replaced as a whole by a higher source, never merged") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml",
                               "bind:\n"
                               "  - 127.0.0.1:9090\n"
                               "  - unix:/tmp/a.sock\n");
  CHECK(Resolve({"-c", file}).bind ==
        std::vector<std::string>{"127.0.0.1:9090", "unix:/tmp/a.sock"});
  CHECK(Resolve({"-c", file}, "-b :7000").bind == std::vector<std::string>{":7000"});
  CHECK(Resolve({"-c", file, "-b", ":8001", "-b", ":8002"}, "-b :7000").bind ==
        std::vector<std::string>{":8001", ":8002"});
  ConfigLayer scalar;
  REQUIRE(ParseYamlConfig("bind: 127.0.0.1:1\n", "f.yaml", &scalar).ok());
  CHECK(std::get<std::vector<std::string>>(scalar.entries.at("bind").value) ==
        std::vector<std::string>{"127.0.0.1:1"});
}

TEST_CASE("an empty bind list is an error naming where it was emptied") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml", "workers: 2\nbind: []\n");
  CHECK(ResolveError({"-c", file}) ==
        file +
            ":2: bind: expected an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, "
            "unix:PATH, fd://N or systemd:NAME), "
            "got none");
}

TEST_CASE("a key with no value keeps the default; an empty file is no settings") {
  ConfigLayer layer;
  REQUIRE(ParseYamlConfig("workers:\n", "f.yaml", &layer).ok());
  CHECK(layer.entries.empty());
  REQUIRE(ParseYamlConfig("", "f.yaml", &layer).ok());
  REQUIRE(ParseYamlConfig("# only a comment\n", "f.yaml", &layer).ok());
  CHECK(layer.entries.empty());
}

TEST_CASE("a YAML value records its file and line") {
  ConfigLayer layer;
  REQUIRE(ParseYamlConfig("# comment\n\nworkers: 3\n", "/etc/thriftd.yaml", &layer).ok());
  const ConfigLayer::Entry& entry = layer.entries.at("workers");
  CHECK(std::get<std::int64_t>(entry.value) == 3);
  CHECK(entry.origin.Describe() == "/etc/thriftd.yaml:3: workers");
}

TEST_CASE("YAML: an unknown key is an error with a suggestion when one is near") {
  CHECK(YamlError("workers: 2\nwrokers: 3\n") ==
        "f.yaml:2: wrokers: unknown setting (did you mean workers?)");
  CHECK(YamlError("graceful-timeout: 3\n") ==
        "f.yaml:1: graceful-timeout: unknown setting (did you mean graceful_timeout?)");
  CHECK(YamlError("banana: 3\n") == "f.yaml:1: banana: unknown setting");
}

TEST_CASE("YAML: command-line-only settings are not keys of the file") {
  CHECK(YamlError("config: other.yaml\n") == "f.yaml:1: config: unknown setting");
  CHECK(YamlError("check_config: true\n") == "f.yaml:1: check_config: unknown setting");
}

TEST_CASE("YAML: a wrong type names the key, the line and what was expected") {
  CHECK(YamlError("workers: abc\n") ==
        "f.yaml:1: workers: expected a positive integer, got \"abc\"");
  CHECK(YamlError("backlog: 1\nworkers: -2\n") ==
        "f.yaml:2: workers: expected a positive integer, got \"-2\"");
  CHECK(YamlError("graceful_timeout: soon\n") ==
        "f.yaml:1: graceful_timeout: expected a non-negative number of seconds, got \"soon\"");
  CHECK(YamlError("thrift_transport_factory: zip\n") ==
        "f.yaml:1: thrift_transport_factory: expected one of buffered, framed, header, zlib, got "
        "\"zip\"");
  CHECK(YamlError("bind: [127.0.0.1:1, nohost]\n") ==
        "f.yaml:1: bind: expected an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, "
        "unix:PATH, fd://N or systemd:NAME), "
        "got \"nohost\"");
  CHECK(YamlError("app_config: [novalue]\n") ==
        "f.yaml:1: app_config: expected KEY=VALUE, got \"novalue\"");
  CHECK(YamlError("app_config: {a: [1, 2]}\n") ==
        "f.yaml:1: app_config: expected a string value for key \"a\"");
}

TEST_CASE("YAML: a sequence or mapping where a scalar belongs") {
  CHECK(YamlError("workers: [1, 2]\n") ==
        "f.yaml:1: workers: expected a positive integer, got a YAML sequence");
  CHECK(YamlError("pidfile:\n  path: /run/x.pid\n") ==
        "f.yaml:1: pidfile: expected a file name, got a YAML mapping");
  CHECK(YamlError("bind: [[127.0.0.1:1]]\n") ==
        "f.yaml:1: bind: expected an address or a map {address: ADDRESS, KEY: VALUE}, got a YAML "
        "sequence");
}

TEST_CASE("YAML: malformed YAML names the line") {
  // yaml-cpp names the line where it noticed, which may follow the cause.
  CHECK(YamlError("workers: 2\nbind: [127.0.0.1:1\nbacklog: 3\n") ==
        "f.yaml:3: malformed YAML: end of sequence flow not found");
  CHECK(YamlError("workers: 2\n  backlog: 3\n") == "f.yaml:2: malformed YAML: illegal map value");
  CHECK(YamlError("workers: 2\nbacklog: {a: 1\n") ==
        "f.yaml:3: malformed YAML: end of map flow not found");
}

TEST_CASE("YAML: the top level must be a mapping") {
  CHECK(YamlError("- workers\n- 2\n") == "f.yaml:1: expected a mapping of settings (key: value)");
  CHECK(YamlError("\n\njust text\n") == "f.yaml:3: expected a mapping of settings (key: value)");
}

TEST_CASE("an unreadable config file is named with who asked for it") {
  thriftd_test::TempDir dir;
  std::string missing = dir.Join("missing.yaml");
  CHECK(ResolveError({"-c", missing}) ==
        "command line: --config: cannot read " + missing + ": No such file or directory");
  CHECK(ResolveError({}, "--config " + missing) ==
        "THRIFTD_CMD_ARGS: --config: cannot read " + missing + ": No such file or directory");
}

// Regression (src/config.cc, LoadYamlConfigFile, fixed): std::ifstream opens a directory
// fine and reading it fails without setting badbit, so `-c /etc/thriftd/`
// is read as an empty config file and thriftd starts on defaults.
TEST_CASE("regression: a config file that is a directory is an error, not an empty config") {
  thriftd_test::TempDir dir;
  CHECK(ResolveError({"-c", dir.path()}) ==
        "command line: --config: cannot read " + dir.path() + ": Is a directory");
}

TEST_CASE("errors inside the config file name the file, not the command line") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml", "workers: 2\nbacklog: none\n");
  CHECK(ResolveError({"-c", file}) ==
        file + ":2: backlog: expected a positive integer, got \"none\"");
}

TEST_CASE("the header protocol needs the header or framed transport") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml",
                               "thrift_transport_factory: buffered\n"
                               "thrift_protocol_factory: header\n");
  CHECK(ResolveError({"-c", file}) ==
        file +
            ":2: thrift_protocol_factory: header needs thrift_transport_factory header or framed, "
            "got \"buffered\" (from " +
            file + ":1: thrift_transport_factory)");
  CHECK(ResolveError({"--thrift-protocol-factory", "header"}) ==
        "command line: --thrift-protocol-factory: header needs thrift_transport_factory header or "
        "framed, got \"buffered\" (from default: thrift_transport_factory)");
  for (const char* transport : {"header", "framed"}) {
    Config config = Resolve({"-c", file, "--thrift-transport-factory", transport});
    CHECK(config.thrift_protocol_factory == "header");
    CHECK(config.thrift_transport_factory == transport);
  }
}

TEST_CASE("command line: an unknown option is an error with a suggestion when one is near") {
  CHECK(ResolveError({"--wrokers", "3"}) ==
        "command line: unknown option --wrokers (did you mean --workers?)");
  CHECK(ResolveError({"--graceful_timeout", "3"}) ==
        "command line: unknown option --graceful_timeout (did you mean --graceful-timeout?)");
  CHECK(ResolveError({"--banana"}) == "command line: unknown option --banana");
}

TEST_CASE("command line: an option named by dashes alone is an unknown option, not a crash") {
  // Found by the command_line fuzz target (tests/fuzz): the name's dashes
  // were cut with substr(npos), which threw past the error's message.
  CHECK(ResolveError({"-=workers=3"}) == "command line: unknown option -");
  CHECK(ResolveError({"app.so"}, "-=3") == "THRIFTD_CMD_ARGS: unknown option -");
}

TEST_CASE("command line: a prefix of an option is not guessed") {
  CHECK(ResolveError({"--work", "3"}) == "command line: unknown option --work");
}

TEST_CASE("command line: a missing value says what was expected") {
  CHECK(ResolveError({"--workers"}) ==
        "command line: --workers: expected a positive integer, got nothing");
  CHECK(ResolveError({"-b"}) ==
        "command line: --bind: expected an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, "
        "unix:PATH, fd://N or systemd:NAME), got nothing");
}

TEST_CASE("command line: a bad value names the flag") {
  CHECK(ResolveError({"--workers=-1"}) ==
        "command line: --workers: expected a positive integer, got \"-1\"");
  CHECK(ResolveError({"-w", "many"}) ==
        "command line: --workers: expected a positive integer, got \"many\"");
  CHECK(ResolveError({"-b", "nohost"}) ==
        "command line: --bind: expected an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, "
        "unix:PATH, fd://N or systemd:NAME), got \"nohost\"");
  CHECK(ResolveError({"--app-config", "novalue"}) ==
        "command line: --app-config: expected KEY=VALUE, got \"novalue\"");
}

TEST_CASE("command line: two Apps are an error") {
  CHECK(ResolveError({"liba.so", "libb.so"}) ==
        "command line: more than one App given (expected one PATH.so[:NAME])");
}

TEST_CASE("command line: a single-valued option given twice takes the last, as argparse") {
  CHECK(Resolve({"--workers", "2", "--workers", "3"}).workers == 3);
  CHECK(Resolve({"-w", "2", "--workers=5", "-w", "4"}).workers == 4);
  CHECK(Resolve({"--pid", "/a.pid", "-p", "/b.pid"}).pidfile == "/b.pid");
  CHECK(Resolve({"--check-config", "--check-config"}).check_config);
  CHECK(Resolve({}, "-w 2 -w 6").workers == 6);
  // Repeatable settings keep every occurrence.
  CHECK(Resolve({"-b", ":1", "-b", ":2"}).bind == std::vector<std::string>{":1", ":2"});
}

TEST_CASE("command line: a bool flag takes no value") {
  CHECK(ResolveError({"--check-config=no"}) ==
        "command line: option '--check-config' does not take any arguments");
}

// Regression (src/config.cc, CommandLineError, fixed): for `--wrokers=3` Boost reports the
// option name with its value attached, so the message names "--wrokers=3"
// and no suggestion is found. Expected: the name without "=VALUE".
TEST_CASE("regression: an unknown --option=VALUE is named without its value, with a suggestion") {
  CHECK(ResolveError({"--wrokers=3"}) ==
        "command line: unknown option --wrokers (did you mean --workers?)");
}

// Regression (src/config.cc, ResolveConfig, fixed): po::split_unix() throws
// boost::escaped_list_error (not a po::error) for a trailing backslash or an
// unknown escape such as "C:\tmp"; it escapes ResolveConfig, and thriftd dies
// on an uncaught exception instead of printing one line. Expected: a Status
// "THRIFTD_CMD_ARGS: ..." naming the problem.
TEST_CASE("regression: THRIFTD_CMD_ARGS that cannot be split is an error, not an exception") {
  for (const char* env : {"-w 2 \\", "--pid C:\\tmp\\t.pid"}) {
    CAPTURE(env);
    std::string error;
    CHECK_NOTHROW(error = ResolveError({}, std::string(env)));
    CHECK(error.rfind("THRIFTD_CMD_ARGS: ", 0) == 0);
  }
}

TEST_CASE("THRIFTD_CMD_ARGS errors name THRIFTD_CMD_ARGS") {
  CHECK(ResolveError({}, "--wrokers 3") ==
        "THRIFTD_CMD_ARGS: unknown option --wrokers (did you mean --workers?)");
  CHECK(ResolveError({}, "--workers zero") ==
        "THRIFTD_CMD_ARGS: --workers: expected a positive integer, got \"zero\"");
  CHECK(ResolveError({}, "--workers") ==
        "THRIFTD_CMD_ARGS: --workers: expected a positive integer, got nothing");
  CHECK(ResolveError({}, "a.so b.so") ==
        "THRIFTD_CMD_ARGS: more than one App given (expected one PATH.so[:NAME])");
}

TEST_CASE("the App may come from the command line, THRIFTD_CMD_ARGS or the file") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml", "app: ./libfile.so\n");
  CHECK(Resolve({"-c", file}).app == dir.Join("libfile.so"));
  CHECK(Resolve({"-c", file}, "./libenv.so").app == "./libenv.so");
  CHECK(Resolve({"-c", file, "./libcli.so"}, "./libenv.so").app == "./libcli.so");
}

// --- relative paths ---------------------------------------------------------------

// Runs in `directory` while it lives; back in the old working directory after.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::string& directory) {
    char old[PATH_MAX];
    REQUIRE(getcwd(old, sizeof old) != nullptr);
    old_ = old;
    REQUIRE(chdir(directory.c_str()) == 0);
  }
  ~WorkingDirectory() { CHECK(chdir(old_.c_str()) == 0); }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  std::string old_;
};

TEST_CASE("every path-valued setting in the config file is taken from the file's directory") {
  thriftd_test::TempDir dir;
  REQUIRE(mkdir(dir.Join("conf").c_str(), 0755) == 0);
  std::string file = dir.Write("conf/thriftd.yaml",
                               "app: ./libcalc.so:Calc\n"
                               "worker_class: plugins/libkind.so\n"
                               "pidfile: run/thriftd.pid\n"
                               "errorlog: ../log/error.log\n"
                               "accesslog: access.log\n"
                               "bind: [unix:calc.sock, \"127.0.0.1:9090\", unix:/run/abs.sock]\n");
  std::string conf = dir.Join("conf");
  Config config = Resolve({"-c", file});
  CHECK(config.app == conf + "/libcalc.so:Calc");
  CHECK(config.worker_class == conf + "/plugins/libkind.so");
  CHECK(config.pidfile == conf + "/run/thriftd.pid");
  CHECK(config.errorlog == conf + "/../log/error.log");  // ".." through a symlink is not "up"
  CHECK(config.accesslog == conf + "/access.log");
  CHECK(config.bind == std::vector<std::string>{"unix:" + conf + "/calc.sock", "127.0.0.1:9090",
                                                "unix:/run/abs.sock"});
  // The origin still names the line as written.
  CHECK(config.OriginOf("app").Describe() == file + ":1: app");
  // --print-config shows what thriftd will open.
  CHECK(PrintConfig(config).find("\npidfile: \"" + conf + "/run/thriftd.pid\"\n") !=
        std::string::npos);
}

TEST_CASE("chdir in the config file is taken from the file's directory, raw_env merges by key") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml",
                               "chdir: srv\n"
                               "umask: 0027\n"
                               "raw_env: {A: file, B: file}\n");
  Config config = Resolve({"-c", file, "-e", "B=cli", "--env", "C=x=y"});
  CHECK(config.chdir == dir.Join("srv"));
  CHECK(config.umask == 027);
  CHECK(config.raw_env == StringMap{{"A", "file"}, {"B", "cli"}, {"C", "x=y"}});
  CHECK(Resolve({"--chdir", "rel"}).chdir == "rel");
  CHECK(ResolveError({"--env", "NOEQUALS"}) ==
        "command line: --env: expected KEY=VALUE, got \"NOEQUALS\"");
  CHECK(YamlError("umask: 888\n") ==
        "f.yaml:1: umask: expected an octal mode from 0 to 0777 (022, 0o22), got \"888\"");
}

TEST_CASE("a config file named relatively: its paths are still taken from its directory") {
  thriftd_test::TempDir dir;
  REQUIRE(mkdir(dir.Join("conf").c_str(), 0755) == 0);
  dir.Write("conf/thriftd.yaml", "app: libcalc.so\npidfile: ./thriftd.pid\n");
  Config config;
  {
    WorkingDirectory in(dir.path());
    config = Resolve({"-c", "./conf//thriftd.yaml"});
  }
  // As getcwd() spells the directory (TMPDIR may be reached through a link).
  std::string conf = std::filesystem::canonical(dir.path()).string() + "/conf";
  CHECK(config.app == conf + "/libcalc.so");
  CHECK(config.pidfile == conf + "/thriftd.pid");
  CHECK(config.OriginOf("app").Describe() == "./conf//thriftd.yaml:1: app");
}

TEST_CASE("paths from the command line and THRIFTD_CMD_ARGS stay as typed, relative to the cwd") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml", "app: ./libfile.so\npidfile: file.pid\n");
  Config config = Resolve({"-c", file, "-p", "cli.pid", "-b", "unix:cli.sock", "./libcli.so"},
                          "--access-logfile env.log -k ./libkind.so");
  CHECK(config.pidfile == "cli.pid");
  CHECK(config.app == "./libcli.so");
  CHECK(config.bind == std::vector<std::string>{"unix:cli.sock"});
  CHECK(config.accesslog == "env.log");
  CHECK(config.worker_class == "./libkind.so");
}

TEST_CASE("what names no file stays: unset, '-', absolute paths, built-in kinds, other keys") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml",
                               "app: /opt/libcalc.so\n"
                               "worker_class: thread\n"
                               "errorlog: \"-\"\n"
                               "accesslog: \"\"\n"
                               "pidfile:\n"
                               "metrics_bind: 127.0.0.1:9100\n"
                               "access_log_format: ./{peer}\n"
                               "app_config: {data: ./data}\n"
                               "bind: [\"fd://3\", \"systemd:web\", \":9000\"]\n");
  Config config = Resolve({"-c", file});
  CHECK(config.app == "/opt/libcalc.so");
  CHECK(config.worker_class == "thread");
  CHECK(config.errorlog == "-");
  CHECK(config.accesslog == "");
  CHECK(config.pidfile == "");
  CHECK(config.metrics_bind == "127.0.0.1:9100");
  CHECK(config.access_log_format == "./{peer}");
  // The App's own strings are the App's: thriftd cannot know which are paths.
  CHECK(config.app_config == StringMap{{"data", "./data"}});
  CHECK(config.bind == std::vector<std::string>{"fd://3", "systemd:web", ":9000"});
}

TEST_CASE("a reload resolves the file's paths the same way from any working directory") {
  thriftd_test::TempDir dir;
  std::string file = dir.Write("thriftd.yaml", "app: ./libcalc.so\n");
  Config first = Resolve({"-c", file});
  Config again;
  {
    WorkingDirectory in("/");
    again = Resolve({"-c", file});
  }
  CHECK(first.app == dir.Join("libcalc.so"));
  CHECK(again.app == first.app);
}

TEST_CASE("JoinPath and DirectoryOf") {
  CHECK(JoinPath("/etc/thriftd", "./libcalc.so") == "/etc/thriftd/libcalc.so");
  CHECK(JoinPath("/etc/thriftd", "a/./b//c.so") == "/etc/thriftd/a/b/c.so");
  CHECK(JoinPath("/etc/thriftd", "../lib/c.so") == "/etc/thriftd/../lib/c.so");
  CHECK(JoinPath("/etc/thriftd", "/abs/c.so") == "/abs/c.so");
  CHECK(JoinPath("/", "c.so") == "/c.so");
  CHECK(JoinPath("/etc", "") == "");
  std::string directory;
  REQUIRE(DirectoryOf("/etc/thriftd/thriftd.yaml", &directory).ok());
  CHECK(directory == "/etc/thriftd");
  REQUIRE(DirectoryOf("/thriftd.yaml", &directory).ok());
  CHECK(directory == "/");
  thriftd_test::TempDir dir;
  std::string cwd = std::filesystem::canonical(dir.path()).string();
  WorkingDirectory in(dir.path());
  REQUIRE(DirectoryOf("thriftd.yaml", &directory).ok());
  CHECK(directory == cwd);
  REQUIRE(DirectoryOf("./sub/../x.yaml", &directory).ok());
  CHECK(directory == cwd + "/sub/..");
}

TEST_CASE("ResolvePaths keeps a plugin's :NAME and resolves only unix: bind entries") {
  const Setting& app = *FindSetting("app");
  CHECK(ResolvePaths(app, std::string("lib/x.so:Calc"), "/d") == SettingValue("/d/lib/x.so:Calc"));
  CHECK(ResolvePaths(app, std::string("x.so:default"), "/d") == SettingValue("/d/x.so:default"));
  // A colon in a directory's name is part of the path.
  CHECK(ResolvePaths(app, std::string("a:b/x.so"), "/d") == SettingValue("/d/a:b/x.so"));
  const Setting& kind = *FindSetting("worker_class");
  CHECK(ResolvePaths(kind, std::string("fiber"), "/d") == SettingValue("fiber"));
  CHECK(ResolvePaths(kind, std::string("k.so:K"), "/d") == SettingValue("/d/k.so:K"));
  const Setting& workers = *FindSetting("workers");
  CHECK(ResolvePaths(workers, std::int64_t{3}, "/d") == SettingValue(std::int64_t{3}));
}

TEST_CASE("PrintConfig shows every config-file setting with its value") {
  Config config = Resolve({"-w", "3", "--app-config", "a=1", "./libx.so"});
  std::string printed = PrintConfig(config);
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    CAPTURE(name);
    bool shown = printed.find(std::string("\n") + setting.name + ": ") != std::string::npos ||
                 printed.rfind(std::string(setting.name) + ": ", 0) == 0;
    CHECK(shown != setting.command_line_only());
  }
  CHECK(printed.find("\nworkers: 3\n") != std::string::npos);
  CHECK(printed.find("app: \"./libx.so\"\n") != std::string::npos);
  CHECK(printed.find("\napp_config: {\"a\": \"1\"}\n") != std::string::npos);
  CHECK(printed.find("\nbind: [\"127.0.0.1:8000\"]\n") != std::string::npos);
  CHECK(printed.find("\npidfile: null\n") != std::string::npos);
  CHECK(printed.find("\ngraceful_timeout: 30\n") != std::string::npos);
}

TEST_CASE("PrintConfig's output reads back as the same configuration") {
  Config config = Resolve({"-w", "3", "-b", ":9000", "--graceful-timeout", "2.5",
                           "--thrift-transport-factory", "header", "--thrift-protocol-factory",
                           "header", "--app-config", "region=eu-west", "./libx.so"});
  ConfigLayer layer;
  Status status = ParseYamlConfig(PrintConfig(config), "printed.yaml", &layer);
  REQUIRE_MESSAGE(status.ok(), status.message());
  for (const auto& [name, entry] : layer.entries) {
    CAPTURE(name);
    CHECK(entry.value == config.resolved.at(name).value);
  }
  CHECK(layer.entries.count("workers") == 1);
  CHECK(layer.entries.count("pidfile") == 0);  // null: left at its default
}

// Regression (src/settings.cc, FormatSettingValue, fixed): seconds are printed with the
// stream's default 6 significant digits, so --print-config shows
// graceful_timeout 1234567.25 as 1.23457e+06 and 0.1234567 as 0.123457.
// Expected: the shortest text that reads back as the same double
// (std::to_chars, or precision 17 with trailing zeros trimmed).
TEST_CASE("regression: PrintConfig prints seconds without losing digits") {
  Config config =
      Resolve({"--graceful-timeout", "1234567.25", "--thrift-client-timeout", "0.1234567"});
  std::string printed = PrintConfig(config);
  CHECK(printed.find("\ngraceful_timeout: 1234567.25\n") != std::string::npos);
  CHECK(printed.find("\nthrift_client_timeout: 0.1234567\n") != std::string::npos);
}

// Regression (src/settings.cc, FormatSettingValue, fixed): strings are wrapped in double
// quotes without escaping, so a value holding '"' or '\' prints as YAML that
// does not parse (or parses to another value). Expected: YAML double-quoted
// escaping ("\"" and "\\"), or yaml-cpp's emitter.
TEST_CASE("regression: PrintConfig escapes quotes and backslashes in strings") {
  Config config = Resolve({"--app-config", "motd=say \"hi\"", "--app-config", "path=C:\\tmp",
                           "--pid", "/run/a\"b.pid"});
  ConfigLayer layer;
  Status status = ParseYamlConfig(PrintConfig(config), "printed.yaml", &layer);
  REQUIRE_MESSAGE(status.ok(), status.message());
  CHECK(std::get<StringMap>(layer.entries.at("app_config").value) ==
        StringMap{{"motd", "say \"hi\""}, {"path", "C:\\tmp"}});
  CHECK(std::get<std::string>(layer.entries.at("pidfile").value) == "/run/a\"b.pid");
}

TEST_CASE("PrintConfig's output reads back whatever the strings hold") {
  const std::vector<std::pair<std::string, std::string>> options = {
      {"--pid", "say \"hi\" \\ C:\\tmp\\"},
      {"--error-logfile", ""},  // "" over a default that is not ""
      {"--access-logfile", "-leading dash"},
      {"--access-logformat", "# {peer}: \"{method}\" \\ {{x}} - "},
      {"--app-config", "colon=a: b"},
      {"--app-config", "hash=#not a comment"},
      {"--app-config", "newline=one\ntwo"},
      {"--app-config", "empty="},
      {"--app-config", "-dash=- item"},
      {"--app-config", "quotes=\"'"},
      {"--app-config", "null=null"},
      {"-b", "unix:/tmp/a b#c: d.sock"},
      {"-b", "[::1]:9000"},
      {"-k", "./lib \"kind\": #1.so"},
  };
  Args args = {"./app: #1\\.so"};
  for (const auto& [option, value] : options) args.insert(args.end(), {option, value});
  Config config = Resolve(args);
  std::string printed = PrintConfig(config);
  CAPTURE(printed);
  ConfigLayer layer;
  Status status = ParseYamlConfig(printed, "printed.yaml", &layer);
  REQUIRE_MESSAGE(status.ok(), status.message());
  for (const Setting& setting : Settings()) {
    if (setting.command_line_only()) continue;
    std::string name = setting.name;
    CAPTURE(name);
    auto it = layer.entries.find(name);
    // A null (an unset string) reads back as no entry: the default.
    const SettingValue& read_back =
        it == layer.entries.end() ? DefaultValue(setting) : it->second.value;
    CHECK(read_back == config.resolved.at(name).value);
  }
  CHECK(config.errorlog == "");
  CHECK(config.app_config.at("newline") == "one\ntwo");
  CHECK(config.bind == std::vector<std::string>{"unix:/tmp/a b#c: d.sock", "[::1]:9000"});
}

// --- the list and the structs generated from it ------------------------------------------

// Command-line arguments that set every setting to a value other than its
// default, one ResolveConfig accepts.
Args EverySettingChanged(const thriftd_test::TempDir& dir) {
  // Strings another check reads further; any other string takes any text.
  const std::map<std::string, std::string> strings = {
      {"config_file", dir.Write("empty.yaml", "")},
      {"metrics_bind", "127.0.0.1:9100"},
      {"access_log_format", "json"},
  };
  Args args;
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    std::string text;
    switch (setting.type) {
      case SettingType::kBool:
        args.push_back(std::string("--") + setting.flag);
        continue;
      case SettingType::kCount:
        text = std::to_string(setting.min_value + 7);
        break;
      case SettingType::kOctal:
        text = "027";
        break;
      case SettingType::kSeconds:
        text = "12.5";
        break;
      case SettingType::kString:
      case SettingType::kFile:
      case SettingType::kPlugin:
        text = strings.count(name) ? strings.at(name) : "/tmp/" + name;
        break;
      case SettingType::kChoice:
      case SettingType::kWorkerClass:
        text = setting.choices.back();
        // The header protocol (the last) needs a transport that frames it.
        if (name == "thrift_transport_factory") text = "framed";
        break;
      case SettingType::kBind:
        text = ":9001";
        break;
      case SettingType::kKeyValue:
        text = "key=value";
        break;
    }
    args.push_back(*setting.flag == '\0' ? text : std::string("--") + setting.flag + "=" + text);
  }
  return args;
}

TEST_CASE("every setting's resolved value reaches its Config field") {
  thriftd_test::TempDir dir;
  Config config = Resolve(EverySettingChanged(dir));
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    CAPTURE(name);
    const SettingValue& resolved = config.resolved.at(name).value;
    CHECK(resolved != DefaultValue(setting));  // else this test proves nothing for it
    CHECK(config.OriginOf(name).source == "command line");
    std::optional<SettingValue> field = FieldValue(config, name);
    REQUIRE(field.has_value());
    CHECK(*field == resolved);
  }
  CHECK_FALSE(FieldValue(config, "nosuch").has_value());
}

TEST_CASE("WorkerSettingsOf carries exactly the worker-scoped settings, resolved") {
  thriftd_test::TempDir dir;
  Config config = Resolve(EverySettingChanged(dir));
  WorkerSettings settings = WorkerSettingsOf(config);
  int worker_scoped = 0;
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    CAPTURE(name);
    std::optional<SettingValue> field = FieldValue(settings, name);
    CHECK(field.has_value() == (setting.scope == SettingScope::kWorker));
    if (!field) continue;
    ++worker_scoped;
    CHECK(*field == config.resolved.at(name).value);
  }
  CHECK(worker_scoped >= 15);
}

TEST_CASE("a default Config and a default WorkerSettings hold every default") {
  Config config;
  WorkerSettings settings;
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    CAPTURE(name);
    CHECK(FieldValue(config, name) == DefaultValue(setting));
    if (setting.scope == SettingScope::kWorker)
      CHECK(FieldValue(settings, name) == DefaultValue(setting));
  }
  CHECK(settings.worker_class == "sync");
  CHECK(settings.access_log_format ==
        std::get<std::string>(DefaultValue(*FindSetting("access_log_format"))));
}

// Workers and the master compile against these names and types.
template <typename Field, typename Type>
constexpr bool kIs = std::is_same_v<Field, Type>;
static_assert(kIs<decltype(WorkerSettings::app), std::string>);
static_assert(kIs<decltype(WorkerSettings::app_config), std::map<std::string, std::string>>);
static_assert(kIs<decltype(WorkerSettings::worker_class), std::string>);
static_assert(kIs<decltype(WorkerSettings::threads), std::int64_t>);
static_assert(kIs<decltype(WorkerSettings::worker_connections), std::int64_t>);
static_assert(kIs<decltype(WorkerSettings::max_requests), std::int64_t>);
static_assert(kIs<decltype(WorkerSettings::max_requests_jitter), std::int64_t>);
static_assert(kIs<decltype(WorkerSettings::graceful_timeout), double>);
static_assert(kIs<decltype(WorkerSettings::fiber_check_interval), double>);
static_assert(kIs<decltype(WorkerSettings::fiber_stack_size), std::int64_t>);
static_assert(kIs<decltype(ListenerSettings::thrift_transport_factory), std::string>);
static_assert(kIs<decltype(ListenerSettings::thrift_protocol_factory), std::string>);
static_assert(kIs<decltype(WorkerSettings::thrift_client_timeout), double>);
static_assert(kIs<decltype(WorkerSettings::thrift_max_frame_size), std::int64_t>);
static_assert(kIs<decltype(WorkerSettings::thrift_max_message_size), std::int64_t>);
static_assert(kIs<decltype(WorkerSettings::accesslog), std::string>);
static_assert(kIs<decltype(WorkerSettings::access_log_format), std::string>);
static_assert(kIs<decltype(Config::loglevel), LogLevel>);
static_assert(kIs<decltype(Config::config_file), std::string>);
static_assert(kIs<decltype(Config::bind), std::vector<std::string>>);

TEST_CASE("HelpText lists every flag with its metavar, and the App") {
  std::string help = HelpText();
  CHECK(help.rfind("usage: thriftd [OPTIONS] [PATH.so[:NAME]]\n", 0) == 0);
  for (const Setting& setting : Settings()) {
    std::string name = setting.name;
    CAPTURE(name);
    CHECK(help.find(setting.help) != std::string::npos);
    if (*setting.flag == '\0') {
      CHECK(help.find(std::string("  ") + setting.metavar) != std::string::npos);
      continue;
    }
    std::string spelling = std::string("--") + setting.flag;
    if (setting.type == SettingType::kChoice || setting.type == SettingType::kWorkerClass) {
      spelling += " {";
      for (size_t i = 0; i < setting.choices.size(); ++i)
        spelling += std::string(i ? "," : "") + setting.choices[i];
      if (setting.type == SettingType::kWorkerClass) spelling += ",PATH.so";
      spelling += "}";
    } else if (setting.type != SettingType::kBool) {
      spelling += std::string(" ") + setting.metavar;
    }
    if (setting.short_flag) spelling = std::string("-") + setting.short_flag + ", " + spelling;
    CHECK(help.find("  " + spelling) != std::string::npos);
  }
  CHECK(help.find("the number of worker processes (at most 512) [1]") != std::string::npos);
  CHECK(help.find("\nWorker processes:\n") != std::string::npos);
}

TEST_CASE("HelpText names every signal the master acts on") {
  std::string help = HelpText();
  std::string signals = help.substr(help.find("\nSignals to the master: "));
  for (std::string name : {"TERM", "INT/QUIT", "HUP", "TTIN/TTOU", "USR1", "USR2", "WINCH"}) {
    CAPTURE(name);
    CHECK(signals.find(name + " ") != std::string::npos);
  }
}

TEST_CASE("RequireApp: one wording for a start and a reload without an App") {
  Config config;
  CHECK(RequireApp(config).message() ==
        "no App given: run thriftd PATH.so[:NAME], or set app: in the config file");
  config.app = "./libpingpong.so";
  CHECK(RequireApp(config).ok());
}

}  // namespace
}  // namespace thriftd

namespace thriftd {
namespace {

TEST_CASE("a key given twice in a config file is refused, naming both lines") {
  CHECK(YamlError("workers: 2\ntimeout: 5\nworkers: 3\n") ==
        "f.yaml:3: workers: duplicate key (first set at line 1)");
  // Even when the first one keeps the default (`key:` with no value).
  CHECK(YamlError("workers:\nworkers: 3\n") ==
        "f.yaml:2: workers: duplicate key (first set at line 1)");
}

}  // namespace
}  // namespace thriftd
