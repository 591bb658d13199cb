// Connection: thriftd's ThriftConnection, one accepted client connection with
// its protocol stack and processor. Runs in a worker, served by one thread
// (or fiber) at a time; between messages it holds no buffers and may move to
// another thread.
#ifndef THRIFTD_WORKERS_CONNECTION_H_
#define THRIFTD_WORKERS_CONNECTION_H_

#include <atomic>
#include <memory>
#include <string>

#include <thrift/TProcessor.h>
#include <thrift/protocol/TProtocol.h>

#include "thriftd/worker.h"
#include "workers/connection_socket.h"
#include "workers/outcome_recorder.h"

namespace thriftd {

class WorkerRuntime;

class Connection final : public ThriftConnection {
 public:
  /// Takes ownership of the accepted, non-blocking `fd`.
  Connection(int fd, WorkerRuntime& runtime);
  ~Connection() override;

  int fd() const override { return socket_->fd(); }
  /// Serves messages while they arrive. Between messages it asks `waiter`:
  /// kReady serves on, kIdle returns kIdle (the kind's poller takes over),
  /// kStop and kTimeout close. Never throws.
  Outcome Serve(IoWaiter& waiter) override;
  const char* CurrentMethod() const override { return method_.load(std::memory_order_relaxed); }
  /// Gives up the socket, for a hand-over: only at a message boundary with
  /// nothing buffered (after Serve() returned kIdle). -1 if closed.
  int ReleaseFd() { return socket_->Release(); }

  /// Called by the processor event handler around each call: `method` is
  /// the processor's literal "Service.method".
  void OnCallStart(const char* method);
  void OnCallEnd();
  void* app_call_context = nullptr;  ///< the App's own event handler's context

 private:
  Outcome Close(const char* why, bool warn);
  /// A message that reached no method (unknown name, unreadable request).
  void RecordUnlistedCall(CallOutcome outcome);
  /// Counts the call that just ended under `method` (null: unlisted), shown
  /// in the access log as `shown`.
  void Record(const char* method, std::string_view shown, CallOutcome outcome);

  WorkerRuntime& runtime_;
  std::shared_ptr<ConnectionSocket> socket_;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol_;
  std::shared_ptr<OutcomeRecorder> output_;  // protocol_, watched for the reply's outcome
  std::shared_ptr<apache::thrift::TProcessor> processor_;
  std::atomic<const char*> method_{nullptr};  // read by the fiber watchdog thread
  bool call_observed_ = false;                // this message reached a method
  std::int64_t call_started_ns_ = 0;
  std::uint64_t out_at_start_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_CONNECTION_H_
