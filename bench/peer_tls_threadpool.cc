// peer_tls_threadpool: Apache Thrift's TThreadPoolServer over its
// TSSLServerSocket, serving the pingpong App with a pool of --threads N
// (default 64) threads: the stock TLS server thriftd's TLS is measured
// against. --certfile and --keyfile name the server's PEM certificate and key.
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadPoolServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLServerSocket.h>
#include <thrift/transport/TSSLSocket.h>

#include "peer_common.h"

using namespace apache::thrift;

int main(int argc, char** argv) {
  const char* extra = " --certfile PEM --keyfile PEM [--threads N]";
  peer::Options o = peer::Parse(argc, argv, extra);
  if (o.certfile.empty() || o.keyfile.empty()) peer::Usage(argv[0], extra);
  if (o.threads <= 0) o.threads = 64;
  peer::QuitOnSignals();
  auto factory = peer::LoadApp(o.app);
  auto tm = concurrency::ThreadManager::newSimpleThreadManager(static_cast<size_t>(o.threads));
  tm->threadFactory(std::make_shared<concurrency::ThreadFactory>());
  tm->start();
  std::shared_ptr<transport::TTransportFactory> tf;
  if (o.framed) tf = std::make_shared<transport::TFramedTransportFactory>();
  else tf = std::make_shared<transport::TBufferedTransportFactory>();
  auto ssl = std::make_shared<transport::TSSLSocketFactory>(transport::SSLTLS);
  ssl->server(true);
  ssl->loadCertificate(o.certfile.c_str());
  ssl->loadPrivateKey(o.keyfile.c_str());
  auto socket = std::make_shared<transport::TSSLServerSocket>(o.host, o.port, ssl);
  server::TThreadPoolServer server(factory, socket, tf,
                                   std::make_shared<protocol::TBinaryProtocolFactory>(), tm);
  server.serve();
  return 0;
}
