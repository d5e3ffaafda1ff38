// Expiry warnings for certificates berth uses (its client certificates, the CAs it trusts, the
// server certificates of its hosts): berth says so on stderr when one expires within
// kExpiryWarningWindow, so that `berth host rotate-certs` runs before anything breaks.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "pki/certificate.h"

namespace berth::pki {

inline constexpr std::chrono::hours kExpiryWarningWindow{24 * 30};

// "expires in 12 days (2026-05-01T10:00:00Z)", "expires today (...)", "expired 3 days ago (...)",
// or nullopt when `notAfter` is further away than `window`.
std::optional<std::string> expiryNotice(SystemTime notAfter, SystemTime now,
                                        std::chrono::hours window = kExpiryWarningWindow);

// "<what> CN=web-1 expires in 12 days (2026-05-01T10:00:00Z)" for a certificate within the window,
// else nullopt. `what` says which certificate it is to the user: "host web-1's client certificate".
std::optional<std::string> expiryWarning(const Certificate& cert, std::string_view what, SystemTime now,
                                         std::chrono::hours window = kExpiryWarningWindow);

// The same for every certificate of a PEM text (a CA bundle may hold several); PEM that does not
// parse gives no warning (whoever loads it reports that).
std::optional<std::string> expiryWarningForPem(std::string_view pem, std::string_view what, SystemTime now,
                                               std::chrono::hours window = kExpiryWarningWindow);

}  // namespace berth::pki
