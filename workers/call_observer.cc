#include "workers/call_observer.h"

#include "workers/connection.h"

namespace thriftd {

using apache::thrift::TProcessor;
using apache::thrift::TProcessorEventHandler;

namespace {

Connection* AsConnection(void* context) { return static_cast<Connection*>(context); }

}  // namespace

void CallObserver::Attach(TProcessor& processor) {
  std::shared_ptr<TProcessorEventHandler> current = processor.getEventHandler();
  if (dynamic_cast<CallObserver*>(current.get()) != nullptr) return;
  processor.setEventHandler(std::shared_ptr<TProcessorEventHandler>(new CallObserver(current)));
}

// Processors pass the connection context given to process() (a Connection*)
// to getContext(); what getContext() returns comes back to the other hooks.
void* CallObserver::getContext(const char* fn_name, void* connection) {
  Connection* c = AsConnection(connection);
  c->OnCallStart(fn_name);
  c->app_call_context = inner_ ? inner_->getContext(fn_name, nullptr) : nullptr;
  return c;
}

void CallObserver::freeContext(void* connection, const char* fn_name) {
  Connection* c = AsConnection(connection);
  c->OnCallEnd();
  if (inner_) inner_->freeContext(c->app_call_context, fn_name);
}

void CallObserver::preRead(void* connection, const char* fn_name) {
  if (inner_) inner_->preRead(AsConnection(connection)->app_call_context, fn_name);
}

void CallObserver::postRead(void* connection, const char* fn_name, uint32_t bytes) {
  if (inner_) inner_->postRead(AsConnection(connection)->app_call_context, fn_name, bytes);
}

void CallObserver::preWrite(void* connection, const char* fn_name) {
  if (inner_) inner_->preWrite(AsConnection(connection)->app_call_context, fn_name);
}

void CallObserver::postWrite(void* connection, const char* fn_name, uint32_t bytes) {
  if (inner_) inner_->postWrite(AsConnection(connection)->app_call_context, fn_name, bytes);
}

void CallObserver::asyncComplete(void* connection, const char* fn_name) {
  if (inner_) inner_->asyncComplete(AsConnection(connection)->app_call_context, fn_name);
}

void CallObserver::handlerError(void* connection, const char* fn_name) {
  if (inner_) inner_->handlerError(AsConnection(connection)->app_call_context, fn_name);
}

}  // namespace thriftd
