// Connection: thriftd's ThriftConnection, one accepted client connection
// with its bytes, its protocol stack and its processor. It never waits: a
// turn (RunTurn) reads what has arrived, runs the processor on every message
// that is there whole (found by the MessageScanner), and sends what the
// socket takes; what is left (the start of a message, a reply the client is
// slow to read) stays in its buffers until the socket is ready again. The
// engine (workers/connection_engine.h) decides when the next turn runs; Serve()
// drives the same turns with a blocking IoWaiter, for the sync kind and
// custom kinds.
//
// Between messages, with nothing to send, it holds no buffers. Runs in a
// worker, served by one thread (or fiber) at a time; may move between
// threads between turns.
//
// A connection from a TLS listener has a TlsSession: its first turns move
// the handshake on (Phase kHandshake, until its deadline), then every byte
// read and sent goes through it, so framing, limits, timeouts and the access
// log work on the plain bytes as for any connection. It cannot be handed
// over (OpenSSL's state cannot travel with the descriptor).
#ifndef THRIFTD_WORKERS_CONNECTION_H_
#define THRIFTD_WORKERS_CONNECTION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <thrift/TProcessor.h>
#include <thrift/protocol/TProtocol.h>

#include "src/base/access_log_format.h"
#include "src/base/listener_settings.h"
#include "src/base/socket_address.h"
#include "src/base/unique_fd.h"
#include "src/base/worker_settings.h"
#include "thriftd/worker.h"
#include "workers/byte_buffer.h"
#include "workers/message_scanner.h"
#include "workers/message_transport.h"
#include "workers/outcome_recorder.h"
#include "workers/served_listener.h"
#include "workers/tls_session.h"
#include "workers/zlib_stream.h"

namespace thriftd {

class Connection;
class ServiceTag;

/// What a connection needs from its worker (WorkerRuntime; a test double in
/// unit tests). Called on the thread serving the connection; several
/// connections call at once under the thread kind.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual const WorkerSettings& settings() const = 0;
  /// A call reached `method` (the processor's literal "Service.method");
  /// `started_ns` is its start on MonotonicNanos().
  virtual void OnCallStart(const char* method, std::int64_t started_ns) = 0;
  /// A call ended: `method` null when it reached none (unknown method,
  /// unreadable request); `now_ns` is its end on MonotonicNanos().
  virtual void RecordCall(const char* method, CallRecord& call, const Connection& connection,
                          std::int64_t now_ns) = 0;
};

class Connection final : public ThriftConnection, private MessageTransport::Sink {
 public:
  /// Takes the accepted, non-blocking `fd`, served as `listener`, the
  /// listener it came from (which must outlive it), says: its settings and
  /// its processor factory. `carried` is the start of the client's next
  /// message, read by the worker that handed it over. With `tls` (a session
  /// on `fd`), the connection speaks TLS; its handshake must finish within
  /// the listener's tls_handshake_timeout (0: no limit). Throws what the
  /// App's processor factory throws.
  Connection(UniqueFd fd, ConnectionHost& host, const ServedListener& listener,
             std::string_view carried = {}, std::unique_ptr<TlsSession> tls = nullptr);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ThriftConnection.
  int fd() const override { return fd_.get(); }
  /// Serves until the connection ends (kClosed, also when `waiter` answers
  /// kStop inside a message: a quick stop) or `waiter` answers kIdle or kStop
  /// between messages (kIdle). Waits only through `waiter`.
  Outcome Serve(IoWaiter& waiter) override;
  const char* CurrentMethod() const override { return method_.load(std::memory_order_acquire); }

  /// Where a connection stands after a turn.
  enum class Phase {
    kIdle,          ///< between messages, nothing to send: holds no buffers
    kHandshake,     ///< TLS: the handshake is under way (no message yet)
    kPartial,       ///< the start of a message has arrived, not all of it
    kWriteBlocked,  ///< replies are waiting for the client to read
    kClosed,        ///< finished (the reason is logged): unregister, then destroy
  };
  /// No message under way (a TLS handshake is none): a stop may close it at once.
  static bool BetweenMessages(Phase phase) {
    return phase == Phase::kIdle || phase == Phase::kHandshake;
  }
  /// One turn: reads what has arrived, serves every message there whole,
  /// sends what the socket takes. Never waits (a handler may take its
  /// time). *progressed says whether any byte moved either way.
  Phase RunTurn(bool* progressed);
  /// The poller reported the peer's close or a socket error with the event
  /// that brought this turn: from now on a turn reads on past a short read,
  /// to the end of file (or EAGAIN). An edge-triggered poller reports data
  /// and the end of file that came with it as one event, and none after.
  void OnPeerHangUp() { read_to_end_ = true; }
  /// Ends the connection (after a client timeout, a stop's deadline): logs
  /// why, at debug level or as a warning. The descriptor stays open until
  /// the connection is destroyed, so the caller can unregister it first.
  Phase Close(const std::string& why, bool warn);

  /// TLS: when the handshake must have finished, on MonotonicMillis(); 0
  /// for a plain connection or no limit.
  std::int64_t handshake_deadline_ms() const { return handshake_deadline_ms_; }
  /// TLS: the handshake has not finished yet.
  bool in_handshake() const { return tls_ && !tls_->established(); }
  /// The verified client certificate's subject (RFC 2253), empty without
  /// one (or without TLS). Set once the handshake is done.
  const std::string& tls_subject() const { return tls_subject_; }

  /// Whether the connection can move to another worker now: not closed, no
  /// reply owed, and at most kMaxChannelText bytes of a next message held.
  bool CanHandOver() const;
  /// The settings of the listener it came from; their key names the
  /// listener in a hand-over.
  const ListenerSettings& listener() const { return listener_.settings; }
  /// Gives up the descriptor for a hand-over, with the bytes of the next
  /// message already read (*carried). Only when CanHandOver().
  UniqueFd ReleaseForHandOver(std::string* carried);

  /// The peer, as the logs name it: "127.0.0.1:5555", "unix socket".
  std::string Peer() const override { return SocketAddressText(peer_); }
  /// Bytes held: received and not yet served, and waiting to be sent.
  std::size_t buffered_in() const { return in_.size(); }
  std::size_t buffered_out() const { return out_.size(); }
  bool holds_buffers() const { return in_.holds_block() || out_.holds_block(); }

  /// Called by the processor event handler around each call: `method` is
  /// the processor's literal "Service.method".
  void OnCallStart(const char* method);
  void OnCallEnd();
  /// The named service the current message goes to (null: the App's
  /// default service), set by the service dispatcher (workers/services.h)
  /// before the service's processor runs; its calls are counted, watched
  /// and reported as "NAME:Service.method", and logged under NAME.
  void SetService(const ServiceTag* service) { service_ = service; }
  void* app_call_context = nullptr;  ///< the App's own event handler's context

 private:
  enum class Fill { kData, kNothing, kPeerClosed, kError };
  /// Receives what has arrived, up to what the current message needs or
  /// the read-ahead limit.
  Fill Receive(bool* progressed);
  /// recv() into `room`; on the zlib transport, the bytes inflated from
  /// what the socket holds (-1 with zlib_error_ set when they do not inflate).
  ssize_t ReadSome(std::uint8_t* room, std::size_t length);
  /// Serves every message held whole; true when it stopped early because
  /// replies are piling up.
  bool ServeHeld();
  void ServeMessage(std::size_t length);
  /// Resets the per-call state for a message of `length` bytes.
  void BeginMessage(std::size_t length);
  /// MessageTransport::Sink: replies are appended, then sent as far as
  /// the socket takes them.
  void Write(const std::uint8_t* bytes, std::uint32_t length) override;
  void Flush() override;
  /// Sends held output without waiting; false when the connection broke.
  bool SendHeld(bool* progressed);
  /// recv(2) and send(2), through the TLS session when there is one.
  ssize_t ReceiveSome(std::uint8_t* buffer, std::size_t length);
  ssize_t SendSome(const std::uint8_t* bytes, std::size_t length);
  /// Moves a TLS handshake on: kHandshake while it waits for the socket,
  /// kClosed when it failed, kIdle when done.
  Phase Handshake(bool* progressed);
  /// Why a receive or send failed, for the log: OpenSSL's reason for a TLS
  /// failure, strerror otherwise.
  std::string FailureText(const char* operation, int err) const;
  /// The poll(2) events the connection waits for in `phase` (Serve).
  short EventsFor(Phase phase) const;
  Phase PhaseNow();
  /// Drops what was received and gives its block back (closed).
  void DropInput();
  /// A message that reached no method (unknown name, unreadable request).
  void RecordUnlistedCall(CallOutcome outcome);
  void Record(const char* method, std::string_view shown, CallOutcome outcome);

  ConnectionHost& host_;
  const ServedListener& listener_;
  UniqueFd fd_;
  SocketAddress peer_;  // taken at the start: after the peer closes, nobody knows it
  ByteBuffer in_;       // on the zlib transport: inflated
  ByteBuffer out_;
  std::unique_ptr<ZlibStream> zlib_;  // the zlib transport's streams; null on the others
  ByteBuffer compressed_in_;          // received and not yet inflated (zlib)
  std::string zlib_error_;            // why the client's zlib stream was refused
  MessageScanner scanner_;
  int header_frame_offset_;  // where a message's header frame starts; -1: none (HeaderFrameOffset)
  std::size_t scan_need_ = 0;  // bytes the current message needs, as last scanned
  bool more_to_read_ = false;  // the last receive stopped with room full, not EAGAIN
  bool peer_closed_ = false;   // end of file seen
  bool read_to_end_ = false;   // the peer hung up: a short read is not the last word
  bool closed_ = false;
  bool serving_message_ = false;  // the processor runs: its window points into in_
  std::uint64_t bytes_out_ = 0;
  std::shared_ptr<MessageTransport> transport_;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol_;
  std::shared_ptr<OutcomeRecorder> output_;  // protocol_, watched for the reply's outcome
  std::shared_ptr<apache::thrift::TProcessor> processor_;
  const ServiceTag* service_ = nullptr;  // the current message's, if named
  std::unique_ptr<TlsSession> tls_;      // null: plain
  std::int64_t handshake_deadline_ms_ = 0;
  std::string tls_subject_;
  std::atomic<const char*> method_{nullptr};  // read by the fiber watchdog thread
  bool call_observed_ = false;                // this message reached a method
  const char* call_name_ = "";                // its "Service.method", as the processor says
  std::int64_t call_started_ns_ = 0;
  // When its reply went to the socket (its last flush); 0: none yet. The
  // call's duration ends here, not after the App's and Thrift's work that
  // follows the reply, which the client does not wait for.
  std::int64_t call_replied_ns_ = 0;
  std::uint64_t out_at_start_ = 0;
  std::size_t message_length_ = 0;
};

}  // namespace thriftd

#endif  // THRIFTD_WORKERS_CONNECTION_H_
