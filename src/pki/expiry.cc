#include "pki/expiry.h"

namespace berth::pki {
namespace {

using Days = std::chrono::duration<long long, std::ratio<86400>>;

std::string days(long long n) { return std::to_string(n) + (n == 1 ? " day" : " days"); }

}  // namespace

std::optional<std::string> expiryNotice(SystemTime notAfter, SystemTime now, std::chrono::hours window) {
  const std::string at = " (" + formatTime(notAfter) + ")";
  if (notAfter <= now) {
    const long long ago = std::chrono::duration_cast<Days>(now - notAfter).count();
    return (ago == 0 ? std::string("expired today") : "expired " + days(ago) + " ago") + at;
  }
  if (notAfter - now > window) return std::nullopt;
  const long long left = std::chrono::duration_cast<Days>(notAfter - now).count();
  return (left == 0 ? std::string("expires today") : "expires in " + days(left)) + at;
}

std::optional<std::string> expiryWarning(const Certificate& cert, std::string_view what, SystemTime now,
                                         std::chrono::hours window) {
  const CertificateInfo info = cert.info();
  auto notice = expiryNotice(info.notAfter, now, window);
  if (!notice) return std::nullopt;
  return std::string(what) + " " + info.subject + " " + *notice;
}

std::optional<std::string> expiryWarningForPem(std::string_view pem, std::string_view what, SystemTime now,
                                               std::chrono::hours window) {
  // Certificate::fromPem reads the first certificate; walk the text block by block.
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  std::optional<std::string> soonest;
  std::optional<SystemTime> soonestAt;
  for (std::size_t at = pem.find(kBegin); at != std::string_view::npos; at = pem.find(kBegin, at + 1)) {
    auto cert = Certificate::fromPem(pem.substr(at));
    if (!cert) continue;
    const SystemTime notAfter = cert->info().notAfter;
    auto warning = expiryWarning(*cert, what, now, window);
    if (warning && (!soonestAt || notAfter < *soonestAt)) {
      soonest = std::move(warning);
      soonestAt = notAfter;
    }
  }
  return soonest;
}

}  // namespace berth::pki
