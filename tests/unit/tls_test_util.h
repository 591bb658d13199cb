// Test certificates made with OpenSSL's API (no CLI in unit tests): a P-256
// key and a self-signed certificate for it, written as PEM files.
#ifndef THRIFTD_TESTS_UNIT_TLS_TEST_UTIL_H_
#define THRIFTD_TESTS_UNIT_TLS_TEST_UTIL_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "tests/unit/test_util.h"

namespace thriftd_test {

struct TestCertificate {
  std::string cert;  ///< PEM certificate path
  std::string key;   ///< PEM key path
};

/// Writes NAME.pem and NAME.key into `dir`: a self-signed certificate whose
/// subject is CN=`common_name`, valid for a day.
inline TestCertificate MakeSelfSigned(const TempDir& dir, const std::string& name,
                                      const std::string& common_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x509 = X509_new();
  if (key == nullptr || x509 == nullptr) throw std::runtime_error("OpenSSL: out of memory");
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509), -60);
  X509_gmtime_adj(X509_getm_notAfter(x509), 24 * 3600);
  X509_set_pubkey(x509, key);
  X509_NAME* subject = X509_get_subject_name(x509);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x509, subject);
  if (X509_sign(x509, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  TestCertificate made{dir.Join(name + ".pem"), dir.Join(name + ".key")};
  FILE* cert_file = std::fopen(made.cert.c_str(), "w");
  FILE* key_file = std::fopen(made.key.c_str(), "w");
  if (cert_file == nullptr || key_file == nullptr) throw std::runtime_error("fopen failed");
  PEM_write_X509(cert_file, x509);
  PEM_write_PrivateKey(key_file, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(cert_file);
  std::fclose(key_file);
  X509_free(x509);
  EVP_PKEY_free(key);
  return made;
}

}  // namespace thriftd_test

#endif  // THRIFTD_TESTS_UNIT_TLS_TEST_UTIL_H_
