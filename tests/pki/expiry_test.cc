#include "pki/expiry.h"

#include <gtest/gtest.h>

#include "pki/authority.h"

namespace berth::pki {
namespace {

using namespace std::chrono_literals;

TEST(ExpiryTest, NoticesWithinTheWindowOnly) {
  const SystemTime now = *parseTime("2026-05-01T00:00:00Z");
  EXPECT_EQ(expiryNotice(now + 24h * 31, now), std::nullopt);
  EXPECT_EQ(expiryNotice(now + 24h * 30, now), "expires in 30 days (2026-05-31T00:00:00Z)");
  EXPECT_EQ(expiryNotice(now + 36h, now), "expires in 1 day (2026-05-02T12:00:00Z)");
  EXPECT_EQ(expiryNotice(now + 1h, now), "expires today (2026-05-01T01:00:00Z)");
  EXPECT_EQ(expiryNotice(now - 1h, now), "expired today (2026-04-30T23:00:00Z)");
  EXPECT_EQ(expiryNotice(now - 24h * 3, now), "expired 3 days ago (2026-04-28T00:00:00Z)");
}

TEST(ExpiryTest, WarnsAboutTheSoonestCertificateOfAPem) {
  const SystemTime now = std::chrono::system_clock::now();
  auto ca = Authority::create({.commonName = "long CA", .validity = validFor(now, 24h * 3650)});
  ASSERT_TRUE(ca);
  auto soon = ca->issue(
      {.kind = CertificateKind::Client, .commonName = "soon", .validity = validFor(now, 24h * 5 + 1h)});
  ASSERT_TRUE(soon);
  EXPECT_EQ(expiryWarning(ca->certificate(), "the CA", now), std::nullopt);
  auto w = expiryWarning(soon->certificate, "host a's client certificate", now);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->rfind("host a's client certificate CN=soon expires in 5 days (", 0), 0u) << *w;
  EXPECT_EQ(expiryWarningForPem(ca->certificate().toPem() + soon->certificate.toPem(), "bundle", now)
                ->substr(0, 15),
            "bundle CN=soon ");
  EXPECT_EQ(expiryWarningForPem(ca->certificate().toPem(), "bundle", now), std::nullopt);
  EXPECT_EQ(expiryWarningForPem("not a pem", "x", now), std::nullopt);
}

}  // namespace
}  // namespace berth::pki
