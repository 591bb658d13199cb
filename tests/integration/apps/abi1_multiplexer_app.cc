// An App built against ABI version 1's header (tests/abi/v1), as objects
// built before thriftd knew several services are: it must still load and
// serve. It multiplexes by itself, as such an App had to: its own
// TMultiplexedProcessor with KeyValue as "kv" and PingPong as "pingpong"
// (and PingPong for clients that name no service). thriftd cannot see into
// that processor; the access log must still not name a call after another.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <thrift/processor/TMultiplexedProcessor.h>

#include "KeyValue.h"
#include "PingPong.h"
#include "thriftd/app.h"

static_assert(thriftd::kAppAbiVersion == 1, "built against the old header");

namespace {

class PingPongHandler : public pingpong::PingPongIf {
 public:
  void ping(std::string& reply) override { reply = "pong"; }
  int32_t add(int32_t a, int32_t b) override { return a + b; }
  void echo(std::string& reply, const std::string& data) override { reply = data; }
  void sleep(int32_t /*ms*/) override {}
};

// Shared by every connection (and the thread kind's threads).
class KeyValueHandler : public keyvalue::KeyValueIf {
 public:
  void getValue(std::string& value, const std::string& key) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = values_.find(key);
    if (it == values_.end()) {
      keyvalue::NotFoundError error;
      error.__set_key(key);
      throw error;
    }
    value = it->second;
  }
  void setValue(const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mutex_);
    values_[key] = value;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> values_;
};

class OwnMultiplexerApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    auto multiplexer = std::make_shared<apache::thrift::TMultiplexedProcessor>();
    auto pingpong =
        std::make_shared<pingpong::PingPongProcessor>(std::make_shared<PingPongHandler>());
    multiplexer->registerProcessor(
        "kv", std::make_shared<keyvalue::KeyValueProcessor>(std::make_shared<KeyValueHandler>()));
    multiplexer->registerProcessor("pingpong", pingpong);
    multiplexer->registerDefault(pingpong);
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(multiplexer);
  }
};

}  // namespace

THRIFTD_APP(OwnMultiplexerApp)
