#include "cli/controller_client.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "api/messages.h"
#include "base/clock.h"
#include "base/files.h"
#include "cli/global_options.h"
#include "engine/endpoint.h"
#include "engine/transport/http_client.h"
#include "engine/transport/transport.h"
#include "pki/authority.h"
#include "pki/ca_store.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;
using engine::transport::HttpClient;
using engine::transport::HttpRequest;

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

bool hasBundle(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "ca.pem", ec) && fs::exists(dir / "cert.pem", ec) && fs::exists(dir / "key.pem", ec);
}

// The client bundle for a tcp:// controller (see the header for the order).
Result<engine::TlsMaterial> clientMaterial(const std::string& url) {
  fs::path dir;
  if (auto given = env("BERTH_CONTROLLER_CERT_PATH")) {
    dir = *given;
    if (!hasBundle(dir)) {
      return fail(ErrorCode::NotFound,
                  fmt::format("controller {}: BERTH_CONTROLLER_CERT_PATH={} lacks ca.pem, cert.pem or key.pem", url,
                              dir.string()));
    }
  } else {
    BERTH_ASSIGN_OR_RETURN(fs::path config, berthConfigDir());
    dir = config / "controller";
    if (!hasBundle(dir)) {
      BERTH_ASSIGN_OR_RETURN(fs::path caDir, pki::CaStore::defaultDirectory());
      auto ca = pki::CaStore::open(caDir);
      if (!ca) {
        return fail(ErrorCode::NotFound,
                    fmt::format("controller {} needs a client certificate from berth's CA: set "
                                "BERTH_CONTROLLER_CERT_PATH to a directory with ca.pem, cert.pem and key.pem "
                                "(made by `berth ca issue client NAME` where berth's CA is)",
                                url));
      }
      char host[256] = {};
      (void)::gethostname(host, sizeof host - 1);
      const auto now = SystemClock().wallNow();
      BERTH_ASSIGN_OR_RETURN(
          pki::Issued issued,
          ca->issue({.kind = pki::CertificateKind::Client,
                     .commonName = std::string("berth@") + (host[0] != '\0' ? host : "localhost"),
                     .validity = pki::validFor(now, std::chrono::hours(24 * 365))}));
      BERTH_TRY(ensurePrivateDir(config));
      BERTH_TRY(pki::writeBundle(dir, issued, ca->authority().certificate()));
      std::cerr << "berth: issued a client certificate for controllers from berth's CA into " << dir.string()
                << "\n";
    }
  }
  engine::TlsMaterial tls;
  BERTH_ASSIGN_OR_RETURN(tls.caPem, readFile(dir / "ca.pem"));
  BERTH_ASSIGN_OR_RETURN(tls.certPem, readFile(dir / "cert.pem"));
  BERTH_ASSIGN_OR_RETURN(tls.keyPem, readFile(dir / "key.pem"));
  tls.origin = dir.string();
  return tls;
}

}  // namespace

std::string urlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

ControllerClient::ControllerClient(std::string url, std::unique_ptr<HttpClient> http)
    : url_(std::move(url)), http_(std::move(http)) {}

ControllerClient::~ControllerClient() = default;

Result<std::unique_ptr<ControllerClient>> ControllerClient::connect(const std::string& url) {
  auto endpoint = engine::parseEndpoint(url, true);
  if (!endpoint) return fail(std::move(endpoint).error().withContext("controller " + url));
  if (endpoint->scheme == engine::Scheme::Ssh) {
    return fail(ErrorCode::InvalidArgument,
                "controller " + url + ": expected unix:///PATH.sock or tcp://ADDR:PORT (mutual TLS)");
  }
  if (endpoint->scheme == engine::Scheme::Tcp) {
    BERTH_ASSIGN_OR_RETURN(endpoint->tls, clientMaterial(url));
  }
  BERTH_ASSIGN_OR_RETURN(auto transport, engine::transport::makeTransport(*endpoint));
  engine::transport::HttpClientOptions options;
  options.hostHeader = endpoint->scheme == engine::Scheme::Tcp
                           ? fmt::format("{}:{}", endpoint->host, endpoint->port)
                           : std::string("berthd");
  options.connectTimeout = std::chrono::seconds(5);
  return std::unique_ptr<ControllerClient>(
      new ControllerClient(endpoint->url(), std::make_unique<HttpClient>(std::move(transport), options)));
}

Error ControllerClient::failure(std::string_view what, int status, const std::string& body) const {
  const std::string prefix = fmt::format("controller {}: {}: ", url_, what);
  if (auto e = api::fromJson<api::ErrorReply>(body); e && !e->message.empty()) {
    ErrorCode code = ErrorCode::Internal;
    for (ErrorCode c : {ErrorCode::InvalidArgument, ErrorCode::NotFound, ErrorCode::AlreadyExists,
                        ErrorCode::Conflict, ErrorCode::Unavailable, ErrorCode::DeadlineExceeded,
                        ErrorCode::PermissionDenied, ErrorCode::Internal, ErrorCode::Cancelled}) {
      if (errorCodeName(c) == e->code) code = c;
    }
    return Error(code, prefix + e->message);
  }
  return Error(ErrorCode::Internal, prefix + fmt::format("answered {} {}", status, body.substr(0, 200)));
}

Result<std::string> ControllerClient::call(std::string_view method, const std::string& target,
                                           const std::string& body, std::string_view what,
                                           std::chrono::milliseconds timeout) {
  HttpRequest req;
  req.method = std::string(method);
  req.target = target;
  req.body = body;
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  auto resp = http_->send(req, timeout);
  if (!resp) return fail(std::move(resp).error().withContext(fmt::format("controller {}: {}", url_, what)));
  if (resp->head.status / 100 != 2) return fail(failure(what, resp->head.status, resp->body));
  return std::move(resp->body);
}

Status ControllerClient::streamLines(const std::string& target, std::string_view what,
                                     const std::function<bool(std::string_view)>& onLine, std::stop_token stop) {
  HttpRequest req;
  req.target = target;
  std::string partial;
  bool stopped = false;
  auto resp = http_->stream(
      req, std::chrono::seconds(30), engine::transport::kNoTimeout,
      [&](std::string_view piece) {
        partial.append(piece);
        std::size_t nl;
        while ((nl = partial.find('\n')) != std::string::npos) {
          if (!onLine(std::string_view(partial).substr(0, nl))) {
            stopped = true;
            return false;
          }
          partial.erase(0, nl + 1);
        }
        return true;
      },
      stop);
  if (!resp) {
    if (stopped || (resp.error().code() == ErrorCode::Cancelled && stop.stop_requested())) return ok();
    return fail(std::move(resp).error().withContext(fmt::format("controller {}: {}", url_, what)));
  }
  if (resp->head.status / 100 != 2) return fail(failure(what, resp->head.status, resp->body));
  if (!partial.empty() && !stopped) (void)onLine(partial);
  return ok();
}

Result<std::string> ControllerClient::upload(const std::string& target, std::string_view what,
                                             const std::function<Result<std::optional<std::string>>()>& nextPiece) {
  return uploadPushed(target, what, [&](const std::function<Status(std::string_view)>& write) -> Status {
    while (true) {
      BERTH_ASSIGN_OR_RETURN(std::optional<std::string> piece, nextPiece());
      if (!piece) return ok();
      BERTH_TRY(write(*piece));
    }
  });
}

Result<std::string> ControllerClient::uploadPushed(
    const std::string& target, std::string_view what,
    const std::function<Status(const std::function<Status(std::string_view)>&)>& produce) {
  HttpRequest head;
  head.method = "POST";
  head.target = target;
  head.headers.push_back({"Content-Type", "application/x-tar"});
  auto upload = http_->beginUpload(head, std::chrono::hours(2));
  if (!upload) return fail(std::move(upload).error().withContext(fmt::format("controller {}: {}", url_, what)));
  Status produced = produce([&](std::string_view piece) { return (*upload)->write(piece); });
  if (!produced) {
    (*upload)->cancel();
    // The controller may have refused early with a reason worth more than the write error.
    return fail(std::move(produced).error().withContext(fmt::format("controller {}: {}", url_, what)));
  }
  auto resp = (*upload)->finish();
  if (!resp) return fail(std::move(resp).error().withContext(fmt::format("controller {}: {}", url_, what)));
  if (resp->head.status / 100 != 2) return fail(failure(what, resp->head.status, resp->body));
  return std::move(resp->body);
}

std::optional<std::string> selectedController(const GlobalOptions& global) {
  if (global.controller && !global.controller->empty()) return global.controller;
  return env("BERTH_CONTROLLER");
}

Result<std::unique_ptr<ControllerClient>> controllerClient(const GlobalOptions& global) {
  auto url = selectedController(global);
  if (!url) {
    return fail(ErrorCode::InvalidArgument,
                "no controller selected: give --controller URL or set BERTH_CONTROLLER "
                "(unix:///run/berthd.sock or tcp://ADDR:PORT)");
  }
  return ControllerClient::connect(*url);
}

}  // namespace berth::cli
