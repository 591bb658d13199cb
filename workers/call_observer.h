// CallObserver: the TProcessorEventHandler thriftd puts on the App's
// processors, so it learns which method a connection is serving (for the
// fiber watchdog, later metrics) without touching service code. An event
// handler the App installed itself keeps working: it is wrapped, not replaced.
// Runs in a worker.
#ifndef THRIFTD_WORKERS_CALL_OBSERVER_H_
#define THRIFTD_WORKERS_CALL_OBSERVER_H_

#include <memory>

#include <thrift/TProcessor.h>

namespace thriftd {

class CallObserver final : public apache::thrift::TProcessorEventHandler {
 public:
  /// Puts an observer on `processor` unless it has one already.
  static void Attach(apache::thrift::TProcessor& processor);

  void* getContext(const char* fn_name, void* connection) override;
  void freeContext(void* connection, const char* fn_name) override;
  void preRead(void* connection, const char* fn_name) override;
  void postRead(void* connection, const char* fn_name, uint32_t bytes) override;
  void preWrite(void* connection, const char* fn_name) override;
  void postWrite(void* connection, const char* fn_name, uint32_t bytes) override;
  void asyncComplete(void* connection, const char* fn_name) override;
  void handlerError(void* connection, const char* fn_name) override;

 private:
  explicit CallObserver(std::shared_ptr<apache::thrift::TProcessorEventHandler> inner)
      : inner_(std::move(inner)) {}
  std::shared_ptr<apache::thrift::TProcessorEventHandler> inner_;  // the App's, or null
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_CALL_OBSERVER_H_
