// thriftd_loadgen: a closed-loop Thrift load generator with no Thrift library.
//
// N persistent connections, each with one call in flight; strict binary
// protocol over the buffered or framed transport, encoded by hand; epoll and
// non-blocking sockets, so its cost per call is small and the same whatever
// the server. Every reply is checked (type, method, seqid, value) and every
// mismatch counted as an error.
//
//   thriftd_loadgen --port 8000 -c 64 --method ping --warmup 1 --duration 3
//
// stdout: "MEASURE_START" and "MEASURE_END" lines (flushed) bracket the
// measured interval, so a caller can sample the server around it, then one
// "RESULT {json}" line. --calls N makes exactly N calls and stops (for
// instruction counts); --idle N opens N connections that each make one ping
// and then stay open and silent until stdin closes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "binproto.h"

namespace {

enum class Method { kPing, kAdd, kEcho };

struct Options {
  std::string host = "127.0.0.1";
  int port = 8000;
  int connections = 1;
  int threads = 1;
  bool framed = false;
  Method method = Method::kPing;
  std::string method_name = "ping";
  std::size_t size = 4096;
  double warmup = 1.0;
  double duration = 3.0;
  long long calls = 0;  // > 0: exactly this many calls, then stop
  int idle = 0;         // > 0: idle mode
};

enum Phase : int { kWarmup = 0, kMeasure = 1, kDone = 2 };

std::atomic<int> g_phase{kWarmup};
std::atomic<long long> g_budget{0};     // --calls: calls left to send
std::atomic<long long> g_completed{0};  // --calls: calls answered

std::uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "thriftd_loadgen: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

int Connect(const Options& opt, bool nonblocking) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(opt.port));
  if (inet_pton(AF_INET, opt.host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "thriftd_loadgen: bad host %s\n", opt.host.c_str());
    std::exit(2);
  }
  for (int attempt = 0;; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) Die("socket");
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (nonblocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      return fd;
    }
    const int err = errno;
    close(fd);
    if (attempt >= 100) {
      errno = err;
      Die("connect");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// The payload a connection echoes: different per connection, so a reply
/// delivered to the wrong connection is caught.
std::string Payload(std::size_t size, int conn) {
  std::string s(size, '\0');
  std::uint32_t x = 2463534242u + static_cast<std::uint32_t>(conn) * 7919u;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

struct Conn {
  int fd = -1;
  int index = 0;
  std::string request;       // the encoded call (frame included)
  std::size_t seqid_at = 0;  // where the seqid sits in request
  std::size_t sent = 0;      // bytes of request written
  bool want_out = false;     // EPOLLOUT registered
  bool in_flight = false;
  std::int32_t seqid = 0;
  std::int32_t add_a = 0, add_b = 0;
  std::uint64_t sent_at = 0;
  std::vector<unsigned char> rbuf;
  std::size_t rlen = 0;
  std::string payload;
  long long measured_calls = 0;
  long long all_calls = 0;
};

struct ThreadStats {
  std::vector<std::uint32_t> latencies_ns;
  long long calls = 0;
  long long errors = 0;
  long long reconnects = 0;
  std::map<std::string, long long> error_kinds;
  std::vector<long long> per_conn;
  long long conns_ever_served = 0;
};

class Worker {
 public:
  Worker(const Options& opt, int first_conn, int nconns) : opt_(opt) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) Die("epoll_create1");
    conns_.resize(static_cast<std::size_t>(nconns));
    for (int i = 0; i < nconns; ++i) {
      Conn& c = conns_[static_cast<std::size_t>(i)];
      c.index = first_conn + i;
      c.seqid = c.index * 1000003;
      if (opt_.method == Method::kEcho) c.payload = Payload(opt_.size, c.index);
      c.rbuf.resize(std::max<std::size_t>(65536, opt_.size + 1024));
      Open(c);
    }
    stats_.latencies_ns.reserve(1 << 20);
  }

  void Run() {
    for (auto& c : conns_) SendNext(c);
    std::vector<epoll_event> events(256);
    while (g_phase.load(std::memory_order_relaxed) != kDone) {
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 10);
      if (n < 0) {
        if (errno == EINTR) continue;
        Die("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[events[static_cast<std::size_t>(i)].data.u32];
        const std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
        if (ev & EPOLLOUT) Flush(c);
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) Read(c);
      }
    }
    for (auto& c : conns_) {
      stats_.per_conn.push_back(c.measured_calls);
      if (c.all_calls > 0) ++stats_.conns_ever_served;
      if (c.fd >= 0) close(c.fd);
    }
    close(ep_);
  }

  ThreadStats& stats() { return stats_; }

 private:
  void Open(Conn& c) {
    c.fd = Connect(opt_, true);
    c.sent = 0;
    c.rlen = 0;
    c.in_flight = false;
    c.want_out = false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(&c - conns_.data());
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) Die("epoll_ctl");
  }

  void Error(Conn& c, const char* kind) {
    ++stats_.errors;
    ++stats_.error_kinds[kind];
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    if (g_phase.load(std::memory_order_relaxed) == kDone) return;
    ++stats_.reconnects;
    Open(c);
    SendNext(c);
  }

  void Encode(Conn& c) {
    std::string& r = c.request;
    r.clear();
    if (opt_.framed) r.append(4, '\0');
    binproto::PutHeader(r, binproto::kCall, opt_.method_name, c.seqid);
    c.seqid_at = r.size() - 4;
    switch (opt_.method) {
      case Method::kPing:
        break;
      case Method::kAdd:
        binproto::PutFieldHeader(r, binproto::kI32, 1);
        binproto::PutI32(r, c.add_a);
        binproto::PutFieldHeader(r, binproto::kI32, 2);
        binproto::PutI32(r, c.add_b);
        break;
      case Method::kEcho:
        binproto::PutFieldHeader(r, binproto::kString, 1);
        binproto::PutString(r, c.payload);
        break;
    }
    r.push_back(static_cast<char>(binproto::kStop));
    if (opt_.framed) binproto::SetI32(&r[0], static_cast<std::int32_t>(r.size() - 4));
  }

  void SendNext(Conn& c) {
    if (g_phase.load(std::memory_order_relaxed) == kDone) return;
    if (opt_.calls > 0 && g_budget.fetch_sub(1, std::memory_order_relaxed) <= 0) return;
    ++c.seqid;
    if (opt_.method == Method::kAdd) {
      c.add_a = c.seqid;
      c.add_b = c.index;
      Encode(c);
    } else if (c.request.empty()) {
      Encode(c);
    } else {
      binproto::SetI32(&c.request[c.seqid_at], c.seqid);
    }
    c.sent = 0;
    c.in_flight = true;
    c.sent_at = NowNs();
    Flush(c);
  }

  void Flush(Conn& c) {
    while (c.sent < c.request.size()) {
      const ssize_t n =
          send(c.fd, c.request.data() + c.sent, c.request.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c.want_out) SetOut(c, true);
        return;
      }
      Error(c, "send");
      return;
    }
    if (c.want_out) SetOut(c, false);
  }

  void SetOut(Conn& c, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<std::uint32_t>(&c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = on;
  }

  void Read(Conn& c) {
    const ssize_t n = recv(c.fd, c.rbuf.data() + c.rlen, c.rbuf.size() - c.rlen, 0);
    if (n == 0) {
      Error(c, "closed by server");
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      Error(c, "recv");
      return;
    }
    c.rlen += static_cast<std::size_t>(n);
    for (;;) {
      const unsigned char* p = c.rbuf.data();
      std::size_t msg_len = 0, skip = 0;
      if (opt_.framed) {
        if (c.rlen < 4) return;
        const std::int32_t frame = binproto::GetI32(p);
        if (frame <= 0 || frame > (64 << 20)) {
          Error(c, "bad frame size");
          return;
        }
        const auto need = static_cast<std::size_t>(frame) + 4;
        if (need > c.rbuf.size()) c.rbuf.resize(need);
        if (c.rlen < need) return;
        binproto::Scanner s(p + 4, p + need);
        if (s.MessageLength() != frame) {
          Error(c, "malformed frame");
          return;
        }
        skip = 4;
        msg_len = need;
      } else {
        binproto::Scanner s(p, p + c.rlen);
        const std::ptrdiff_t len = s.MessageLength();
        if (len < 0) {
          Error(c, "malformed reply");
          return;
        }
        if (len == 0) {
          if (c.rlen == c.rbuf.size()) c.rbuf.resize(c.rbuf.size() * 2);
          return;
        }
        msg_len = static_cast<std::size_t>(len);
      }
      if (!c.in_flight) {
        Error(c, "unsolicited reply");
        return;
      }
      const char* bad = Check(c, p + skip);
      if (bad != nullptr) {
        Error(c, bad);
        return;
      }
      Complete(c);
      std::memmove(c.rbuf.data(), c.rbuf.data() + msg_len, c.rlen - msg_len);
      c.rlen -= msg_len;
      if (c.rlen == 0) return;
    }
  }

  /// nullptr if the reply is the right answer to c's call, else what is wrong.
  const char* Check(const Conn& c, const unsigned char* msg) {
    const binproto::Header h = binproto::ReadHeader(msg);
    if (h.type == binproto::kException) return "exception reply";
    if (h.type != binproto::kReply) return "wrong message type";
    if (h.name != opt_.method_name) return "wrong method name";
    if (h.seqid != c.seqid) return "wrong seqid";
    const unsigned char* b = h.body;
    const std::uint8_t ft = b[0];
    const int id = (b[1] << 8) | b[2];
    if (id != 0) return "no success field";
    b += 3;
    switch (opt_.method) {
      case Method::kPing: {
        if (ft != binproto::kString) return "wrong result type";
        if (binproto::GetI32(b) != 4 || std::memcmp(b + 4, "pong", 4) != 0) return "wrong value";
        b += 8;
        break;
      }
      case Method::kAdd:
        if (ft != binproto::kI32) return "wrong result type";
        if (binproto::GetI32(b) != static_cast<std::int32_t>(static_cast<std::uint32_t>(c.add_a) +
                                                             static_cast<std::uint32_t>(c.add_b)))
          return "wrong value";
        b += 4;
        break;
      case Method::kEcho: {
        if (ft != binproto::kString) return "wrong result type";
        const auto len = static_cast<std::size_t>(binproto::GetI32(b));
        if (len != c.payload.size() || std::memcmp(b + 4, c.payload.data(), len) != 0)
          return "wrong value";
        b += 4 + len;
        break;
      }
    }
    if (*b != binproto::kStop) return "extra result fields";
    return nullptr;
  }

  void Complete(Conn& c) {
    const std::uint64_t now = NowNs();
    c.in_flight = false;
    ++c.all_calls;
    if (g_phase.load(std::memory_order_relaxed) == kMeasure) {
      ++stats_.calls;
      ++c.measured_calls;
      const std::uint64_t lat = now - c.sent_at;
      stats_.latencies_ns.push_back(
          static_cast<std::uint32_t>(std::min<std::uint64_t>(lat, UINT32_MAX)));
      if (opt_.calls > 0) g_completed.fetch_add(1, std::memory_order_relaxed);
    }
    SendNext(c);
  }

  const Options& opt_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  ThreadStats stats_;
};

void RaiseNofile(std::size_t want) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, want);
  setrlimit(RLIMIT_NOFILE, &rl);
}

/// --idle: N connections, one verified ping each, then silence until stdin closes.
int Idle(const Options& opt) {
  RaiseNofile(static_cast<std::size_t>(opt.idle) + 64);
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(opt.idle));
  long long errors = 0;
  std::vector<unsigned char> buf(4096);
  for (int i = 0; i < opt.idle; ++i) {
    const int fd = Connect(opt, false);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req;
    if (opt.framed) req.append(4, '\0');
    binproto::PutHeader(req, binproto::kCall, "ping", i);
    req.push_back(static_cast<char>(binproto::kStop));
    if (opt.framed) binproto::SetI32(&req[0], static_cast<std::int32_t>(req.size() - 4));
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      ++errors;
      fds.push_back(fd);
      continue;
    }
    std::size_t len = 0;
    bool ok = false;
    for (;;) {
      const ssize_t n = recv(fd, buf.data() + len, buf.size() - len, 0);
      if (n <= 0) break;
      len += static_cast<std::size_t>(n);
      const std::size_t skip = opt.framed ? 4 : 0;
      if (len < skip) continue;
      binproto::Scanner s(buf.data() + skip, buf.data() + len);
      const std::ptrdiff_t m = s.MessageLength();
      if (m < 0) break;
      if (m == 0) continue;
      const binproto::Header h = binproto::ReadHeader(buf.data() + skip);
      ok = h.type == binproto::kReply && h.seqid == i && h.name == "ping";
      break;
    }
    if (!ok) ++errors;
    fds.push_back(fd);
  }
  std::printf("READY %d %lld\n", opt.idle, errors);
  std::fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  for (int fd : fds) close(fd);
  std::printf("RESULT {\"conns\": %d, \"errors\": %lld}\n", opt.idle, errors);
  return errors == 0 ? 0 : 1;
}

void Usage() {
  std::fprintf(stderr,
               "usage: thriftd_loadgen [--host H] --port P [-c CONNS] [--threads T]\n"
               "  [--transport buffered|framed] [--method ping|add|echo] [--size BYTES]\n"
               "  [--warmup SEC] [--duration SEC] [--calls N] [--idle N]\n");
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--host") {
      opt.host = next();
    } else if (a == "--port" || a == "-p") {
      opt.port = std::atoi(next().c_str());
    } else if (a == "-c" || a == "--connections") {
      opt.connections = std::atoi(next().c_str());
    } else if (a == "--threads") {
      opt.threads = std::atoi(next().c_str());
    } else if (a == "--transport") {
      const std::string t = next();
      if (t == "framed") {
        opt.framed = true;
      } else if (t == "buffered") {
        opt.framed = false;
      } else {
        Usage();
      }
    } else if (a == "--method") {
      opt.method_name = next();
      if (opt.method_name == "ping") {
        opt.method = Method::kPing;
      } else if (opt.method_name == "add") {
        opt.method = Method::kAdd;
      } else if (opt.method_name == "echo") {
        opt.method = Method::kEcho;
      } else {
        Usage();
      }
    } else if (a == "--size") {
      opt.size = static_cast<std::size_t>(std::atoll(next().c_str()));
    } else if (a == "--warmup") {
      opt.warmup = std::atof(next().c_str());
    } else if (a == "--duration") {
      opt.duration = std::atof(next().c_str());
    } else if (a == "--calls") {
      opt.calls = std::atoll(next().c_str());
    } else if (a == "--idle") {
      opt.idle = std::atoi(next().c_str());
    } else {
      Usage();
    }
  }
  return opt;
}

/// Splits the connections over opt.threads workers, each with its own epoll loop.
std::vector<std::unique_ptr<Worker>> MakeWorkers(const Options& opt) {
  std::vector<std::unique_ptr<Worker>> workers;
  int first = 0;
  for (int t = 0; t < opt.threads; ++t) {
    const int n = opt.connections / opt.threads + (t < opt.connections % opt.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(opt, first, n));
    first += n;
  }
  return workers;
}

struct Interval {
  std::uint64_t start_ns = 0;  // the workers started
  std::uint64_t measure_start_ns = 0;
  std::uint64_t measure_end_ns = 0;
};

/// Runs the workers through warm-up and the measured interval (or until --calls calls are
/// answered), printing MEASURE_START and MEASURE_END around it, and joins them.
Interval RunWorkers(const Options& opt, std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<std::thread> threads;
  Interval t;
  t.start_ns = NowNs();
  t.measure_start_ns = t.start_ns;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });

  if (opt.calls > 0) {
    std::printf("MEASURE_START\n");
    std::fflush(stdout);
    while (g_completed.load() < opt.calls)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.warmup));
    t.measure_start_ns = NowNs();
    g_phase = kMeasure;
    std::printf("MEASURE_START\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.duration));
  }
  g_phase = kDone;
  t.measure_end_ns = NowNs();
  std::printf("MEASURE_END\n");
  std::fflush(stdout);
  for (auto& th : threads) th.join();
  return t;
}

/// Every worker's figures together.
struct Totals {
  std::vector<std::uint32_t> latencies_ns;  // sorted
  long long calls = 0, errors = 0, reconnects = 0, ever_served = 0;
  std::map<std::string, long long> error_kinds;
  std::vector<long long> per_conn;
};

Totals Gather(std::vector<std::unique_ptr<Worker>>& workers) {
  Totals t;
  for (auto& w : workers) {
    ThreadStats& s = w->stats();
    t.latencies_ns.insert(t.latencies_ns.end(), s.latencies_ns.begin(), s.latencies_ns.end());
    t.calls += s.calls;
    t.errors += s.errors;
    t.reconnects += s.reconnects;
    t.ever_served += s.conns_ever_served;
    for (auto& [k, v] : s.error_kinds) t.error_kinds[k] += v;
    t.per_conn.insert(t.per_conn.end(), s.per_conn.begin(), s.per_conn.end());
  }
  std::sort(t.latencies_ns.begin(), t.latencies_ns.end());
  return t;
}

/// The q-quantile of sorted latencies, in µs (0 without any).
double Percentile(const std::vector<std::uint32_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  const auto i = std::min(sorted_ns.size() - 1,
                          static_cast<std::size_t>(q * static_cast<double>(sorted_ns.size())));
  return sorted_ns[i] / 1000.0;
}

double ClientCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// The "RESULT {json}" line.
void PrintResult(const Options& opt, const Totals& t, const Interval& when) {
  const double secs = static_cast<double>(when.measure_end_ns - when.measure_start_ns) / 1e9;
  long long served = 0, min_conn = t.per_conn.empty() ? 0 : t.per_conn[0], max_conn = 0;
  for (long long v : t.per_conn) {
    if (v > 0) ++served;
    min_conn = std::min(min_conn, v);
    max_conn = std::max(max_conn, v);
  }
  std::string kinds_json;
  for (auto& [k, v] : t.error_kinds) {
    if (!kinds_json.empty()) kinds_json += ", ";
    kinds_json += "\"" + k + "\": " + std::to_string(v);
  }
  const auto& lat = t.latencies_ns;
  std::printf(
      "RESULT {\"calls\": %lld, \"seconds\": %.4f, \"rps\": %.1f, \"p50_us\": %.1f, "
      "\"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, \"errors\": %lld, "
      "\"error_kinds\": {%s}, \"reconnects\": %lld, \"conns\": %d, \"conns_served\": %lld, "
      "\"conns_ever_served\": %lld, \"min_conn_calls\": %lld, \"max_conn_calls\": %lld, "
      "\"client_cpu_s\": %.3f, \"wall_s\": %.3f}\n",
      t.calls, secs, secs > 0 ? static_cast<double>(t.calls) / secs : 0.0, Percentile(lat, 0.50),
      Percentile(lat, 0.99), Percentile(lat, 0.999), lat.empty() ? 0.0 : lat.back() / 1000.0,
      t.errors, kinds_json.c_str(), t.reconnects, opt.connections, served, t.ever_served, min_conn,
      max_conn, ClientCpuSeconds(), static_cast<double>(NowNs() - when.start_ns) / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = ParseArgs(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (opt.idle > 0) return Idle(opt);
  if (opt.connections < 1 || opt.threads < 1) Usage();
  opt.threads = std::min(opt.threads, opt.connections);
  RaiseNofile(static_cast<std::size_t>(opt.connections) + 64);
  if (opt.calls > 0) {
    opt.warmup = 0;
    g_budget = opt.calls;
    g_phase = kMeasure;
  }
  std::vector<std::unique_ptr<Worker>> workers = MakeWorkers(opt);
  const Interval when = RunWorkers(opt, workers);
  const Totals totals = Gather(workers);
  PrintResult(opt, totals, when);
  return totals.errors == 0 ? 0 : 1;
}
