#include "engine/errors.h"

#include <gtest/gtest.h>

#include "engine/endpoint.h"

namespace berth::engine {
namespace {

TEST(EngineErrorTest, QuotesTheEnginesMessageWithStatus) {
  const Error e = engineAnswerError("engine unix:///run/x.sock", "create container web-1", 404, "Not Found",
                                    "{\"message\":\"No such image: web:latest\"}\n");
  EXPECT_EQ(e.code(), ErrorCode::NotFound);
  EXPECT_EQ(e.message(),
            "engine unix:///run/x.sock: create container web-1: No such image: web:latest (404)");
}

TEST(EngineErrorTest, MapsStatusesToCodes) {
  EXPECT_EQ(errorCodeForStatus(400), ErrorCode::InvalidArgument);
  EXPECT_EQ(errorCodeForStatus(401), ErrorCode::PermissionDenied);
  EXPECT_EQ(errorCodeForStatus(403), ErrorCode::PermissionDenied);
  EXPECT_EQ(errorCodeForStatus(404), ErrorCode::NotFound);
  EXPECT_EQ(errorCodeForStatus(409), ErrorCode::Conflict);
  EXPECT_EQ(errorCodeForStatus(500), ErrorCode::Internal);
  EXPECT_EQ(errorCodeForStatus(503), ErrorCode::Unavailable);
  EXPECT_EQ(errorCodeForStatus(504), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(errorCodeForStatus(418), ErrorCode::Internal);
}

TEST(EngineErrorTest, FallsBackToTextThenReason) {
  EXPECT_EQ(engineAnswerError("engine tcp://10.0.0.2:2376", "info", 400, "Bad Request",
                              "Client sent an HTTP request to an HTTPS server.\n")
                .message(),
            "engine tcp://10.0.0.2:2376: info: Client sent an HTTP request to an HTTPS server. (400)");
  EXPECT_EQ(engineAnswerError("engine tcp://10.0.0.2:2376", "stat c:/x", 404, "Not Found", "").message(),
            "engine tcp://10.0.0.2:2376: stat c:/x: Not Found (404)");
  EXPECT_EQ(engineAnswerError("engine tcp://10.0.0.2:2376", "info", 502, "", "").message(),
            "engine tcp://10.0.0.2:2376: info: no message (502)");
}

TEST(EngineErrorTest, CallErrorsKeepTheCausesCode) {
  const Error e = engineCallError(
      "engine unix:///run/x.sock", "version",
      Error(ErrorCode::Unavailable, "connection refused by /run/x.sock (is dockerd running?)"));
  EXPECT_EQ(e.code(), ErrorCode::Unavailable);
  EXPECT_EQ(e.message(),
            "engine unix:///run/x.sock: version: connection refused by /run/x.sock (is dockerd running?)");
}

TEST(EngineErrorTest, NameARegisteredHostByItsNameAndUrl) {
  Endpoint endpoint = *parseEndpoint("tcp://10.0.0.2:2376");
  EXPECT_EQ(endpoint.describe(), "engine tcp://10.0.0.2:2376");
  endpoint.hostName = "web1";
  EXPECT_EQ(endpoint.describe(), "host web1 (tcp://10.0.0.2:2376)");
  EXPECT_EQ(engineCallError(endpoint.describe(), "create container web-1",
                            Error(ErrorCode::Unavailable, "connection refused by 10.0.0.2:2376"))
                .message(),
            "host web1 (tcp://10.0.0.2:2376): create container web-1: connection refused by 10.0.0.2:2376");
}

}  // namespace
}  // namespace berth::engine
