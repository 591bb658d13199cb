// TlsContext: what a configuration's files must be, and the errors naming
// the setting at fault.
#include "workers/tls_context.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "tests/unit/test_util.h"
#include "tests/unit/tls_test_util.h"

namespace thriftd {
namespace {

using thriftd_test::MakeSelfSigned;
using thriftd_test::TempDir;

struct Attempt {
  Status status;
  std::string setting;
  std::unique_ptr<TlsContext> context;
};

Attempt Build(const TlsOptions& options) {
  Attempt attempt;
  attempt.status = TlsContext::Create(options, &attempt.context, &attempt.setting);
  return attempt;
}

TEST_CASE("a certificate and its key make a context") {
  TempDir dir;
  auto server = MakeSelfSigned(dir, "server", "localhost");
  TlsOptions options;
  options.certfile = server.cert;
  options.keyfile = server.key;
  Attempt attempt = Build(options);
  REQUIRE(attempt.status.ok());
  CHECK(attempt.context->get() != nullptr);
}

TEST_CASE("listeners share a context when every option that makes one agrees") {
  TlsOptions a;
  a.certfile = "/etc/x.pem";
  TlsOptions b = a;
  CHECK(a == b);
  b.ca_certs = "/etc/ca.pem";
  CHECK(!(a == b));
  b = a;
  b.min_version = "TLSv1.3";
  CHECK(!(a == b));
}

TEST_CASE("a key in the certificate's own file is found there") {
  TempDir dir;
  auto server = MakeSelfSigned(dir, "server", "localhost");
  std::string both = dir.Write(
      "both.pem", thriftd_test::ReadFile(server.cert) + thriftd_test::ReadFile(server.key));
  TlsOptions options;
  options.certfile = both;
  CHECK(Build(options).status.ok());
}

TEST_CASE("each bad file is named with its setting") {
  TempDir dir;
  auto server = MakeSelfSigned(dir, "server", "localhost");
  auto other = MakeSelfSigned(dir, "other", "other");
  TlsOptions options;
  options.certfile = server.cert;
  options.keyfile = server.key;

  SUBCASE("a missing certificate") {
    options.certfile = dir.Join("missing.pem");
    Attempt attempt = Build(options);
    CHECK(attempt.setting == "certfile");
    CHECK(attempt.status.message() ==
          "cannot read " + options.certfile + ": No such file or directory");
  }
  SUBCASE("a certificate file holding no certificate") {
    options.certfile = dir.Write("empty.pem", "nothing here\n");
    Attempt attempt = Build(options);
    CHECK(attempt.setting == "certfile");
    CHECK(attempt.status.message().rfind(options.certfile + " holds no usable PEM certificate",
                                         0) == 0);
  }
  SUBCASE("the key of another certificate") {
    options.keyfile = other.key;
    Attempt attempt = Build(options);
    CHECK(attempt.setting == "keyfile");
    CHECK(attempt.status.message() ==
          other.key + " does not match the certificate in " + server.cert);
  }
  SUBCASE("a key file holding no key") {
    options.keyfile = dir.Write("bad.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
    Attempt attempt = Build(options);
    CHECK(attempt.setting == "keyfile");
    CHECK(attempt.status.message().rfind(options.keyfile + " holds no usable PEM private key", 0) ==
          0);
  }
  SUBCASE("a cipher list OpenSSL does not know") {
    options.ciphers = "NOT-A-CIPHER";
    Attempt attempt = Build(options);
    CHECK(attempt.setting == "ciphers");
    CHECK(attempt.status.message() == "no cipher OpenSSL knows in \"NOT-A-CIPHER\"");
  }
  SUBCASE("client certificates asked for with no CA to verify them") {
    options.cert_reqs = TlsOptions::ClientCert::kOptional;
    Attempt attempt = Build(options);
    CHECK(attempt.setting == "cert_reqs");
    CHECK(attempt.status.message() ==
          "\"optional\" needs ca_certs, the CAs that client certificates are verified against");
  }
  SUBCASE("a CA file that is missing") {
    options.cert_reqs = TlsOptions::ClientCert::kRequired;
    options.ca_certs = dir.Join("no-ca.pem");
    Attempt attempt = Build(options);
    CHECK(attempt.setting == "ca_certs");
    CHECK(attempt.status.message() ==
          "cannot read " + options.ca_certs + ": No such file or directory");
  }
}

}  // namespace
}  // namespace thriftd
