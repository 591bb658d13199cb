// Bind entries: the address and the per-listener settings a listener sets
// for itself, from the command line (ADDRESS,KEY=VALUE) and YAML maps, and
// the ListenerSettings each listener's workers get.
#include "src/bind_entry.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "src/config.h"
#include "src/setting_paths.h"
#include "src/settings.h"

namespace thriftd {
namespace {

using Args = std::vector<std::string>;

// The per-listener keys, as every error about a bind entry's keys lists them.
constexpr char kListenerKeys[] =
    "(service, multiplexed, thrift_transport_factory, thrift_protocol_factory, certfile, keyfile, "
    "ca_certs, cert_reqs, ciphers, ssl_version, tls_handshake_timeout)";

std::string EntryError(const std::string& text) {
  BindEntry entry;
  Status status = ParseBindEntry(text, &entry);
  return status.ok() ? "ok" : status.message();
}

std::string YamlEntryError(const std::string& yaml) {
  std::string text;
  Status status = BindEntryFromYaml(YAML::Load(yaml), &text);
  return status.ok() ? "ok: " + text : status.message();
}

Config Resolve(const Args& args) {
  Config config;
  Status status = ResolveConfig(args, std::nullopt, &config);
  REQUIRE_MESSAGE(status.ok(), status.message());
  return config;
}

std::string ResolveError(const Args& args) {
  Config config;
  Status status = ResolveConfig(args, std::nullopt, &config);
  return status.ok() ? "ok" : status.message();
}

TEST_CASE("a bind entry is an address, then the listener's own settings as KEY=VALUE") {
  BindEntry entry;
  REQUIRE(ParseBindEntry("127.0.0.1:9090", &entry).ok());
  CHECK(entry.address == "127.0.0.1:9090");
  CHECK(entry.options.empty());
  REQUIRE(ParseBindEntry(
              "unix:/run/x.sock,thrift_protocol_factory=compact,thrift_transport_factory=framed",
              &entry)
              .ok());
  CHECK(entry.address == "unix:/run/x.sock");
  CHECK(entry.options ==
        std::vector<std::pair<std::string, std::string>>{{"thrift_protocol_factory", "compact"},
                                                         {"thrift_transport_factory", "framed"}});
  CHECK(entry.ToString() ==
        "unix:/run/x.sock,thrift_protocol_factory=compact,thrift_transport_factory=framed");
}

TEST_CASE("a bad bind entry says which part is wrong and what was expected") {
  CHECK(EntryError("nohost,thrift_protocol_factory=compact") ==
        "expected an address (HOST:PORT, HOST:FIRST-LAST, :PORT, [V6]:PORT, unix:PATH, fd://N "
        "or systemd:NAME), got \"nohost\"");
  CHECK(EntryError("127.0.0.1:1,thrift_protocol_factory=compakt") ==
        "thrift_protocol_factory: expected one of binary, compact, json, header, got \"compakt\"");
  CHECK(EntryError("127.0.0.1:1,workers=2") ==
        std::string("unknown bind entry key \"workers\": expected address or a per-listener "
                    "setting ") +
            kListenerKeys);
  CHECK(EntryError("127.0.0.1:1,thrift_protocol_factry=compact") ==
        std::string("unknown bind entry key \"thrift_protocol_factry\" (did you mean "
                    "thrift_protocol_factory?): expected address or a per-listener setting ") +
            kListenerKeys);
  CHECK(EntryError("127.0.0.1:1,compact") ==
        std::string("expected KEY=VALUE after the address ") + kListenerKeys + ", got \"compact\"");
  CHECK(EntryError("127.0.0.1:1,") ==
        std::string("expected KEY=VALUE after the address ") + kListenerKeys + ", got \"\"");
  CHECK(EntryError("127.0.0.1:1,thrift_protocol_factory=json,thrift_protocol_factory=json") ==
        "thrift_protocol_factory: set twice in one bind entry");
}

TEST_CASE("a YAML bind entry is an address or a map with an address") {
  CHECK(YamlEntryError("127.0.0.1:1") == "ok: 127.0.0.1:1");
  CHECK(YamlEntryError("{address: 'unix:x.sock', thrift_protocol_factory: json}") ==
        "ok: unix:x.sock,thrift_protocol_factory=json");
  CHECK(YamlEntryError("{thrift_protocol_factory: json}") ==
        "expected an address: key in the map ({address: \"127.0.0.1:9090\", KEY: VALUE})");
  CHECK(YamlEntryError("{address: '127.0.0.1:1', thrift_protocol_factory: [json]}") ==
        "thrift_protocol_factory: expected a single value, got a YAML sequence");
  CHECK(YamlEntryError("{address: 'unix:a,b'}") ==
        "address: a bind entry's values cannot hold a comma, got \"unix:a,b\"");
  CHECK(YamlEntryError("{address: '127.0.0.1:1', backlog: 3}") ==
        std::string("unknown bind entry key \"backlog\": expected address or a per-listener "
                    "setting ") +
            kListenerKeys);
  CHECK(YamlEntryError("[127.0.0.1:1]") ==
        "expected an address or a map {address: ADDRESS, KEY: VALUE}, got a YAML sequence");
}

TEST_CASE("YAML bind entries: an error names the entry's own line") {
  ConfigLayer layer;
  Status status = ParseYamlConfig(
      "workers: 1\nbind:\n  - 127.0.0.1:1\n  - {address: 127.0.0.1:2, thrift_protocol_factory: "
      "x}\n",
      "f.yaml", &layer);
  CHECK(status.message() ==
        "f.yaml:4: bind: thrift_protocol_factory: expected one of binary, compact, json, header, "
        "got \"x\"");
}

TEST_CASE("each listener has the global settings, with those its entry sets in their place") {
  Config config = Resolve({"--thrift-protocol-factory", "compact", "-b", "127.0.0.1:1", "-b",
                           "unix:/x.sock,thrift_transport_factory=framed,"
                           "thrift_protocol_factory=json"});
  CHECK(BindAddresses(config) == std::vector<std::string>{"127.0.0.1:1", "unix:/x.sock"});
  std::vector<ListenerSettings> keyed =
      ListenerSettingsFor(config, {"127.0.0.1:1", "unix:/x.sock", "systemd:web"});
  REQUIRE(keyed.size() == 3);
  const ListenerSettings& plain = keyed[0];
  CHECK(plain.key == "127.0.0.1:1");
  CHECK(plain.thrift_transport_factory == "buffered");
  CHECK(plain.thrift_protocol_factory == "compact");
  const ListenerSettings& own = keyed[1];
  CHECK(own.key == "unix:/x.sock");
  CHECK(own.thrift_transport_factory == "framed");
  CHECK(own.thrift_protocol_factory == "json");
  // A socket no entry names (systemd's, when bind is the default) has the globals.
  const ListenerSettings& passed = keyed[2];
  CHECK(passed.thrift_protocol_factory == "compact");
}

TEST_CASE(
    "every listener's settings at once, in bind's order; a key no entry names has the globals") {
  Config config = Resolve({"--thrift-protocol-factory", "compact", "-b", "127.0.0.1:1", "-b",
                           "unix:/x.sock,thrift_protocol_factory=json"});
  std::vector<ListenerSettings> all = AllListenerSettings(config);
  REQUIRE(all.size() == 2);
  CHECK(all[0].key == "127.0.0.1:1");
  CHECK(all[0].thrift_protocol_factory == "compact");
  CHECK(all[1].key == "unix:/x.sock");
  CHECK(all[1].thrift_protocol_factory == "json");
  // The master's listeners, in its own order, systemd's socket among them.
  std::vector<ListenerSettings> keyed =
      ListenerSettingsFor(config, {"unix:/x.sock", "systemd:web", "127.0.0.1:1"});
  REQUIRE(keyed.size() == 3);
  CHECK(keyed[0].key == "unix:/x.sock");
  CHECK(keyed[0].thrift_protocol_factory == "json");
  CHECK(keyed[1].key == "systemd:web");
  CHECK(keyed[1].thrift_protocol_factory == "compact");
  CHECK(keyed[2].key == "127.0.0.1:1");
  CHECK(keyed[2].thrift_protocol_factory == "compact");
}

TEST_CASE("an address listed twice is refused: the second would get the first one's settings") {
  CHECK(ResolveError({"-b", "127.0.0.1:9000-9100", "-b",
                      "127.0.0.1:9000-9100,thrift_protocol_factory=compact"}) ==
        "command line: --bind: 127.0.0.1:9000-9100: listed twice");
  CHECK(ResolveError({"-b", "unix:/x.sock", "-b", "127.0.0.1:1", "-b", "unix:/x.sock"}) ==
        "command line: --bind: unix:/x.sock: listed twice");
}

TEST_CASE("the header protocol needs the header transport, checked per listener") {
  CHECK(ResolveError({"-b", "127.0.0.1:1,thrift_protocol_factory=header"}) ==
        "command line: --bind: 127.0.0.1:1: thrift_protocol_factory header needs "
        "thrift_transport_factory header or framed, got \"buffered\"");
  CHECK(ResolveError({"-b",
                      "127.0.0.1:1,thrift_protocol_factory=header,"
                      "thrift_transport_factory=header"}) == "ok");
  // The globals may be what no listener could use alone, when every entry sets its own.
  CHECK(ResolveError({"--thrift-protocol-factory", "header", "-b",
                      "127.0.0.1:1,thrift_transport_factory=header"}) == "ok");
  CHECK(ResolveError({"--thrift-protocol-factory", "header", "-b",
                      "127.0.0.1:1,thrift_transport_factory=header", "-b", "127.0.0.1:2"}) ==
        "command line: --thrift-protocol-factory: header needs thrift_transport_factory header or "
        "framed, got \"buffered\" (from default: thrift_transport_factory)");
}

TEST_CASE("--print-config shows an entry with settings of its own as a map") {
  Config config = Resolve({"-b", "127.0.0.1:1", "-b", "unix:/x.sock,thrift_protocol_factory=json"});
  std::string printed = PrintConfig(config);
  CHECK(printed.find("bind: [\"127.0.0.1:1\", {address: \"unix:/x.sock\", "
                     "thrift_protocol_factory: \"json\"}]\n") != std::string::npos);
  // And it reads back as the same entries.
  ConfigLayer layer;
  REQUIRE(ParseYamlConfig(printed, "printed.yaml", &layer).ok());
  CHECK(std::get<StringList>(layer.entries.at("bind").value) == config.bind);
}

TEST_CASE("a relative unix: path in a file is taken from the file's directory, options kept") {
  SettingValue value = StringList{"unix:x.sock,thrift_protocol_factory=json", "127.0.0.1:1"};
  SettingValue resolved = ResolvePaths(*FindSetting("bind"), value, "/etc/thriftd");
  CHECK(std::get<StringList>(resolved) ==
        StringList{"unix:/etc/thriftd/x.sock,thrift_protocol_factory=json", "127.0.0.1:1"});
}

}  // namespace
}  // namespace thriftd
