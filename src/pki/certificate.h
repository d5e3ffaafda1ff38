// X.509 certificates: parsing, PEM, inspection (what `berth ca ls` and error messages show) and
// verification against a CA. A Certificate is an immutable, cheaply copyable handle.
//
// Thread-safety: const methods may be called from any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "pki/key.h"

struct x509_st;  // OpenSSL's X509

namespace berth::pki {

using SystemTime = std::chrono::system_clock::time_point;

enum class CertificateKind { Ca, Server, Client };
std::string_view certificateKindName(CertificateKind kind);  // "ca", "server", "client"
std::optional<CertificateKind> parseCertificateKind(std::string_view name);

struct CertificateInfo {
  std::string subject;  // RFC 2253, e.g. "CN=web-1"
  std::string commonName;
  std::string issuer;  // RFC 2253
  std::string serial;  // upper-case hex, no separators
  SystemTime notBefore;
  SystemTime notAfter;
  std::vector<std::string> dnsNames;     // subjectAltName DNS entries, in order
  std::vector<std::string> ipAddresses;  // subjectAltName IP entries, textual, in order
  bool isCa = false;
  std::optional<long> pathLength;  // basicConstraints pathlen of a CA
  bool keyCertSign = false;        // keyUsage
  bool serverAuth = false;         // extendedKeyUsage
  bool clientAuth = false;
  std::string subjectKeyId;        // hex
  std::string authorityKeyId;      // hex; empty when absent
  std::string sha256Fingerprint;   // "AB:CD:..." over the DER encoding
  std::optional<KeyType> keyType;  // nullopt for keys berth does not make
  // kind() infers what the certificate is for: Ca if isCa, else Server if serverAuth, else Client.
  CertificateKind kind() const;
};

class Certificate {
 public:
  // Parses the first certificate of a PEM text. Errors: InvalidArgument.
  static Result<Certificate> fromPem(std::string_view pem);
  static Result<Certificate> load(const std::filesystem::path& path);

  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&& other) noexcept;
  Certificate& operator=(Certificate&& other) noexcept;
  ~Certificate();

  std::string toPem() const;
  CertificateInfo info() const;
  // Whether `key` is the private half of this certificate's public key.
  bool matches(const PrivateKey& key) const;
  // Writes toPem() atomically with mode 0644.
  Status save(const std::filesystem::path& path) const;

  x509_st* native() const { return cert_; }
  // Takes ownership of an X509 (for src/pki).
  static Certificate adopt(x509_st* cert) { return Certificate(cert); }

 private:
  explicit Certificate(x509_st* cert) : cert_(cert) {}
  x509_st* cert_;
};

struct VerifyOptions {
  SystemTime at = std::chrono::system_clock::now();  // the moment validity is checked for
  // When set, the certificate must be allowed for that use (Server: serverAuth, Client: clientAuth).
  std::optional<CertificateKind> purpose{};
  // When set, the certificate must name it: an IP address is matched against IP SANs, anything else
  // against DNS SANs.
  std::string name{};
};

// Checks that `cert` was issued by `ca` (signature and chain constraints), is valid at `options.at`
// and fits the purpose and name asked for. Errors: PermissionDenied, saying why in words, e.g.
// "certificate CN=web-1 expired at 2024-05-01T10:00:00Z" or
// "certificate CN=web-1 was not issued by CA CN=berth CA".
Status verify(const Certificate& cert, const Certificate& ca, const VerifyOptions& options = {});

// "2024-05-01T10:00:00Z" (UTC, seconds).
std::string formatTime(SystemTime t);
// Parses what formatTime writes. Errors: InvalidArgument.
Result<SystemTime> parseTime(std::string_view text);

}  // namespace berth::pki
