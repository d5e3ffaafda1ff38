// The certificate a TLS server presents, fetched with one handshake — so that berth can warn about
// the server certificate of an engine it did not set up itself (`berth host add --url`) before it
// expires. Nothing is verified here: the caller decides what the certificate means.
//
// Thread-safety: a pure blocking call.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.h"
#include "pki/certificate.h"

namespace berth::pki {

// Connects to host:port (a numeric address or a name) and completes a TLS handshake presenting
// `clientCertPem`/`clientKeyPem` when given (an engine with --tlsverify needs one to finish it).
// Errors: Unavailable / DeadlineExceeded for the connection, PermissionDenied when the server sent
// no certificate.
Result<Certificate> fetchPeerCertificate(const std::string& host, std::uint16_t port,
                                         const std::string& clientCertPem, const std::string& clientKeyPem,
                                         std::chrono::milliseconds timeout);

}  // namespace berth::pki
