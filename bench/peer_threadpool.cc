// peer_threadpool: Apache Thrift's TThreadPoolServer serving the pingpong App
// with a pool of --threads N (default 64) threads; a connection holds a
// thread for its whole life. With --certfile and --keyfile (the server's PEM
// certificate and key) over TSSLServerSocket: the stock TLS server thriftd's
// TLS is measured against.
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadPoolServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLServerSocket.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TServerSocket.h>

#include "peer_common.h"

using namespace apache::thrift;

int main(int argc, char** argv) {
  const char* extra = " [--threads N] [--certfile PEM --keyfile PEM]";
  peer::Options o = peer::Parse(argc, argv, extra);
  if (o.certfile.empty() != o.keyfile.empty()) peer::Usage(argv[0], extra);
  if (o.threads <= 0) o.threads = 64;
  peer::QuitOnSignals();
  auto factory = peer::LoadApp(o.app);
  auto tm = concurrency::ThreadManager::newSimpleThreadManager(static_cast<size_t>(o.threads));
  tm->threadFactory(std::make_shared<concurrency::ThreadFactory>());
  tm->start();
  std::shared_ptr<transport::TTransportFactory> tf;
  if (o.framed) tf = std::make_shared<transport::TFramedTransportFactory>();
  else tf = std::make_shared<transport::TBufferedTransportFactory>();
  std::shared_ptr<transport::TServerSocket> socket;
  if (o.certfile.empty()) {
    socket = std::make_shared<transport::TServerSocket>(o.host, o.port);
  } else {
    auto ssl = std::make_shared<transport::TSSLSocketFactory>(transport::SSLTLS);
    ssl->server(true);
    ssl->loadCertificate(o.certfile.c_str());
    ssl->loadPrivateKey(o.keyfile.c_str());
    socket = std::make_shared<transport::TSSLServerSocket>(o.host, o.port, ssl);
  }
  server::TThreadPoolServer server(factory, socket, tf,
                                   std::make_shared<protocol::TBinaryProtocolFactory>(), tm);
  server.serve();
  return 0;
}
