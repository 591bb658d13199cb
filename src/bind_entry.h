// Bind entries: one listener as the operator configures it, an address and
// the per-listener settings (the kListener rows of THRIFTD_SETTINGS) it sets
// for itself. Written in YAML as a plain address or as a map
//
//   bind: ["127.0.0.1:9090", {address: "unix:/run/x.sock", thrift_protocol_factory: compact}]
//
// and on the command line (and inside Config::bind, which holds every entry
// in this form) as the address followed by comma-separated KEY=VALUE pairs:
//
//   -b 'unix:/run/x.sock,thrift_protocol_factory=compact'
//
// The address ends at the first comma, so an address (a unix: path) cannot
// hold one, nor can a value. Runs in the master.
#ifndef THRIFTD_SRC_BIND_ENTRY_H_
#define THRIFTD_SRC_BIND_ENTRY_H_

#include <string>
#include <utility>
#include <vector>

#include "src/base/listener_settings.h"
#include "src/base/status.h"

namespace YAML {
class Emitter;
class Node;
}  // namespace YAML

namespace thriftd {

struct Config;

struct BindEntry {
  std::string address;  ///< as written: "127.0.0.1:9090", "unix:x.sock", "systemd:web"
  /// The settings this listener sets for itself, in the order written:
  /// (YAML name of a kListener row, its value's text).
  std::vector<std::pair<std::string, std::string>> options;

  /// The command-line form: "ADDRESS" or "ADDRESS,KEY=VALUE,...".
  std::string ToString() const;
};

/// Parses "ADDRESS[,KEY=VALUE...]": the address must parse
/// (ParseBindAddress), each KEY must name a kListener setting, once, and
/// its VALUE must be one that setting accepts. The message says what was
/// expected, without location ("thrift_protocol_factory: expected one of
/// binary, compact, json, header, got \"compakt\"").
Status ParseBindEntry(const std::string& text, BindEntry* entry);

/// A YAML bind element in the command-line form: a scalar as it is, a map
/// {address: ..., KEY: VALUE...} joined ("ADDRESS,KEY=VALUE"). Checked as
/// ParseBindEntry checks; a map without `address`, a key that is no
/// kListener setting, or a value that is not a scalar is an error naming
/// the key.
Status BindEntryFromYaml(const YAML::Node& node, std::string* text);

/// Writes an entry as --print-config shows it: the address alone as a
/// string, an entry with settings of its own as a flow map.
void EmitBindEntry(const std::string& text, YAML::Emitter* out);

/// The address of each of config.bind's entries, in order: what the
/// listeners are opened (and inherited, and found again) by.
std::vector<std::string> BindAddresses(const Config& config);

/// The settings of the listener of `entry`: the kListener settings of
/// `config`, with those the entry sets in their place.
ListenerSettings ListenerSettingsOf(const Config& config, const BindEntry& entry);

/// The settings of every listener `config.bind` names, in its order, each
/// entry parsed once (an entry that does not parse, which a resolved
/// config has none of, is left out).
std::vector<ListenerSettings> AllListenerSettings(const Config& config);

/// The settings of the listeners keyed `keys` (their addresses), in that
/// order: what AllListenerSettings has for the key, else (a socket systemd
/// passed) the config's own. The master's, once per generation.
std::vector<ListenerSettings> ListenerSettingsFor(const Config& config,
                                                  const std::vector<std::string>& keys);

/// What a listener's settings must agree on: the header protocol needs the
/// header transport. The message names the settings.
Status CheckListenerSettings(const ListenerSettings& settings);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BIND_ENTRY_H_
