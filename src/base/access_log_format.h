// The access log's line format: a template with named fields in braces,
// compiled once, or "json" for JSON lines. Validated by the master when the
// configuration is read; used by workers for every call.
//
//   {time} {peer} {service} {method} {seqid} {outcome} {duration_us}
//   {bytes_in} {bytes_out} {pid} {tls_subject}    {{ and }} stand for braces
//
// {tls_subject} is the verified client certificate's subject in RFC 2253
// form ("CN=alice,O=Example"), "-" without one; JSON lines carry it as
// "tls_subject" only when there is one, so plain connections' lines stay as
// they were.
//
// {service} is the name a named service is exported under (`service`,
// multiplexed calls), else the IDL's service the processor names.
//
// In a template's line, the peer, service and method show control bytes,
// quotes and backslashes as \xHH: the method is whatever name a client
// asked for, and must not break the line (or the default format's quotes).
#ifndef THRIFTD_SRC_BASE_ACCESS_LOG_FORMAT_H_
#define THRIFTD_SRC_BASE_ACCESS_LOG_FORMAT_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/scoreboard.h"
#include "src/base/status.h"

namespace thriftd {

/// One call, as the access log sees it.
struct CallRecord {
  std::string_view peer;    ///< "127.0.0.1:5555", "unix socket"
  std::string_view method;  ///< "Service.method" as the processor names it, or the requested name
  /// The name the App exports the service under, for a named service's
  /// call; empty: the service is the processor's ("Service" of `method`).
  std::string_view service;
  std::int32_t seqid = 0;
  CallOutcome outcome = CallOutcome::kOk;
  std::int64_t duration_us = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  pid_t pid = 0;
  std::string_view tls_subject;  ///< the client certificate's subject; empty: none
};

class AccessLogFormat {
 public:
  /// "json", or a template; errors name the unknown field or the unpaired brace.
  static Status Parse(const std::string& format, AccessLogFormat* out);

  /// One line, newline included.
  std::string Format(const CallRecord& call, std::int64_t unix_time_us) const;

 private:
  enum class Field {
    kLiteral,
    kTime,
    kPeer,
    kService,
    kMethod,
    kSeqid,
    kOutcome,
    kDurationUs,
    kBytesIn,
    kBytesOut,
    kPid,
    kTlsSubject
  };
  struct Segment {
    Field field;
    std::string literal;
  };
  bool json_ = false;
  std::vector<Segment> segments_;
};

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_ACCESS_LOG_FORMAT_H_
