// bench/peer_common.h: what the Apache Thrift peers share. Each peer loads the
// same App object thriftd serves (build/examples/libpingpong.so) with dlopen()
// and takes its processor factory through the thriftd::App interface, so the
// handler and the generated code are byte for byte the ones thriftd runs.
#ifndef THRIFTD_BENCH_PEER_COMMON_H_
#define THRIFTD_BENCH_PEER_COMMON_H_

#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <thriftd/app.h>

namespace peer {

struct Options {
  std::string app;  // PATH.so
  std::string host = "127.0.0.1";
  int port = 9090;
  bool framed = false;
  int threads = 0;         // pool size (threadpool) or thread manager size (nonblocking)
  int io_threads = 2;      // nonblocking
  std::string certfile;    // threadpool over TLS: the server's PEM certificate
  std::string keyfile;     // and its key
};

[[noreturn]] inline void Usage(const char* prog, const char* extra) {
  std::fprintf(stderr,
               "usage: %s --app PATH.so [--host H] [--port P] [--transport buffered|framed]%s\n",
               prog, extra);
  std::exit(2);
}

inline Options Parse(int argc, char** argv, const char* extra) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(argv[0], extra);
      return argv[++i];
    };
    if (a == "--app") o.app = next();
    else if (a == "--host") o.host = next();
    else if (a == "--port") o.port = std::atoi(next().c_str());
    else if (a == "--transport") {
      const std::string t = next();
      if (t == "framed") o.framed = true;
      else if (t == "buffered") o.framed = false;
      else Usage(argv[0], extra);
    } else if (a == "--threads" || a == "--thread-manager") o.threads = std::atoi(next().c_str());
    else if (a == "--io-threads") o.io_threads = std::atoi(next().c_str());
    else if (a == "--certfile") o.certfile = next();
    else if (a == "--keyfile") o.keyfile = next();
    else Usage(argv[0], extra);
  }
  if (o.app.empty()) Usage(argv[0], extra);
  return o;
}

/// The App in PATH.so, as thriftd would construct it in a worker.
inline std::shared_ptr<apache::thrift::TProcessorFactory> LoadApp(const std::string& path) {
  void* so = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (so == nullptr) {
    std::fprintf(stderr, "dlopen %s: %s\n", path.c_str(), dlerror());
    std::exit(2);
  }
  // THRIFTD_APP's list of the object's Apps (app.h); the first is the default.
  using List = const thriftd::AppEntryLink* (*)();
  auto list = reinterpret_cast<List>(dlsym(so, "thriftd_app_list"));
  const thriftd::AppEntry* entry = list != nullptr && list() != nullptr ? list()->entry : nullptr;
  if (entry == nullptr || entry->abi_version != thriftd::kAppAbiVersion) {
    std::fprintf(stderr, "%s: no THRIFTD_APP of ABI %u\n", path.c_str(), thriftd::kAppAbiVersion);
    std::exit(2);
  }
  thriftd::App* app = entry->create();  // lives as long as the process
  thriftd::AppContext ctx;
  ctx.pid = getpid();
  app->OnWorkerStart(ctx);
  return app->ProcessorFactory();
}

/// SIGTERM and SIGINT end the process at once: the benchmark only needs the
/// peer gone, and Thrift's servers do not all stop cleanly from a signal.
inline void QuitOnSignals() {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = [](int) { _exit(0); };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

}  // namespace peer

#endif  // THRIFTD_BENCH_PEER_COMMON_H_
