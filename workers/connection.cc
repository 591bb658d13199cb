#include "workers/connection.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TTransportException.h>

#include "src/base/channel.h"
#include "src/base/clock.h"
#include "src/base/log.h"
#include "workers/call_observer.h"
#include "workers/header_inflate.h"
#include "workers/services.h"
#include "workers/thrift_factories.h"
#include "workers/zlib_stream.h"

namespace thriftd {

using apache::thrift::TConnectionInfo;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TTransportException;

namespace {

// How far ahead of the current message a turn reads: enough for a burst of
// pipelined calls, little enough that one client cannot fill the worker.
constexpr std::size_t kReadAhead = 64 * 1024;
// Replies held for a client that does not read them: past this, the
// connection serves no further message until the client catches up.
constexpr std::size_t kMaxHeldOutput = 256 * 1024;

int TimeoutMs(double seconds) {
  return seconds > 0 ? static_cast<int>(std::ceil(seconds * 1000)) : -1;
}

// A send that failed because the client went away: no warning.
bool ClientWentAway(int err) { return err == EPIPE || err == ECONNRESET; }

}  // namespace

Connection::Connection(UniqueFd fd, ConnectionHost& host, const ServedListener& listener,
                       std::string_view carried, std::unique_ptr<TlsSession> tls)
    : host_(host),
      listener_(listener),
      fd_(std::move(fd)),
      peer_(PeerAddressOf(fd_.get())),
      scanner_(MakeScanner(host.settings(), listener.settings)),
      header_frame_offset_(HeaderFrameOffset(listener.settings)),
      tls_(std::move(tls)) {
  if (CompressedStream(listener.settings)) zlib_ = std::make_unique<ZlibStream>();
  if (tls_ && listener.settings.tls_handshake_timeout > 0) {
    handshake_deadline_ms_ = MonotonicMillis() + TimeoutMs(listener.settings.tls_handshake_timeout);
  }
  transport_ = std::make_shared<MessageTransport>(static_cast<MessageTransport::Sink&>(*this));
  protocol_ = MakeProtocol(host.settings(), listener.settings, transport_);
  output_ = std::make_shared<OutcomeRecorder>(protocol_);
  TConnectionInfo info{protocol_, output_, transport_};
  processor_ = listener.service.factory->getProcessor(info);
  // A multiplexed listener's dispatcher calls no event handler: it puts the
  // observer on each service's processor itself.
  if (!listener.settings.multiplexed) CallObserver::Attach(*processor_);
  if (!carried.empty())
    in_.Append(reinterpret_cast<const std::uint8_t*>(carried.data()), carried.size());
}

Connection::~Connection() = default;

// --- turns --------------------------------------------------------------------

Connection::Phase Connection::RunTurn(bool* progressed) {
  *progressed = false;
  if (closed_) return Phase::kClosed;
  if (tls_ && !tls_->established()) {
    Phase phase = Handshake(progressed);
    if (phase != Phase::kIdle) return phase;
  }
  // Replies owed from the last turn go first: they were asked for first.
  if (!SendHeld(progressed)) return Phase::kClosed;
  for (;;) {
    if (Receive(progressed) == Fill::kError) return Phase::kClosed;
    bool stopped_for_replies = ServeHeld();
    if (closed_ || !SendHeld(progressed)) return Phase::kClosed;
    // Replies pile up (the send hit EAGAIN): the socket's next "writable"
    // brings the next turn. Replies that went after all: serve on.
    if (out_.size() >= kMaxHeldOutput) break;
    if (stopped_for_replies) continue;
    if (!more_to_read_) break;
  }
  if (peer_closed_ && out_.empty())
    return Close(in_.empty() ? "peer closed" : "peer closed mid-message", false);
  return PhaseNow();
}

Connection::Phase Connection::Handshake(bool* progressed) {
  switch (tls_->Handshake()) {
    case TlsSession::Step::kDone:
      *progressed = true;
      tls_subject_ = tls_->PeerSubject();
      THRIFTD_LOG(kDebug) << "TLS handshake done with " << Peer() << " (" << tls_->Version()
                          << (tls_subject_.empty() ? "" : ", client " + tls_subject_) << ")";
      return Phase::kIdle;
    case TlsSession::Step::kWouldBlock:
      return Phase::kHandshake;
    case TlsSession::Step::kClosed:
      return Close("peer closed during the TLS handshake", false);
    case TlsSession::Step::kFailed:
      break;
  }
  return Close("TLS handshake failed: " + tls_->error(), true);
}

Connection::Phase Connection::PhaseNow() {
  if (!out_.empty()) return Phase::kWriteBlocked;
  if (!in_.empty() || !compressed_in_.empty()) return Phase::kPartial;
  in_.Release();
  out_.Release();
  return Phase::kIdle;
}

Connection::Fill Connection::Receive(bool* progressed) {
  Fill result = Fill::kNothing;
  for (;;) {
    // Room for the whole current message when the scanner knows its length,
    // and for some read-ahead past it (past what the scanner needs so far,
    // not up to it: a message walked field by field needs a few bytes more
    // at a time, and was read a few bytes per recv()).
    std::size_t limit = scan_need_ + kReadAhead;
    if (in_.size() >= limit) {
      more_to_read_ = true;  // serve what is here first, then read on
      return result;
    }
    in_.Reserve(std::max(scan_need_, in_.size() + 1));
    std::size_t room = std::min(in_.room_size(), limit - in_.size());
    ssize_t n = ReadSome(in_.room(), room);
    if (n > 0) {
      in_.Commit(static_cast<std::size_t>(n));
      *progressed = true;
      result = Fill::kData;
      // A short read emptied the socket: an edge-triggered poller will say
      // when more comes (but once the peer hung up no more comes, and the
      // end of file is still to be read). A full one may have left more
      // behind: read on, unless the block is full and the scanner has not
      // looked at it yet (it says how large a block the message needs).
      more_to_read_ = static_cast<std::size_t>(n) == room;
      if (!more_to_read_) {
        // TLS hands out one record per read: a short one says nothing of
        // what waits behind it, in the socket or inside OpenSSL, where no
        // poller sees it. Read on, unless OpenSSL holds nothing and its
        // own last read emptied the socket.
        if (!read_to_end_ && (!tls_ || tls_->drained())) return result;
        continue;
      }
      if (in_.room_size() == 0 && scan_need_ <= in_.size()) return result;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    more_to_read_ = false;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return result;
    if (n < 0 && !zlib_error_.empty()) {
      Close("protocol error: " + zlib_error_, true);
      return Fill::kError;
    }
    if (n == 0 || errno == ECONNRESET) {
      peer_closed_ = true;
      return Fill::kPeerClosed;
    }
    Close(FailureText("recv", errno), true);
    return Fill::kError;
  }
}

ssize_t Connection::ReadSome(std::uint8_t* room, std::size_t length) {
  if (!zlib_) return ReceiveSome(room, length);
  // As recv() would, with the inflated bytes: short only when the socket
  // is empty (or closed), since an edge-triggered poller says no more.
  std::size_t written = 0;
  for (;;) {
    written += zlib_->Inflate(compressed_in_, room + written, length - written, &zlib_error_);
    if (!zlib_error_.empty()) {
      compressed_in_.Consume(compressed_in_.size());
      compressed_in_.Release();
      errno = EPROTO;
      return -1;
    }
    if (written == length) return static_cast<ssize_t>(written);
    compressed_in_.Reserve(compressed_in_.size() + 1);
    ssize_t n = ReceiveSome(compressed_in_.room(), compressed_in_.room_size());
    if (n > 0) {
      compressed_in_.Commit(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (compressed_in_.empty()) compressed_in_.Release();
    // The socket is empty or closed: what was inflated first; the next
    // read finds the same end again.
    if (written > 0) return static_cast<ssize_t>(written);
    return n;
  }
}

bool Connection::ServeHeld() {
  while (!closed_) {
    if (out_.size() >= kMaxHeldOutput) return true;
    MessageScanner::Result scan = scanner_.Scan(in_.data(), in_.size());
    switch (scan.kind) {
      case MessageScanner::Result::kIncomplete:
        scan_need_ = scan.length;
        return false;
      case MessageScanner::Result::kSkip:
        in_.Consume(scan.length);
        scanner_.Reset();
        break;
      case MessageScanner::Result::kError:
        BeginMessage(in_.size());
        RecordUnlistedCall(CallOutcome::kProtocolError);
        Close("protocol error: " + scan.error, true);
        return false;
      case MessageScanner::Result::kComplete:
        scanner_.Reset();
        scan_need_ = 0;
        ServeMessage(scan.length);
        break;
    }
  }
  return false;
}

void Connection::BeginMessage(std::size_t length) {
  message_length_ = length;
  output_->Reset();
  service_ = listener_.service.tag.get();  // a multiplexed dispatcher sets each call's
  call_observed_ = false;
  call_started_ns_ = MonotonicNanos();
  call_replied_ns_ = 0;
  out_at_start_ = bytes_out_;
}

void Connection::ServeMessage(std::size_t length) {
  // A header frame the zlib transform compressed is inflated here, not by
  // Thrift (see workers/header_inflate.h): the processor reads `inflated`.
  std::string inflated;
  if (header_frame_offset_ >= 0) {
    Status status =
        InflateHeaderFrame(in_.data(), length, static_cast<std::size_t>(header_frame_offset_),
                           host_.settings().thrift_max_frame_size, &inflated);
    if (!status.ok()) {
      BeginMessage(length);
      in_.Consume(length);
      RecordUnlistedCall(CallOutcome::kProtocolError);
      Close("protocol error: " + status.message(), true);
      return;
    }
  }
  const std::uint8_t* window = in_.data();
  std::size_t window_length = length;
  if (!inflated.empty()) {
    window = reinterpret_cast<const std::uint8_t*>(inflated.data());
    window_length = inflated.size();
  }
  transport_->SetWindow(window, window_length);
  serving_message_ = true;  // the window may point into in_: Close() leaves it
  BeginMessage(length);
  std::string failure;
  bool warn = true;
  bool empty_message = false;
  try {
    if (!processor_->process(protocol_, output_, this)) {
      failure = "the processor ended the connection";
      warn = false;
    }
  } catch (const TProtocolException& error) {
    if (!call_observed_) RecordUnlistedCall(CallOutcome::kProtocolError);
    failure = std::string("protocol error: ") + error.what();
  } catch (const TTransportException& error) {
    failure = error.what();
    warn = error.getType() != TTransportException::NOT_OPEN;  // the client went away
    // A frame that holds no message: Apache Thrift's header clients say
    // goodbye with one. Nothing to answer, nothing wrong.
    empty_message = error.getType() == TTransportException::END_OF_FILE &&
                    transport_->consumed() == window_length && !call_observed_;
  } catch (const std::exception& error) {
    failure = error.what();
  } catch (...) {
    failure = "the App threw something that is not a std::exception";
  }
  serving_message_ = false;
  std::size_t consumed = transport_->consumed();
  in_.Consume(length);
  if (closed_) DropInput();  // closed by a failed send while the processor ran
  if (empty_message) {
    THRIFTD_LOG(kDebug) << "an empty frame from " << Peer() << " (a client's goodbye)";
    return;
  }
  if (!failure.empty()) {
    Close(failure, warn);
    return;
  }
  if (!call_observed_) RecordUnlistedCall(output_->outcome());
  if (consumed != window_length) {
    Close("protocol error: the message's " + std::to_string(window_length) + " bytes held " +
              std::to_string(consumed) + " of content",
          true);
  }
}

// --- output -------------------------------------------------------------------

void Connection::Write(const std::uint8_t* bytes, std::uint32_t length) {
  if (closed_) return;  // Flush() reports it
  bytes_out_ += length;
  if (zlib_) {
    zlib_->Deflate(bytes, length, out_);
    return;
  }
  if (length >= BufferPool::kBufferSize) {
    // A large reply: straight to the socket as far as it takes it, with no
    // copy, once what is held before it has gone.
    bool ignored = false;
    if (SendHeld(&ignored) && out_.empty()) {
      while (length > 0) {
        ssize_t n = SendSome(bytes, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // full, or broken: Flush() finds out
        bytes += n;
        length -= static_cast<std::uint32_t>(n);
      }
    }
  }
  if (length > 0 && !closed_) out_.Append(bytes, length);
}

void Connection::Flush() {
  // Before the send: a reply the client has whole was flushed before it.
  call_replied_ns_ = MonotonicNanos();
  if (zlib_ && !closed_) zlib_->Flush(out_);
  bool ignored = false;
  if (!SendHeld(&ignored)) {
    throw TTransportException(TTransportException::NOT_OPEN, "send: the client went away");
  }
}

bool Connection::SendHeld(bool* progressed) {
  while (!out_.empty()) {
    ssize_t n = SendSome(out_.data(), out_.size());
    if (n > 0) {
      out_.Consume(static_cast<std::size_t>(n));
      *progressed = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    int err = n < 0 ? errno : EPIPE;
    Close(FailureText("send", err), !ClientWentAway(err));
    return false;
  }
  return !closed_;
}

ssize_t Connection::ReceiveSome(std::uint8_t* buffer, std::size_t length) {
  if (tls_) return tls_->Read(buffer, length);
  return recv(fd_.get(), buffer, length, 0);
}

ssize_t Connection::SendSome(const std::uint8_t* bytes, std::size_t length) {
  if (tls_) return tls_->Write(bytes, length);
  return send(fd_.get(), bytes, length, MSG_NOSIGNAL);
}

std::string Connection::FailureText(const char* operation, int err) const {
  if (tls_ && err == EPROTO) return std::string("TLS ") + operation + ": " + tls_->error();
  return std::string(operation) + ": " + std::strerror(err);
}

// --- the end, and hand-over ---------------------------------------------------

Connection::Phase Connection::Close(const std::string& why, bool warn) {
  if (closed_) return Phase::kClosed;
  closed_ = true;
  if (warn) {
    THRIFTD_LOG(kWarning) << "closing connection from " << Peer() << ": " << why;
  } else {
    THRIFTD_LOG(kDebug) << "closing connection from " << Peer() << ": " << why;
  }
  out_.Consume(out_.size());
  out_.Release();
  if (tls_) tls_->Shutdown();  // close_notify, if the socket takes it
  // Not under a processor still reading its message (a failed send in
  // Write or Flush closes): ServeMessage drops it once the processor is done.
  if (!serving_message_) DropInput();
  // The peer learns now. ENOTCONN (it reset first) changes nothing: the
  // descriptor itself closes when the connection is destroyed.
  if (fd_.valid() && shutdown(fd_.get(), SHUT_RDWR) < 0 && errno != ENOTCONN) {
    THRIFTD_LOG(kDebug) << "shutdown(" << Peer() << "): " << std::strerror(errno);
  }
  return Phase::kClosed;
}

void Connection::DropInput() {
  in_.Consume(in_.size());
  in_.Release();
}

bool Connection::CanHandOver() const {
  // The channel message carries the listener's key too (HandOverChannel::Give).
  // Neither a zlib stream's state nor OpenSSL's can move to another process.
  return !closed_ && !zlib_ && !tls_ && out_.empty() &&
         in_.size() + listener_.settings.key.size() + 1 <= kMaxChannelText;
}

UniqueFd Connection::ReleaseForHandOver(std::string* carried) {
  carried->assign(reinterpret_cast<const char*>(in_.data()), in_.size());
  in_.Consume(in_.size());
  in_.Release();
  out_.Release();
  closed_ = true;
  return std::move(fd_);
}

// --- blocking serving (sync and custom kinds) ---------------------------------

ThriftConnection::Outcome Connection::Serve(IoWaiter& waiter) {
  const int client_timeout_ms = TimeoutMs(host_.settings().thrift_client_timeout);
  for (;;) {
    bool progressed = false;
    Phase phase = RunTurn(&progressed);
    if (phase == Phase::kClosed) return Outcome::kClosed;
    bool between_messages = BetweenMessages(phase);
    // A handshake has its own deadline (none: it waits as long as it takes,
    // as in the engine), counted from the accept, not from this wait.
    int timeout_ms = client_timeout_ms;
    if (phase == Phase::kHandshake) {
      timeout_ms = handshake_deadline_ms_ == 0
                       ? -1
                       : static_cast<int>(
                             std::max<std::int64_t>(0, handshake_deadline_ms_ - MonotonicMillis()));
    }
    switch (waiter.Wait(fd_.get(), EventsFor(phase), timeout_ms, between_messages)) {
      case IoWaiter::Result::kReady:
        break;
      case IoWaiter::Result::kIdle:
        if (between_messages) return Outcome::kIdle;  // the kind closes it or hands it over
        break;  // a message under way is not given back: wait again
      case IoWaiter::Result::kStop:
        if (between_messages) return Outcome::kIdle;  // the kind closes it or hands it over
        // Inside a message, a quick stop: the worker stops at once, without
        // the rest of the message or the replies owed.
        Close("the worker stops at once", true);
        return Outcome::kClosed;
      case IoWaiter::Result::kTimeout:
        if (phase == Phase::kHandshake) {
          Close("TLS handshake not finished within tls_handshake_timeout", false);
          return Outcome::kClosed;
        }
        Close(phase == Phase::kIdle      ? "idle past thrift_client_timeout"
              : phase == Phase::kPartial ? "no progress within thrift_client_timeout"
                                         : "client not reading within thrift_client_timeout",
              false);
        return Outcome::kClosed;
    }
  }
}

short Connection::EventsFor(Phase phase) const {
  // TLS may need to read to send, or to send to read: the session says
  // which the last operation that would block waits for.
  if (tls_ && (phase == Phase::kHandshake || phase == Phase::kWriteBlocked))
    return tls_->wants_read() ? POLLIN : POLLOUT;
  return phase == Phase::kWriteBlocked ? POLLOUT : POLLIN;
}

// --- calls --------------------------------------------------------------------

void Connection::OnCallStart(const char* method) {
  call_observed_ = true;
  call_name_ = method;
  // A named service's calls are counted and reported as "NAME:Service.method".
  const char* key = service_ != nullptr ? service_->Qualify(method) : method;
  // Release: a named service's name was built by this thread (ServiceTag),
  // and the fiber watchdog's thread reads it through the pointer.
  method_.store(key, std::memory_order_release);
  host_.OnCallStart(key, call_started_ns_);
}

void Connection::OnCallEnd() {
  const char* key = method_.exchange(nullptr, std::memory_order_relaxed);
  Record(key, key != nullptr ? call_name_ : "", output_->outcome());
}

void Connection::RecordUnlistedCall(CallOutcome outcome) {
  Record(nullptr, output_->replied() ? std::string_view(output_->name()) : std::string_view(),
         outcome);
}

void Connection::Record(const char* method, std::string_view shown, CallOutcome outcome) {
  std::int64_t now_ns = MonotonicNanos();
  CallRecord call;
  call.method = shown;
  if (service_ != nullptr) call.service = service_->name();
  call.seqid = output_->seqid();
  call.outcome = outcome;
  std::int64_t ended_ns = call_replied_ns_ != 0 ? call_replied_ns_ : now_ns;  // oneway: now
  call.duration_us = (ended_ns - call_started_ns_) / 1000;
  call.bytes_in = message_length_;
  call.bytes_out = bytes_out_ - out_at_start_;
  host_.RecordCall(method, call, *this, now_ns);
}

}  // namespace thriftd
