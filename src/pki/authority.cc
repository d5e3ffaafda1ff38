#include "pki/authority.h"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cctype>

#include "base/strings.h"
#include "pki/openssl_util.h"

namespace berth::pki {
namespace {

using detail::ExtPtr;
using detail::X509Ptr;

// X.509's upper bound for a common name (ub-common-name).
constexpr std::size_t kMaxCommonName = 64;

Status checkCommonName(std::string_view name, std::string_view what) {
  if (name.empty()) return fail(ErrorCode::InvalidArgument, std::string(what) + " name is empty");
  if (name.size() > kMaxCommonName) {
    return fail(ErrorCode::InvalidArgument,
                std::string(what) + " name " + berth::quoted(name) + " is longer than 64 characters");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return fail(ErrorCode::InvalidArgument,
                  std::string(what) + " name " + berth::quoted(name) + " contains a control character");
    }
  }
  return ok();
}

// A DNS name as certificates carry it: labels of letters, digits and '-', optionally a leading
// "*." wildcard.
Status checkDnsName(std::string_view name) {
  std::string_view rest = name;
  if (startsWith(rest, "*.")) rest.remove_prefix(2);
  bool ok_ = !rest.empty() && rest.size() <= 253;
  for (const std::string& label : split(rest, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') ok_ = false;
    for (unsigned char c : label) {
      if (!std::isalnum(c) && c != '-' && c != '_') ok_ = false;
    }
  }
  if (!ok_) return fail(ErrorCode::InvalidArgument, "invalid DNS name " + berth::quoted(name));
  return ok();
}

Result<std::string> canonicalIp(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1)
    return std::string(inet_ntop(AF_INET, buf, out, sizeof out));
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return std::string(inet_ntop(AF_INET6, buf, out, sizeof out));
  }
  return fail(ErrorCode::InvalidArgument, "invalid IP address " + berth::quoted(text));
}

Status checkValidity(const Validity& v) {
  if (v.notAfter <= v.notBefore) {
    return fail(ErrorCode::InvalidArgument, "validity ends (" + formatTime(v.notAfter) +
                                                ") before it starts (" + formatTime(v.notBefore) + ")");
  }
  return ok();
}

// A fresh certificate with version 3, a random 128-bit serial, the validity, subject CN and key.
Result<X509Ptr> newCertificate(std::string_view commonName, const Validity& validity, EVP_PKEY* publicKey) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return fail(ErrorCode::Internal, detail::opensslError("X509_new"));
  }
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) {
    return fail(ErrorCode::Internal, detail::opensslError("random serial"));
  }
  serial[0] &= 0x7f;  // DER integers are signed; serials must be positive
  detail::BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return fail(ErrorCode::Internal, detail::opensslError("set serial"));
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    std::chrono::system_clock::to_time_t(validity.notBefore)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    std::chrono::system_clock::to_time_t(validity.notAfter)) == nullptr) {
    return fail(ErrorCode::Internal, detail::opensslError("set validity"));
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(commonName);
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1) {
    return fail(ErrorCode::InvalidArgument, detail::opensslError("common name " + berth::quoted(cn)));
  }
  if (X509_set_pubkey(cert.get(), publicKey) != 1) {
    return fail(ErrorCode::Internal, detail::opensslError("set public key"));
  }
  return cert;
}

// Adds an extension given in OpenSSL's configuration syntax ("critical,CA:TRUE,pathlen:0").
Status addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return fail(ErrorCode::Internal,
                detail::opensslError(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value));
  }
  return ok();
}

Status sign(X509* cert, const PrivateKey& key) {
  if (X509_sign(cert, key.native(), EVP_sha256()) <= 0) {
    return fail(ErrorCode::Internal, detail::opensslError("sign certificate"));
  }
  return ok();
}

}  // namespace

Validity validFor(SystemTime now, std::chrono::seconds duration) {
  return Validity{now - std::chrono::minutes(5), now + duration};
}

Result<Authority> Authority::create(const CaRequest& request) {
  BERTH_TRY(checkCommonName(request.commonName, "CA"));
  BERTH_TRY(checkValidity(request.validity));
  BERTH_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::generate(request.keyType));
  BERTH_ASSIGN_OR_RETURN(X509Ptr cert, newCertificate(request.commonName, request.validity, key.native()));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return fail(ErrorCode::Internal, detail::opensslError("set issuer"));
  }
  BERTH_TRY(addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  BERTH_TRY(
      addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"));
  BERTH_TRY(addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  BERTH_TRY(addExtension(cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always"));
  BERTH_TRY(sign(cert.get(), key));
  return Authority(Certificate::adopt(cert.release()), std::move(key));
}

Result<Authority> Authority::fromParts(Certificate certificate, PrivateKey key) {
  const CertificateInfo info = certificate.info();
  if (!info.isCa || !info.keyCertSign) {
    return fail(ErrorCode::InvalidArgument,
                "certificate " + info.subject + " is not a CA certificate (no CA:TRUE/keyCertSign)");
  }
  if (!certificate.matches(key)) {
    return fail(ErrorCode::InvalidArgument, "the key does not belong to CA certificate " + info.subject);
  }
  return Authority(std::move(certificate), std::move(key));
}

Result<Issued> Authority::issue(const CertificateRequest& request) const {
  BERTH_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::generate(request.keyType));
  BERTH_ASSIGN_OR_RETURN(Certificate cert, issueFor(key.native(), request));
  return Issued{std::move(cert), std::move(key)};
}

Result<Certificate> Authority::issueForCsr(std::string_view csrPem, const CertificateRequest& request) const {
  detail::BioPtr bio(BIO_new_mem_buf(csrPem.data(), static_cast<int>(csrPem.size())));
  std::unique_ptr<X509_REQ, detail::Deleter<X509_REQ_free>> req(
      bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!req) {
    return fail(ErrorCode::InvalidArgument, detail::opensslError("not a PEM certificate signing request"));
  }
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr || X509_REQ_verify(req.get(), pub) != 1) {
    return fail(ErrorCode::InvalidArgument,
                detail::opensslError("the certificate signing request's signature does not verify"));
  }
  if (!detail::keyTypeOf(pub)) {
    return fail(ErrorCode::InvalidArgument,
                "the certificate signing request's key is neither ECDSA P-256 nor RSA 2048/4096");
  }
  return issueFor(pub, request);
}

Result<Certificate> Authority::issueFor(evp_pkey_st* publicKey, const CertificateRequest& request) const {
  const bool server = request.kind == CertificateKind::Server;
  if (request.kind == CertificateKind::Ca) {
    return fail(ErrorCode::InvalidArgument, "an Authority issues server and client certificates only");
  }
  const std::string what(certificateKindName(request.kind));
  BERTH_TRY(checkCommonName(request.commonName, what));
  BERTH_TRY(checkValidity(request.validity));
  std::vector<std::string> sans;
  for (const std::string& dns : request.dnsNames) {
    BERTH_TRY(checkDnsName(dns));
    sans.push_back("DNS:" + dns);
  }
  for (const std::string& ip : request.ipAddresses) {
    BERTH_ASSIGN_OR_RETURN(std::string canonical, canonicalIp(ip));
    sans.push_back("IP:" + canonical);
  }
  if (server && sans.empty()) {
    return fail(ErrorCode::InvalidArgument, "server certificate " + berth::quoted(request.commonName) +
                                                " needs at least one IP address or DNS name");
  }

  BERTH_ASSIGN_OR_RETURN(X509Ptr cert, newCertificate(request.commonName, request.validity, publicKey));
  X509* ca = certificate_.native();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca)) != 1) {
    return fail(ErrorCode::Internal, detail::opensslError("set issuer"));
  }
  const bool rsa = EVP_PKEY_get_base_id(publicKey) == EVP_PKEY_RSA;
  BERTH_TRY(addExtension(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE"));
  BERTH_TRY(addExtension(cert.get(), ca, NID_key_usage,
                         rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"));
  BERTH_TRY(addExtension(cert.get(), ca, NID_ext_key_usage, server ? "serverAuth" : "clientAuth"));
  if (!sans.empty()) BERTH_TRY(addExtension(cert.get(), ca, NID_subject_alt_name, join(sans, ",")));
  BERTH_TRY(addExtension(cert.get(), ca, NID_subject_key_identifier, "hash"));
  BERTH_TRY(addExtension(cert.get(), ca, NID_authority_key_identifier, "keyid:always"));
  BERTH_TRY(sign(cert.get(), key_));
  return Certificate::adopt(cert.release());
}

Result<std::string> certificateSigningRequest(const PrivateKey& key, std::string_view commonName) {
  BERTH_TRY(checkCommonName(commonName, "client"));
  std::unique_ptr<X509_REQ, detail::Deleter<X509_REQ_free>> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) {
    return fail(ErrorCode::Internal, detail::opensslError("X509_REQ_new"));
  }
  const std::string cn(commonName);
  if (X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.native()) != 1 ||
      X509_REQ_sign(req.get(), key.native(), EVP_sha256()) <= 0) {
    return fail(ErrorCode::Internal, detail::opensslError("make a certificate signing request"));
  }
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return fail(ErrorCode::Internal, detail::opensslError("write the certificate signing request"));
  }
  return detail::bioText(bio.get());
}

}  // namespace berth::pki
