// The CLI's side of berth ⇄ berthd: which controller the user selected (--controller URL or
// BERTH_CONTROLLER), how to reach it (a unix socket, or tcp:// with mutual TLS), and requests that
// return the JSON of src/api's messages or berthd's error as an Error.
//
// Client credentials for tcp:// controllers, first found wins:
//   BERTH_CONTROLLER_CERT_PATH=DIR      ca.pem (checks berthd's server certificate), cert.pem, key.pem
//   $XDG_CONFIG_HOME/berth/controller/  the same files
//   berth's own CA                      when it is on this machine, berth issues itself a client
//                                       certificate into the directory above (once) and says so
//
// Errors read "controller URL: <what was asked>: <why>", with the code berthd answered
// (NotFound, InvalidArgument, ...) or the transport's (Unavailable, PermissionDenied for TLS).
//
// Thread-safety: a ControllerClient may be used from several threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::engine::transport {
class HttpClient;
}

namespace berth::cli {

struct GlobalOptions;

class ControllerClient {
 public:
  // The controller at `url` (unix:///PATH or tcp://ADDR:PORT). Does not connect yet.
  static Result<std::unique_ptr<ControllerClient>> connect(const std::string& url);
  ~ControllerClient();

  const std::string& url() const { return url_; }

  // A request with a JSON body (may be empty); the answer's JSON body. `what` names the request in
  // errors ("deploy stack shop").
  Result<std::string> call(std::string_view method, const std::string& target, const std::string& body,
                           std::string_view what,
                           std::chrono::milliseconds timeout = std::chrono::seconds(60));
  Result<std::string> get(const std::string& target, std::string_view what) {
    return call("GET", target, "", what);
  }
  // A streamed answer, handed over line by line until it ends or `stop` is requested.
  Status streamLines(const std::string& target, std::string_view what,
                     const std::function<bool(std::string_view line)>& onLine, std::stop_token stop = {});
  // A request whose body is produced piece by piece (nextPiece returns nullopt at the end).
  Result<std::string> upload(const std::string& target, std::string_view what,
                             const std::function<Result<std::optional<std::string>>()>& nextPiece);
  // The same, fed by pushing: `produce` calls `write` with each piece.
  Result<std::string> uploadPushed(const std::string& target, std::string_view what,
                                   const std::function<Status(const std::function<Status(std::string_view)>&)>& produce);

 private:
  ControllerClient(std::string url, std::unique_ptr<engine::transport::HttpClient> http);
  Error failure(std::string_view what, int status, const std::string& body) const;

  std::string url_;
  std::unique_ptr<engine::transport::HttpClient> http_;
};

// The controller the options select (--controller, else BERTH_CONTROLLER), or nullopt.
std::optional<std::string> selectedController(const GlobalOptions& global);

// Connects to the selected controller; InvalidArgument when none is selected, naming how to select
// one.
Result<std::unique_ptr<ControllerClient>> controllerClient(const GlobalOptions& global);

// Percent-encodes a query value or path segment.
std::string urlEncode(std::string_view text);

}  // namespace berth::cli
