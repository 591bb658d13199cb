// thriftd_tls_loadgen: a closed-loop TLS load generator: --connections N
// threads, each with one Apache Thrift C++ TSSLSocket (buffered or framed,
// binary) calling ping() or echo(--size bytes) as fast as answered, every
// reply checked. The same client for thriftd's TLS and the stock
// TSSLServerSocket, so their server CPU per call compares.
//
//   thriftd_tls_loadgen --port P --ca PEM [--transport buffered|framed]
//       [--method ping|echo] [--size N] [-c N] [--warmup S] [--duration S]
//
// stdout, as thriftd_loadgen's (bench/run.py reads both): MEASURE_START and
// MEASURE_END around the measured interval, then "RESULT {json}" with calls,
// seconds, rps, p50_us, p99_us, errors.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLSocket.h>

#include "PingPong.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace apache::thrift;

struct Options {
  int port = 0;
  std::string ca;
  bool framed = false;
  bool echo = false;
  int size = 65536;
  int connections = 1;
  double warmup = 0.5;
  double duration = 2.0;
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: thriftd_tls_loadgen --port P --ca PEM [--transport buffered|framed] "
               "[--method ping|echo] [--size N] [-c N] [--warmup S] [--duration S]\n");
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--port") o.port = std::atoi(next().c_str());
    else if (a == "--ca") o.ca = next();
    else if (a == "--transport") o.framed = next() == "framed";
    else if (a == "--method") o.echo = next() == "echo";
    else if (a == "--size") o.size = std::atoi(next().c_str());
    else if (a == "-c") o.connections = std::atoi(next().c_str());
    else if (a == "--warmup") o.warmup = std::atof(next().c_str());
    else if (a == "--duration") o.duration = std::atof(next().c_str());
    else Usage();
  }
  if (o.port <= 0 || o.ca.empty() || o.connections < 1) Usage();
  return o;
}

struct Shared {
  std::atomic<int> phase{0};  // 0 warming up, 1 measuring, 2 done
  std::atomic<long long> errors{0};
};

// One connection's calls while measuring, and their latencies (us).
void Connection(const Options& o, transport::TSSLSocketFactory& factory, Shared& shared,
                std::vector<double>* latencies) {
  std::string payload(static_cast<size_t>(o.size), '\0');
  for (int i = 0; i < o.size; ++i) payload[i] = static_cast<char>(i * 31 + 7);
  try {
    auto socket = factory.createSocket("127.0.0.1", o.port);
    std::shared_ptr<transport::TTransport> t;
    if (o.framed) t = std::make_shared<transport::TFramedTransport>(socket);
    else t = std::make_shared<transport::TBufferedTransport>(socket);
    pingpong::PingPongClient client(std::make_shared<protocol::TBinaryProtocol>(t));
    t->open();
    std::string reply;
    while (shared.phase.load(std::memory_order_relaxed) != 2) {
      auto start = Clock::now();
      if (o.echo) {
        client.echo(reply, payload);
        if (reply != payload) shared.errors.fetch_add(1);
      } else {
        client.ping(reply);
        if (reply != "pong") shared.errors.fetch_add(1);
      }
      if (shared.phase.load(std::memory_order_relaxed) == 1) {
        latencies->push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
    }
    t->close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "connection: %s\n", e.what());
    shared.errors.fetch_add(1);
  }
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  GlobalOutput.setOutputFunction([](const char*) {});
  transport::TSSLSocketFactory factory(transport::SSLTLS);
  factory.loadTrustedCertificates(o.ca.c_str());
  factory.authenticate(true);
  Shared shared;
  std::vector<std::vector<double>> latencies(static_cast<size_t>(o.connections));
  std::vector<std::thread> threads;
  for (int i = 0; i < o.connections; ++i)
    threads.emplace_back(Connection, std::cref(o), std::ref(factory), std::ref(shared),
                         &latencies[static_cast<size_t>(i)]);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  std::printf("MEASURE_START\n");
  std::fflush(stdout);
  auto start = Clock::now();
  shared.phase.store(1);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration));
  shared.phase.store(2);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("MEASURE_END\n");
  std::fflush(stdout);
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "RESULT {\"calls\": %zu, \"seconds\": %.4f, \"rps\": %.1f, \"p50_us\": %.1f, "
      "\"p99_us\": %.1f, \"errors\": %lld}\n",
      all.size(), seconds, all.size() / seconds, Percentile(all, 0.5), Percentile(all, 0.99),
      shared.errors.load());
  return shared.errors.load() == 0 ? 0 : 1;
}
