// keyvalue: an App with state (a map per worker process), a declared
// exception, and configuration from `app_config`.
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>

#include <thriftd/app.h>

#include "KeyValue.h"

namespace {

/// The store of one worker process. Thread-safe: a thread worker shares it.
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

class KeyValueApp : public thriftd::App {
 public:
  std::shared_ptr<apache::thrift::TProcessorFactory> ProcessorFactory() override {
    auto processor = std::make_shared<keyvalue::KeyValueProcessor>(handler_);
    return std::make_shared<apache::thrift::TSingletonProcessorFactory>(processor);
  }

  /// Preloads `app_config` key "seed", of the form "k1=v1,k2=v2". An item
  /// without '=' is a configuration error and stops thriftd.
  void OnWorkerStart(const thriftd::AppContext& context) override {
    auto seed = context.app_config.find("seed");
    if (seed == context.app_config.end()) return;
    std::istringstream items(seed->second);
    std::string item;
    while (std::getline(items, item, ',')) {
      if (item.empty()) continue;
      auto equals = item.find('=');
      if (equals == std::string::npos) {
        throw std::invalid_argument("keyvalue: seed item '" + item + "' is not KEY=VALUE");
      }
      handler_->setValue(item.substr(0, equals), item.substr(equals + 1));
    }
  }

 private:
  std::shared_ptr<KeyValueHandler> handler_ = std::make_shared<KeyValueHandler>();
};

}  // namespace

THRIFTD_APP(KeyValueApp)
