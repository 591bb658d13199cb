// THRIFTD_SETTINGS: every thriftd setting, declared once, as gunicorn's
// config.py declares gunicorn's. One row per setting; adding a setting is one
// row here plus the code that acts on it. Generated from this list:
//
//   the settings table (src/settings.cc): the command line, the YAML loader,
//     --help, --print-config and the man-page check are driven by it;
//   struct Config's fields (src/config.h) and the copy of the resolved values
//     into them (ResolveConfig);
//   struct WorkerSettings (src/base/worker_settings.h), the kWorker rows, and
//     WorkerSettingsOf(), which fills it from a Config;
//   struct ListenerSettings (src/base/listener_settings.h), the kListener
//     rows, and AllListenerSettings() (src/bind_entry.h), which fills one per
//     listener from a Config and that listener's bind entry.
//
// It lives in the base layer so that workers/ can see WorkerSettings; it is
// data only. Each row is
//
//   X(name, flag, short_flag, kind, type, default_value, choices, range,
//     metavar, section, scope, help)
//
//   name           YAML key and C++ field name (underscores)
//   flag           long option without dashes; "" = not a flag (the positional App)
//   short_flag     'w' for -w, or 0
//   kind           a SettingType enumerator (src/settings.h): how the text is parsed.
//                  The path kinds (kFile, kPlugin, kWorkerClass's PATH.so, kBind's
//                  unix:PATH) mark the settings that name files: a relative path
//                  in the config file is taken from the file's directory
//   type           the field's C++ type: bool, std::int64_t, double, std::string,
//                  StringList, StringMap, or LogLevel for the log level's choice
//   default_value  a C++ value of `type`; --help and --print-config derive
//                  their text from it. "" (or {}) means unset.
//   choices        (kChoice, kWorkerClass) a parenthesized list of spellings; () otherwise
//   range          (kCount) (MIN) or (MIN, MAX): the accepted values (MAX
//                  defaults to INT32_MAX); (0) otherwise
//   metavar        placeholder in --help ("INT", "ADDRESS")
//   section        the --help and man-page section, in list order
//   scope          kCommandLine: a command-line-only switch, not a YAML key;
//                  kMaster: acted on by the master only;
//                  kWorker: also handed to every worker in its WorkerSettings;
//                  kListener: handed to every worker once per listener, in a
//                    ListenerSettings: the row's value (flag, YAML key) is
//                    every listener's default, and a bind entry may set its
//                    own (`bind: [{address: ..., KEY: VALUE}]`, or
//                    `-b ADDRESS,KEY=VALUE`). Making a kWorker row per
//                    listener is changing its scope to kListener, and reading
//                    it from the connection's ListenerSettings
//   help           one line for --help
//
// The order of rows is the order of --help and --print-config.
#ifndef THRIFTD_SRC_BASE_SETTING_LIST_H_
#define THRIFTD_SRC_BASE_SETTING_LIST_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "src/base/log.h"

namespace thriftd {

/// The C++ types of repeatable settings, named because a macro argument
/// cannot hold the comma of std::map<std::string, std::string>.
using StringList = std::vector<std::string>;
using StringMap = std::map<std::string, std::string>;

}  // namespace thriftd

// gunicorn's spellings and defaults where it has them (gunicorn_thrift for the
// thrift_* keys); thriftd's own keys follow the same style.
// clang-format off
#define THRIFTD_SETTINGS(X) \
  X(config_file, "config", 'c', kFile, std::string, "", (), (0), "FILE", "Config file", kCommandLine, \
    "YAML config file to read settings from") \
  X(check_config, "check-config", 0, kBool, bool, false, (), (0), "", "Config file", kCommandLine, \
    "check that a start would succeed (binds, files, the App), then exit") \
  X(print_config, "print-config", 0, kBool, bool, false, (), (0), "", "Config file", kCommandLine, \
    "print the resolved configuration as YAML, then exit") \
  X(help, "help", 'h', kBool, bool, false, (), (0), "", "Config file", kCommandLine, \
    "show this help, then exit") \
  X(version, "version", 'v', kBool, bool, false, (), (0), "", "Config file", kCommandLine, \
    "print the version, then exit") \
  \
  X(app, "", 0, kPlugin, std::string, "", (), (0), "PATH.so[:NAME]", "App", kWorker, \
    "the App: a shared object exporting THRIFTD_APP, optionally naming one App in it") \
  X(app_config, "app-config", 0, kKeyValue, StringMap, {}, (), (0), "KEY=VALUE", "App", kWorker, \
    "a string passed to the App's AppContext::app_config (repeatable)") \
  X(service, "service", 0, kString, std::string, "", (), (0), "NAME", "App", kListener, \
    "serve the App's service exported under this name (unset: its default service; per listener)") \
  X(multiplexed, "multiplexed", 0, kBool, bool, false, (), (0), "", "App", kListener, \
    "serve all the App's named services to TMultiplexedProtocol clients (service: the one for plain clients; per listener)") \
  \
  X(bind, "bind", 'b', kBind, StringList, {"127.0.0.1:8000"}, (), (0), "ADDRESS", "Server socket", kMaster, \
    "listen on HOST:PORT, HOST:FIRST-LAST (the first free port), :PORT, [V6]:PORT, unix:PATH, fd://N or systemd:NAME, optionally followed by ,KEY=VALUE per-listener settings (repeatable)") \
  X(port_file, "port-file", 0, kFile, std::string, "", (), (0), "FILE", "Server socket", kMaster, \
    "write the TCP listeners' ports to this file, one line each in the order of bind (for port 0 and port ranges)") \
  X(backlog, "backlog", 0, kCount, std::int64_t, 2048, (), (1), "INT", "Server socket", kMaster, \
    "the maximum number of pending connections (listen() backlog)") \
  X(reuse_port, "reuse-port", 0, kBool, bool, false, (), (0), "", "Server socket", kMaster, \
    "set SO_REUSEPORT on TCP listeners, so that other processes may listen on the same port") \
  X(unix_socket_mode, "unix-socket-mode", 0, kOctal, std::int64_t, 0660, (), (0), "MODE", "Server socket", kMaster, \
    "the permissions of a unix: socket thriftd creates, in octal (connecting needs write permission)") \
  X(unix_socket_group, "unix-socket-group", 0, kString, std::string, "", (), (0), "GROUP", "Server socket", kMaster, \
    "the group of a unix: socket thriftd creates, a name or id (unset: the workers' group when group is set, else the master's)") \
  \
  X(workers, "workers", 'w', kCount, std::int64_t, 1, (), (1, 512), "INT", "Worker processes", kMaster, \
    "the number of worker processes (at most 512)") \
  X(worker_class, "worker-class", 'k', kWorkerClass, std::string, "sync", ("sync", "thread", "fiber"), (0), "KIND", "Worker processes", kWorker, \
    "the worker kind: sync, thread, fiber, or PATH.so[:NAME] exporting THRIFTD_WORKER") \
  X(threads, "threads", 0, kCount, std::int64_t, 1, (), (1), "INT", "Worker processes", kWorker, \
    "thread worker: the threads serving calls in each worker") \
  X(worker_connections, "worker-connections", 0, kCount, std::int64_t, 1000, (), (1), "INT", "Worker processes", kWorker, \
    "thread and fiber workers: the most connections one worker holds") \
  X(preload_app, "preload", 0, kBool, bool, false, (), (0), "", "Worker processes", kWorker, \
    "load the App once in the master before forking the workers (HUP then keeps the old code)") \
  X(max_requests, "max-requests", 0, kCount, std::int64_t, 0, (), (0), "INT", "Worker processes", kWorker, \
    "recycle a worker after this many calls (0: never)") \
  X(max_requests_jitter, "max-requests-jitter", 0, kCount, std::int64_t, 0, (), (0), "INT", "Worker processes", kWorker, \
    "add up to this many calls, at random, to max_requests") \
  X(timeout, "timeout", 't', kSeconds, double, 30, (), (0), "SECONDS", "Worker processes", kMaster, \
    "kill and replace a worker whose loop has not reported for this long (0: never)") \
  X(graceful_timeout, "graceful-timeout", 0, kSeconds, double, 30, (), (0), "SECONDS", "Worker processes", kWorker, \
    "how long in-flight calls may finish when a worker stops") \
  X(drain_delay, "drain-delay", 0, kSeconds, double, 0, (), (0), "SECONDS", "Worker processes", kMaster, \
    "on TERM, /healthz says 503 at once and the workers serve on this long before the graceful stop") \
  X(fiber_check_interval, "fiber-check-interval", 0, kSeconds, double, 1, (), (0), "SECONDS", "Worker processes", kWorker, \
    "fiber worker: warn when a handler blocks the loop this long (0: never)") \
  X(fiber_stack_size, "fiber-stack-size", 0, kCount, std::int64_t, 262144, (), (16384), "BYTES", "Worker processes", kWorker, \
    "fiber worker: each fiber's stack, plus a guard page") \
  \
  X(thrift_transport_factory, "thrift-transport-factory", 0, kChoice, std::string, "buffered", ("buffered", "framed", "header", "zlib"), (0), "NAME", "Thrift", kListener, \
    "the Thrift transport (per listener: a bind entry may set its own)") \
  X(thrift_protocol_factory, "thrift-protocol-factory", 0, kChoice, std::string, "binary", ("binary", "compact", "json", "header"), (0), "NAME", "Thrift", kListener, \
    "the Thrift protocol (header needs the header or framed transport; per listener: a bind entry may set its own)") \
  X(thrift_client_timeout, "thrift-client-timeout", 0, kSeconds, double, 0, (), (0), "SECONDS", "Thrift", kWorker, \
    "close a connection idle between messages this long (0: never)") \
  X(thrift_max_frame_size, "thrift-max-frame-size", 0, kCount, std::int64_t, 16384000, (), (1), "BYTES", "Thrift", kWorker, \
    "close a connection that sends a larger frame") \
  X(thrift_max_message_size, "thrift-max-message-size", 0, kCount, std::int64_t, 104857600, (), (1), "BYTES", "Thrift", kWorker, \
    "close a connection that sends a larger message") \
  \
  X(certfile, "certfile", 0, kFile, std::string, "", (), (0), "FILE", "TLS", kListener, \
    "serve the TCP listeners over TLS with this PEM certificate (and chain) (unset: plain; per listener, as every TLS setting)") \
  X(keyfile, "keyfile", 0, kFile, std::string, "", (), (0), "FILE", "TLS", kListener, \
    "the PEM private key of certfile (unset: certfile holds it too)") \
  X(ca_certs, "ca-certs", 0, kFile, std::string, "", (), (0), "FILE", "TLS", kListener, \
    "PEM CA certificates that client certificates are verified against") \
  X(cert_reqs, "cert-reqs", 0, kChoice, std::string, "none", ("none", "optional", "required"), (0), "MODE", "TLS", kListener, \
    "ask clients for a certificate: none, optional (verified when sent) or required (mutual TLS)") \
  X(ciphers, "ciphers", 0, kString, std::string, "", (), (0), "LIST", "TLS", kListener, \
    "the TLS 1.2 cipher list in OpenSSL's syntax (unset: OpenSSL's default)") \
  X(ssl_version, "ssl-version", 0, kChoice, std::string, "TLSv1.2", ("TLSv1.2", "TLSv1.3"), (0), "VERSION", "TLS", kListener, \
    "the oldest TLS version accepted") \
  X(tls_handshake_timeout, "tls-handshake-timeout", 0, kSeconds, double, 10, (), (0), "SECONDS", "TLS", kListener, \
    "close a TLS connection whose handshake has not finished this long after it was accepted (0: never)") \
  \
  X(umask, "umask", 0, kOctal, std::int64_t, 0, (), (0), "MODE", "Process", kMaster, \
    "the file mode mask of the master and the workers, in octal as 022 (0: every permission a file asks for)") \
  X(chdir, "chdir", 0, kFile, std::string, "", (), (0), "DIR", "Process", kMaster, \
    "change to this directory before anything else (the App, logs and binds are found from it)") \
  X(raw_env, "env", 'e', kKeyValue, StringMap, {}, (), (0), "KEY=VALUE", "Process", kMaster, \
    "set this variable in the environment of the master and the workers (repeatable)") \
  X(proc_name, "name", 'n', kString, std::string, "", (), (0), "NAME", "Process", kMaster, \
    "the name in the process titles: thriftd: master [NAME], thriftd: worker [NAME] KIND N (unset: the App's file name)") \
  X(daemon, "daemon", 'D', kBool, bool, false, (), (0), "", "Process", kMaster, \
    "detach from the terminal once the listeners are open; the daemon writes the pidfile") \
  X(user, "user", 'u', kString, std::string, "", (), (0), "USER", "Process", kMaster, \
    "run the workers as this user, a name or id (the master binds and opens files as started; unset: as the master)") \
  X(group, "group", 'g', kString, std::string, "", (), (0), "GROUP", "Process", kMaster, \
    "run the workers with this group, a name or id (unset: the user's own group, or the master's)") \
  X(refuse_root_workers, "refuse-root-workers", 0, kBool, bool, false, (), (0), "", "Process", kMaster, \
    "refuse to start when the workers would run as root (set user to another user)") \
  X(metrics_bind, "metrics-bind", 0, kString, std::string, "", (), (0), "HOST:PORT", "Process", kMaster, \
    "serve Prometheus /metrics and /healthz on this address (unset: off)") \
  X(pidfile, "pid", 'p', kFile, std::string, "", (), (0), "FILE", "Process", kMaster, \
    "write the master's pid to this file") \
  X(errorlog, "error-logfile", 0, kFile, std::string, "-", (), (0), "FILE", "Logging", kMaster, \
    "the error log file ('-' is stderr)") \
  X(accesslog, "access-logfile", 0, kFile, std::string, "", (), (0), "FILE", "Logging", kWorker, \
    "the access log file, one line per call ('-' is stdout; unset: none)") \
  X(access_log_format, "access-logformat", 0, kString, std::string, "{peer} [{time}] \"{service}.{method}\" {seqid} {outcome} {duration_us}us {bytes_in} {bytes_out} {pid}", (), (0), "FORMAT", "Logging", kWorker, \
    "the access log line: {peer} {time} {service} {method} {seqid} {outcome} {duration_us} {bytes_in} {bytes_out} {pid} {tls_subject}, or json") \
  X(loglevel, "log-level", 0, kChoice, LogLevel, LogLevel::kInfo, ("debug", "info", "warning", "error", "critical"), (0), "LEVEL", "Logging", kMaster, \
    "the error log's level")
// clang-format on

/// THRIFTD_IF_WORKER_SCOPE(scope, code...) expands to `code` for a kWorker
/// row and to nothing otherwise, so a consumer of THRIFTD_SETTINGS can pick
/// the worker-scoped rows. A misspelt scope fails to compile.
#define THRIFTD_IF_WORKER_SCOPE(scope, ...) THRIFTD_IF_WORKER_SCOPE_##scope(__VA_ARGS__)
#define THRIFTD_IF_WORKER_SCOPE_kWorker(...) __VA_ARGS__
#define THRIFTD_IF_WORKER_SCOPE_kMaster(...)
#define THRIFTD_IF_WORKER_SCOPE_kCommandLine(...)
#define THRIFTD_IF_WORKER_SCOPE_kListener(...)

/// THRIFTD_IF_LISTENER_SCOPE(scope, code...): `code` for a kListener row only.
#define THRIFTD_IF_LISTENER_SCOPE(scope, ...) THRIFTD_IF_LISTENER_SCOPE_##scope(__VA_ARGS__)
#define THRIFTD_IF_LISTENER_SCOPE_kListener(...) __VA_ARGS__
#define THRIFTD_IF_LISTENER_SCOPE_kWorker(...)
#define THRIFTD_IF_LISTENER_SCOPE_kMaster(...)
#define THRIFTD_IF_LISTENER_SCOPE_kCommandLine(...)

#endif  // THRIFTD_SRC_BASE_SETTING_LIST_H_
