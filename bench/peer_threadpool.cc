// peer_threadpool: Apache Thrift's TThreadPoolServer serving the pingpong App
// with a pool of --threads N (default 64) threads; a connection holds a
// thread for its whole life.
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadPoolServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>

#include "peer_common.h"

using namespace apache::thrift;

int main(int argc, char** argv) {
  peer::Options o = peer::Parse(argc, argv, " [--threads N]");
  if (o.threads <= 0) o.threads = 64;
  peer::QuitOnSignals();
  auto factory = peer::LoadApp(o.app);
  auto tm = concurrency::ThreadManager::newSimpleThreadManager(static_cast<size_t>(o.threads));
  tm->threadFactory(std::make_shared<concurrency::ThreadFactory>());
  tm->start();
  std::shared_ptr<transport::TTransportFactory> tf;
  if (o.framed) tf = std::make_shared<transport::TFramedTransportFactory>();
  else tf = std::make_shared<transport::TBufferedTransportFactory>();
  auto socket = std::make_shared<transport::TServerSocket>(o.host, o.port);
  server::TThreadPoolServer server(factory, socket, tf,
                                   std::make_shared<protocol::TBinaryProtocolFactory>(), tm);
  server.serve();
  return 0;
}
