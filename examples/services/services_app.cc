// services: an App exporting two services over one store, by name: "kv"
// (examples/keyvalue/keyvalue.thrift) and "admin" (admin.thrift). Serve one
// with `--service kv`, or both on one listener with `--multiplexed`, to
// clients using Apache Thrift's TMultiplexedProtocol.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <thriftd/app.h>

#include "Admin.h"
#include "KeyValue.h"

namespace services_example {

/// The store of one worker process, shared by both services. Thread-safe.
class Store {
 public:
  bool Get(const std::string& key, std::string* value) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = values_.find(key);
    if (it == values_.end()) return false;
    *value = it->second;
    return true;
  }
  void Set(const std::string& key, const std::string& value) {
    std::lock_guard<std::mutex> lock(mutex_);
    values_[key] = value;
  }
  std::int64_t Count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<std::int64_t>(values_.size());
  }
  /// Empties the store unless it holds "locked".
  bool Clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (values_.count("locked") != 0) return false;
    values_.clear();
    return true;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> values_;
};

class KeyValueHandler : public keyvalue::KeyValueIf {
 public:
  explicit KeyValueHandler(std::shared_ptr<Store> store) : store_(std::move(store)) {}
  void getValue(std::string& value, const std::string& key) override {
    if (store_->Get(key, &value)) return;
    keyvalue::NotFoundError error;
    error.__set_key(key);
    throw error;
  }
  void setValue(const std::string& key, const std::string& value) override {
    store_->Set(key, value);
  }

 private:
  std::shared_ptr<Store> store_;
};

class AdminHandler : public admin::AdminIf {
 public:
  explicit AdminHandler(std::shared_ptr<Store> store) : store_(std::move(store)) {}
  std::int64_t keyCount() override { return store_->Count(); }
  void clear() override {
    if (store_->Clear()) return;
    admin::Refused refused;
    refused.__set_why("the store holds \"locked\"");
    throw refused;
  }

 private:
  std::shared_ptr<Store> store_;
};

class ServicesApp : public thriftd::App {
 public:
  // No ProcessorFactory(): the App has no default service, only these.
  thriftd::ServiceMap Services() override {
    using apache::thrift::TSingletonProcessorFactory;
    return {
        {"kv",
         std::make_shared<TSingletonProcessorFactory>(std::make_shared<keyvalue::KeyValueProcessor>(
             std::make_shared<KeyValueHandler>(store_)))},
        {"admin",
         std::make_shared<TSingletonProcessorFactory>(
             std::make_shared<admin::AdminProcessor>(std::make_shared<AdminHandler>(store_)))},
    };
  }

 private:
  std::shared_ptr<Store> store_ = std::make_shared<Store>();
};

}  // namespace services_example

// A namespaced class: found as libservices.so:services_example::ServicesApp.
THRIFTD_APP(services_example::ServicesApp)
