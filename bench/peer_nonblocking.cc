// peer_nonblocking: Apache Thrift's TNonblockingServer (libevent) serving the
// pingpong App: 2 IO threads, calls run on the IO threads; with
// --thread-manager N, calls run on a ThreadManager of N threads instead.
// TNonblockingServer reads framed messages only: --transport buffered is refused.
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/transport/TNonblockingServerSocket.h>

#include "peer_common.h"

using namespace apache::thrift;

int main(int argc, char** argv) {
  const char* extra = " [--io-threads N] [--thread-manager N]";
  peer::Options o = peer::Parse(argc, argv, extra);
  if (!o.framed) {
    std::fprintf(stderr, "peer_nonblocking: TNonblockingServer serves framed transport only\n");
    return 3;
  }
  peer::QuitOnSignals();
  auto factory = peer::LoadApp(o.app);
  std::shared_ptr<concurrency::ThreadManager> tm;
  if (o.threads > 0) {
    tm = concurrency::ThreadManager::newSimpleThreadManager(static_cast<size_t>(o.threads));
    tm->threadFactory(std::make_shared<concurrency::ThreadFactory>());
    tm->start();
  }
  auto socket = std::make_shared<transport::TNonblockingServerSocket>(o.host, o.port);
  server::TNonblockingServer server(factory, std::make_shared<protocol::TBinaryProtocolFactory>(),
                                    socket, tm);
  server.setNumIOThreads(static_cast<size_t>(o.io_threads));
  server.serve();
  return 0;
}
