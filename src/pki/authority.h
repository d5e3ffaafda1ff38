// A certificate authority: a CA certificate and its key, issuing server and client certificates for
// mutual TLS between berth and Docker engines (and later berthd).
//
// Certificates follow what Docker's TLS (Go crypto/tls) and OpenSSL expect:
//   CA:     basicConstraints critical CA:TRUE pathlen:0; keyUsage critical keyCertSign, cRLSign,
//           digitalSignature; subject key id.
//   server: basicConstraints critical CA:FALSE; keyUsage critical digitalSignature (+
//           keyEncipherment for RSA); extendedKeyUsage serverAuth; subjectAltName with every DNS
//           name and IP address asked for (at least one); subject/authority key ids.
//   client: the same with extendedKeyUsage clientAuth and CN = the client's name; every client
//           gets its own key.
// Serial numbers are 128 random bits. Validity is whatever the caller asks for, including a
// not-before in the past (tests make expired certificates that way). Signatures use SHA-256.
//
// Thread-safety: issue() is const and may be called from several threads at once.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/result.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace berth::pki {

struct Validity {
  SystemTime notBefore;
  SystemTime notAfter;
};
// [now - 5 minutes, now + duration]: the small back-dating absorbs clock skew between machines.
Validity validFor(SystemTime now, std::chrono::seconds duration);

struct CaRequest {
  std::string commonName = "berth CA";
  KeyType keyType = KeyType::EcdsaP256;
  Validity validity{};
};

struct CertificateRequest {
  CertificateKind kind = CertificateKind::Client;  // Server or Client
  std::string commonName{};                        // the host's or client's name
  std::vector<std::string> dnsNames{};             // server: subjectAltName DNS entries
  std::vector<std::string> ipAddresses{};          // server: subjectAltName IP entries (v4 or v6)
  KeyType keyType = KeyType::EcdsaP256;
  Validity validity{};
};

struct Issued {
  Certificate certificate;
  PrivateKey key;
};

class Authority {
 public:
  // Creates a new self-signed CA. Errors: InvalidArgument (bad name or validity), Internal.
  static Result<Authority> create(const CaRequest& request);
  // An existing CA. Errors: InvalidArgument when the certificate is not a CA or the key is not its.
  static Result<Authority> fromParts(Certificate certificate, PrivateKey key);

  const Certificate& certificate() const { return certificate_; }
  const PrivateKey& key() const { return key_; }

  // Issues a server or client certificate with a fresh key. Errors: InvalidArgument (a Ca kind, an
  // empty or odd name, a server certificate without names, an invalid IP address or DNS name,
  // notAfter before notBefore), Internal (OpenSSL).
  Result<Issued> issue(const CertificateRequest& request) const;
  // The same for a key someone else holds: certifies the public key of a PEM certificate signing
  // request (whose signature must verify) with `request`'s name, kind, names and validity (the
  // CSR's own subject and extensions are ignored; request.keyType too). berthd gets its client
  // certificates for hosts this way, so that its keys never leave its data directory.
  // Errors: InvalidArgument for a CSR that does not parse or verify, as issue() otherwise.
  Result<Certificate> issueForCsr(std::string_view csrPem, const CertificateRequest& request) const;

 private:
  Authority(Certificate certificate, PrivateKey key)
      : certificate_(std::move(certificate)), key_(std::move(key)) {}
  Result<Certificate> issueFor(evp_pkey_st* publicKey, const CertificateRequest& request) const;
  Certificate certificate_;
  PrivateKey key_;
};

// A PEM certificate signing request for `key`, with subject CN=commonName (for issueForCsr).
Result<std::string> certificateSigningRequest(const PrivateKey& key, std::string_view commonName);

}  // namespace berth::pki
