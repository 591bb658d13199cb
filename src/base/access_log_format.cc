#include "src/base/access_log_format.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "src/base/json_string.h"

namespace thriftd {
namespace {

// "Service.method" -> ("Service", "method"); without a dot the service is "".
std::pair<std::string_view, std::string_view> SplitMethod(std::string_view full) {
  size_t dot = full.find('.');
  if (dot == std::string_view::npos) return {"-", full};  // no known service
  return {full.substr(0, dot), full.substr(dot + 1)};
}

struct tm LocalTime(std::int64_t unix_time_us) {
  time_t seconds = static_cast<time_t>(unix_time_us / 1000000);
  struct tm tm;
  localtime_r(&seconds, &tm);
  return tm;
}

// The common log format's time (30/Nov/2026:19:53:14 +0000).
void AppendTime(std::string* out, std::int64_t unix_time_us) {
  struct tm tm = LocalTime(unix_time_us);
  char text[64];
  out->append(text, strftime(text, sizeof text, "%d/%b/%Y:%H:%M:%S %z", &tm));
}

// ISO 8601 with milliseconds and the UTC offset
// (2026-11-30T19:53:14.123+01:00), as log collectors parse a JSON line's
// time; the text format keeps the common log format's.
void AppendIsoTime(std::string* out, std::int64_t unix_time_us) {
  struct tm tm = LocalTime(unix_time_us);
  char text[64];
  out->append(text, strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm));
  long offset = tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff;
  int n = std::snprintf(text, sizeof text, ".%03d%c%02ld:%02ld",
                        static_cast<int>(unix_time_us % 1000000 / 1000),
                        tm.tm_gmtoff < 0 ? '-' : '+', offset / 3600, offset % 3600 / 60);
  if (n > 0) out->append(text, std::min(static_cast<size_t>(n), sizeof text - 1));
}

// A field a client chose (the method name it asked for) in a text line:
// a control byte, a quote or a backslash as \xHH, as nginx logs a request
// line. Otherwise a name with a newline in it would forge a line of its
// own, and one with a quote would end the default format's quoted field.
void AppendEscaped(std::string* out, std::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '"' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02X", byte);
      out->append(escaped);
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

Status AccessLogFormat::Parse(const std::string& format, AccessLogFormat* out) {
  AccessLogFormat parsed;
  if (format == "json") {
    parsed.json_ = true;
    *out = std::move(parsed);
    return Status::Ok();
  }
  static const std::map<std::string, Field> kFields = {{"time", Field::kTime},
                                                       {"peer", Field::kPeer},
                                                       {"service", Field::kService},
                                                       {"method", Field::kMethod},
                                                       {"seqid", Field::kSeqid},
                                                       {"outcome", Field::kOutcome},
                                                       {"duration_us", Field::kDurationUs},
                                                       {"bytes_in", Field::kBytesIn},
                                                       {"bytes_out", Field::kBytesOut},
                                                       {"pid", Field::kPid},
                                                       {"tls_subject", Field::kTlsSubject}};
  std::string literal;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if ((c == '{' || c == '}') && i + 1 < format.size() && format[i + 1] == c) {
      literal.push_back(c);  // {{ or }}
      ++i;
      continue;
    }
    if (c == '}') return Status::Error("unpaired } at offset " + std::to_string(i));
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    size_t close = format.find('}', i);
    if (close == std::string::npos)
      return Status::Error("unpaired { at offset " + std::to_string(i));
    std::string name = format.substr(i + 1, close - i - 1);
    auto field = kFields.find(name);
    if (field == kFields.end()) {
      return Status::Error("unknown field {" + name +
                           "} (known: time, peer, service, method, seqid, outcome, duration_us, "
                           "bytes_in, bytes_out, pid, tls_subject)");
    }
    if (!literal.empty()) parsed.segments_.push_back({Field::kLiteral, std::move(literal)});
    literal.clear();
    parsed.segments_.push_back({field->second, ""});
    i = close;
  }
  if (!literal.empty()) parsed.segments_.push_back({Field::kLiteral, std::move(literal)});
  *out = std::move(parsed);
  return Status::Ok();
}

std::string AccessLogFormat::Format(const CallRecord& call, std::int64_t unix_time_us) const {
  auto [service, method] = SplitMethod(call.method);
  if (!call.service.empty()) service = call.service;
  std::string line;
  line.reserve(160);
  if (json_) {
    line.append("{\"time\":");
    std::string time;
    AppendIsoTime(&time, unix_time_us);
    AppendJsonString(&line, time);
    line.append(",\"peer\":");
    AppendJsonString(&line, call.peer);
    line.append(",\"service\":");
    AppendJsonString(&line, service);
    line.append(",\"method\":");
    AppendJsonString(&line, method);
    line.append(",\"seqid\":").append(std::to_string(call.seqid));
    line.append(",\"outcome\":\"").append(CallOutcomeName(call.outcome)).append("\"");
    line.append(",\"duration_us\":").append(std::to_string(call.duration_us));
    line.append(",\"bytes_in\":").append(std::to_string(call.bytes_in));
    line.append(",\"bytes_out\":").append(std::to_string(call.bytes_out));
    line.append(",\"pid\":").append(std::to_string(call.pid));
    if (!call.tls_subject.empty()) {
      line.append(",\"tls_subject\":");
      AppendJsonString(&line, call.tls_subject);
    }
    line.append("}\n");
    return line;
  }
  for (const Segment& segment : segments_) {
    switch (segment.field) {
      case Field::kLiteral:
        line.append(segment.literal);
        break;
      case Field::kTime:
        AppendTime(&line, unix_time_us);
        break;
      case Field::kPeer:
        AppendEscaped(&line, call.peer);
        break;
      case Field::kService:
        AppendEscaped(&line, service);
        break;
      case Field::kMethod:
        AppendEscaped(&line, method);
        break;
      case Field::kSeqid:
        line.append(std::to_string(call.seqid));
        break;
      case Field::kOutcome:
        line.append(CallOutcomeName(call.outcome));
        break;
      case Field::kDurationUs:
        line.append(std::to_string(call.duration_us));
        break;
      case Field::kBytesIn:
        line.append(std::to_string(call.bytes_in));
        break;
      case Field::kBytesOut:
        line.append(std::to_string(call.bytes_out));
        break;
      case Field::kPid:
        line.append(std::to_string(call.pid));
        break;
      case Field::kTlsSubject:
        if (call.tls_subject.empty()) {
          line.push_back('-');
        } else {
          AppendEscaped(&line, call.tls_subject);
        }
        break;
    }
  }
  line.push_back('\n');
  return line;
}

}  // namespace thriftd
