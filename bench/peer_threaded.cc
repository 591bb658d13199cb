// peer_threaded: Apache Thrift's TThreadedServer serving the pingpong App, a
// thread per connection.
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>

#include "peer_common.h"

using namespace apache::thrift;

int main(int argc, char** argv) {
  peer::Options o = peer::Parse(argc, argv, "");
  peer::QuitOnSignals();
  auto factory = peer::LoadApp(o.app);
  std::shared_ptr<transport::TTransportFactory> tf;
  if (o.framed) tf = std::make_shared<transport::TFramedTransportFactory>();
  else tf = std::make_shared<transport::TBufferedTransportFactory>();
  auto socket = std::make_shared<transport::TServerSocket>(o.host, o.port);
  server::TThreadedServer server(factory, socket, tf,
                                 std::make_shared<protocol::TBinaryProtocolFactory>());
  server.serve();
  return 0;
}
