#include "workers/connection.h"

#include <poll.h>
#include <sys/socket.h>

#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TTransportException.h>

#include "src/base/clock.h"
#include "src/base/log.h"
#include "workers/call_observer.h"
#include "workers/worker_runtime.h"

namespace thriftd {
namespace {

constexpr int kGoodbyeWaitMs = 100;

}  // namespace

using apache::thrift::TConnectionInfo;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TTransportException;

Connection::Connection(int fd, WorkerRuntime& runtime)
    : runtime_(runtime),
      socket_(std::make_shared<ConnectionSocket>(fd, runtime.timeout_ms(),
                                                 runtime.thrift().max_message_size)) {
  // Built here, in the kind's loop thread, not in a pool thread: attaching the
  // observer to a processor shared by all connections must not race.
  if (runtime_.thrift().transport == "header") {
    socket_->set_frame_limit(runtime_.thrift().max_frame_size);
  }
  protocol_ = MakeProtocol(runtime_.thrift(), socket_);
  output_ = std::make_shared<OutcomeRecorder>(protocol_);
  TConnectionInfo info{protocol_, output_, socket_};
  processor_ = runtime_.processor_factory().getProcessor(info);
  CallObserver::Attach(*processor_);
}

Connection::~Connection() = default;

void Connection::OnCallStart(const char* method) {
  call_observed_ = true;
  method_.store(method, std::memory_order_relaxed);
  runtime_.OnCallStart(method, call_started_ns_);
}

void Connection::OnCallEnd() {
  const char* method = method_.exchange(nullptr, std::memory_order_relaxed);
  Record(method, method != nullptr ? method : "", output_->outcome());
}

void Connection::RecordUnlistedCall(CallOutcome outcome) {
  Record(nullptr, output_->replied() ? std::string_view(output_->name()) : std::string_view(),
         outcome);
}

void Connection::Record(const char* method, std::string_view shown, CallOutcome outcome) {
  std::int64_t now_ns = MonotonicNanos();
  CallRecord call;
  call.method = shown;
  call.seqid = output_->seqid();
  call.outcome = outcome;
  call.duration_us = (now_ns - call_started_ns_) / 1000;
  call.bytes_in = static_cast<std::uint64_t>(socket_->message_bytes());
  call.bytes_out = socket_->bytes_out() - out_at_start_;
  runtime_.RecordCall(method, call, *socket_, now_ns);
}

ThriftConnection::Outcome Connection::Close(const char* why, bool warn) {
  if (warn) {
    THRIFTD_LOG(kWarning) << "closing connection from " << socket_->getOrigin() << ": " << why;
  } else {
    THRIFTD_LOG(kDebug) << "closing connection from " << socket_->getOrigin() << ": " << why;
  }
  // The descriptor stays open until the connection is destroyed: the kind
  // may still have it registered with its poller, and a new connection
  // must not get the same number before that registration is gone.
  socket_->ReleaseBuffers();
  ::shutdown(socket_->fd(), SHUT_RDWR);  // the peer learns now, all the same
  return Outcome::kClosed;
}

ThriftConnection::Outcome Connection::Serve(IoWaiter& waiter) {
  socket_->set_waiter(&waiter);
  try {
    // A turn starts because the socket became readable: read first. After a
    // message, with nothing left in the buffer, ask the waiter first: the
    // poller kinds learn of new data from their edge-triggered events, so
    // they need no read that would only say "nothing yet".
    bool read_first = true;
    for (;;) {
      if (!socket_->HasBuffered()) {
        // A full buffer may have left data in the kernel, of which no
        // edge-triggered event will tell: read it first.
        if (!read_first && !socket_->MayHaveMore()) {
          switch (waiter.Wait(socket_->fd(), POLLIN, runtime_.timeout_ms(),
                              /*between_messages=*/true)) {
            case IoWaiter::Result::kReady:
              break;
            case IoWaiter::Result::kIdle:
            case IoWaiter::Result::kStop:  // the kind closes it or hands it over
              socket_->ReleaseBuffers();
              return Outcome::kIdle;
            case IoWaiter::Result::kTimeout:
              return Close("idle past thrift_client_timeout", false);
          }
        }
        read_first = false;
        ConnectionSocket::Fill fill = socket_->FillNonBlocking();
        if (fill == ConnectionSocket::Fill::kClosed) return Close("peer closed", false);
        if (fill == ConnectionSocket::Fill::kNothing) continue;  // wait for it
      }
      socket_->BeginMessage();
      output_->Reset();
      call_observed_ = false;
      call_started_ns_ = MonotonicNanos();
      out_at_start_ = socket_->bytes_out();
      if (!processor_->process(protocol_, output_, this)) return Close("processor done", false);
      if (!call_observed_) RecordUnlistedCall(output_->outcome());
    }
  } catch (const PeerClosedError& error) {
    return Close(error.what(), false);
  } catch (const TProtocolException& error) {
    if (!call_observed_) RecordUnlistedCall(CallOutcome::kProtocolError);
    return Close((std::string("protocol error: ") + error.what()).c_str(), true);
  } catch (const TTransportException& error) {
    bool quiet = error.getType() == TTransportException::INTERRUPTED ||
                 error.getType() == TTransportException::TIMED_OUT ||
                 // Apache Thrift's header client says goodbye with an empty
                 // frame, which the transport reports as end of data.
                 (error.getType() == TTransportException::END_OF_FILE &&
                  socket_->PeerClosesWithin(kGoodbyeWaitMs));
    return Close(error.what(), !quiet);
  } catch (const std::exception& error) {
    return Close(error.what(), true);
  }
}

}  // namespace thriftd
