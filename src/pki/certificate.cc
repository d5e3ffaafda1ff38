#include "pki/certificate.h"

#include <arpa/inet.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>

#include "base/files.h"
#include "base/strings.h"
#include "pki/openssl_util.h"

namespace berth::pki {
namespace {

using detail::BioPtr;

std::string toHex(const unsigned char* data, std::size_t len, std::string_view sep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < len; ++i) {
    if (i > 0) out += sep;
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string nameText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return detail::bioText(bio.get());
}

std::string commonNameOf(const X509_NAME* name) {
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

SystemTime asn1Time(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string ipText(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  const int len = ASN1_STRING_length(ip);
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  if (len == 4) {
    inet_ntop(AF_INET, data, buf, sizeof buf);
  } else if (len == 16) {
    inet_ntop(AF_INET6, data, buf, sizeof buf);
  } else {
    return "?";
  }
  return buf;
}

bool isIpAddress(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

std::string describeVerifyError(int code, const Certificate& cert, const Certificate& ca,
                                const VerifyOptions& options) {
  const CertificateInfo info = cert.info();
  const std::string what = "certificate " + info.subject;
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return what + " expired at " + formatTime(info.notAfter);
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return what + " is not valid before " + formatTime(info.notBefore);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return what + " was not issued by CA " + ca.info().subject;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: {
      std::vector<std::string> names = info.dnsNames;
      names.insert(names.end(), info.ipAddresses.begin(), info.ipAddresses.end());
      return what + " does not name " + options.name + " (it names " +
             (names.empty() ? std::string("nothing") : join(names, ", ")) + ")";
    }
    case X509_V_ERR_INVALID_PURPOSE:
      return what + " is not valid for " +
             (options.purpose == CertificateKind::Server ? "server" : "client") + " authentication";
    default:
      break;
  }
  return what + ": " + X509_verify_cert_error_string(code);
}

}  // namespace

std::string_view certificateKindName(CertificateKind kind) {
  switch (kind) {
    case CertificateKind::Ca:
      return "ca";
    case CertificateKind::Server:
      return "server";
    case CertificateKind::Client:
      return "client";
  }
  return "?";
}

std::optional<CertificateKind> parseCertificateKind(std::string_view name) {
  if (name == "ca") return CertificateKind::Ca;
  if (name == "server") return CertificateKind::Server;
  if (name == "client") return CertificateKind::Client;
  return std::nullopt;
}

CertificateKind CertificateInfo::kind() const {
  if (isCa) return CertificateKind::Ca;
  return serverAuth ? CertificateKind::Server : CertificateKind::Client;
}

Result<Certificate> Certificate::fromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(ErrorCode::Internal, detail::opensslError("BIO_new_mem_buf"));
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) {
    ERR_clear_error();
    return fail(ErrorCode::InvalidArgument, "not a PEM certificate");
  }
  return Certificate(cert);
}

Result<Certificate> Certificate::load(const std::filesystem::path& path) {
  BERTH_ASSIGN_OR_RETURN(std::string text, readFile(path));
  auto cert = fromPem(text);
  if (!cert) return fail(std::move(cert).error().withContext(path.string()));
  return cert;
}

Certificate::Certificate(const Certificate& other) : cert_(other.cert_) { X509_up_ref(cert_); }

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    X509_up_ref(other.cert_);
    X509_free(cert_);
    cert_ = other.cert_;
  }
  return *this;
}

Certificate::Certificate(Certificate&& other) noexcept : Certificate(other) {}

Certificate& Certificate::operator=(Certificate&& other) noexcept { return *this = other; }

Certificate::~Certificate() { X509_free(cert_); }

std::string Certificate::toPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  BERTH_CHECK(bio && PEM_write_bio_X509(bio.get(), cert_) == 1);
  return detail::bioText(bio.get());
}

CertificateInfo Certificate::info() const {
  CertificateInfo info;
  info.subject = nameText(X509_get_subject_name(cert_));
  info.commonName = commonNameOf(X509_get_subject_name(cert_));
  info.issuer = nameText(X509_get_issuer_name(cert_));
  {
    detail::BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert_), nullptr));
    if (bn) {
      char* hex = BN_bn2hex(bn.get());
      info.serial = hex;
      OPENSSL_free(hex);
    }
  }
  info.notBefore = asn1Time(X509_get0_notBefore(cert_));
  info.notAfter = asn1Time(X509_get0_notAfter(cert_));
  if (auto* names =
          static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert_, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      if (gn->type == GEN_DNS) {
        const ASN1_IA5STRING* dns = gn->d.dNSName;
        info.dnsNames.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                   static_cast<std::size_t>(ASN1_STRING_length(dns)));
      } else if (gn->type == GEN_IPADD) {
        info.ipAddresses.push_back(ipText(gn->d.iPAddress));
      }
    }
    GENERAL_NAMES_free(names);
  }
  if (auto* bc =
          static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(cert_, NID_basic_constraints, nullptr, nullptr))) {
    info.isCa = bc->ca != 0;
    if (bc->pathlen != nullptr) info.pathLength = ASN1_INTEGER_get(bc->pathlen);
    BASIC_CONSTRAINTS_free(bc);
  }
  const uint32_t usage = X509_get_key_usage(cert_);
  info.keyCertSign = usage != UINT32_MAX && (usage & KU_KEY_CERT_SIGN) != 0;
  const uint32_t eku = X509_get_extended_key_usage(cert_);
  if (eku != UINT32_MAX) {
    info.serverAuth = (eku & XKU_SSL_SERVER) != 0;
    info.clientAuth = (eku & XKU_SSL_CLIENT) != 0;
  }
  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert_)) {
    info.subjectKeyId =
        toHex(ASN1_STRING_get0_data(ski), static_cast<std::size_t>(ASN1_STRING_length(ski)), "");
  }
  if (const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert_)) {
    info.authorityKeyId =
        toHex(ASN1_STRING_get0_data(aki), static_cast<std::size_t>(ASN1_STRING_length(aki)), "");
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdLen = 0;
  if (X509_digest(cert_, EVP_sha256(), md, &mdLen) == 1) info.sha256Fingerprint = toHex(md, mdLen, ":");
  if (EVP_PKEY* pub = X509_get0_pubkey(cert_)) info.keyType = detail::keyTypeOf(pub);
  ERR_clear_error();
  return info;
}

bool Certificate::matches(const PrivateKey& key) const {
  const bool same = X509_check_private_key(cert_, key.native()) == 1;
  ERR_clear_error();
  return same;
}

Status Certificate::save(const std::filesystem::path& path) const {
  using std::filesystem::perms;
  return writeFileAtomic(path, toPem(),
                         perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
}

Status verify(const Certificate& cert, const Certificate& ca, const VerifyOptions& options) {
  detail::StorePtr store(X509_STORE_new());
  detail::StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.native()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.native(), nullptr) != 1) {
    return fail(ErrorCode::Internal, detail::opensslError("set up certificate verification"));
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(options.at));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  if (options.purpose) {
    switch (*options.purpose) {
      case CertificateKind::Server:
        X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
        break;
      case CertificateKind::Client:
        X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT);
        break;
      case CertificateKind::Ca:
        X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);
        break;
    }
  }
  if (!options.name.empty()) {
    const int set = isIpAddress(options.name)
                        ? X509_VERIFY_PARAM_set1_ip_asc(param, options.name.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, options.name.c_str(), options.name.size());
    if (set != 1) {
      return fail(ErrorCode::InvalidArgument, detail::opensslError("verify name " + options.name));
    }
  }
  const int verified = X509_verify_cert(ctx.get());
  const int code = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (verified == 1) return ok();
  return fail(ErrorCode::PermissionDenied, describeVerifyError(code, cert, ca, options));
}

std::string formatTime(SystemTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<SystemTime> parseTime(std::string_view text) {
  std::tm tm{};
  const std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') {
    return fail(ErrorCode::InvalidArgument,
                "not a UTC time like 2024-05-01T10:00:00Z: " + berth::quoted(text));
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace berth::pki
