// HttpEngine against a scripted server: version negotiation, request paths and bodies, error
// messages, and stream decoding — everything but a real engine, which the integration tests use.
#include "engine/http_engine.h"

#include <gtest/gtest.h>

#include <mutex>

#include "engine/endpoint.h"
#include "fake_http_server.h"

namespace berth::engine {
namespace {

using berth::engine::testing::FakeHttpServer;
using berth::engine::testing::FakeReply;
using berth::engine::testing::FakeRequest;
using berth::engine::testing::httpReply;
using namespace std::chrono_literals;

std::string ping(std::string_view version) {
  return httpReply(200, "OK", "OK", "API-Version: " + std::string(version) + "\r\nOSType: linux\r\n");
}

std::unique_ptr<Engine> engineFor(const FakeHttpServer& server, std::optional<ApiVersion> pinned = {},
                                  std::string hostName = {}) {
  auto endpoint = parseEndpoint(server.url());
  EXPECT_TRUE(endpoint);
  endpoint->pinnedApiVersion = pinned;
  endpoint->hostName = std::move(hostName);
  EngineOptions options;
  options.requestTimeout = 5s;
  auto engine = makeEngine(*endpoint, options);
  EXPECT_TRUE(engine);
  return std::move(engine).value();
}

TEST(HttpEngineTest, NegotiatesDownToBerthsVersionOnce) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.43")};
    return FakeReply{httpReply(200, "OK", "{\"Version\":\"24.0.7\",\"ApiVersion\":\"1.43\"}")};
  });
  auto engine = engineFor(server);
  auto v = engine->version();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->version, "24.0.7");
  ASSERT_TRUE(engine->version());
  EXPECT_EQ(engine->apiVersion()->toString(), "1.41");
  EXPECT_EQ(server.targets(),
            (std::vector<std::string>{"GET /_ping", "GET /v1.41/version", "GET /v1.41/version"}));
}

TEST(HttpEngineTest, UsesAnOlderEnginesVersion) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.40")};
    return FakeReply{httpReply(200, "OK", "{}")};
  });
  auto engine = engineFor(server);
  ASSERT_TRUE(engine->info());
  EXPECT_EQ(server.targets().back(), "GET /v1.40/info");
}

TEST(HttpEngineTest, RefusesATooOldEngineSayingWhatWasAsked) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{ping("1.39")}; });
  auto engine = engineFor(server);
  auto info = engine->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(info.error().message(),
            "engine " + server.url() +
                ": info: the engine speaks Engine API 1.39; berth needs at least 1.40 "
                "(Docker 19.03)");
}

TEST(HttpEngineTest, PinnedVersionSkipsThePing) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{httpReply(200, "OK", "{}")}; });
  auto engine = engineFor(server, ApiVersion{1, 40});
  ASSERT_TRUE(engine->info());
  EXPECT_EQ(server.targets(), (std::vector<std::string>{"GET /v1.40/info"}));
}

TEST(HttpEngineTest, ErrorsNameTheEngineTheOperationAndTheAnswer) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    return FakeReply{httpReply(404, "Not Found", "{\"message\":\"No such image: web:latest\"}\n",
                               "Content-Type: application/json\r\n")};
  });
  auto engine = engineFor(server);
  ContainerCreate spec;
  spec.name = "web-1";
  spec.config.image = "web:latest";
  auto r = engine->createContainer(spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(r.error().message(),
            "engine " + server.url() + ": create container web-1: No such image: web:latest (404)");
  EXPECT_EQ(server.targets().back(), "POST /v1.41/containers/create?name=web-1");
}

TEST(HttpEngineTest, ErrorsNameARegisteredHostByItsNameAndUrl) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    return FakeReply{
        httpReply(409, "Conflict", "{\"message\":\"name in use\"}\n", "Content-Type: application/json\r\n")};
  });
  auto engine = engineFor(server, std::nullopt, "web1");
  ContainerCreate spec;
  spec.name = "web-1";
  spec.config.image = "web:latest";
  auto r = engine->createContainer(spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "host web1 (" + server.url() + "): create container web-1: name in use (409)");
  // What `berth version` prints as the engine's address stays its URL.
  EXPECT_EQ(engine->address(), server.url());
}

TEST(HttpEngineTest, UnreachableEngineSaysSo) {
  char tmpl[] = "/tmp/berth-noengine-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  auto endpoint = parseEndpoint("unix://" + dir + "/docker.sock");
  auto engine = makeEngine(*endpoint);
  ASSERT_TRUE(engine);
  auto v = (*engine)->version();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(v.error().message(), "engine unix://" + dir + "/docker.sock: version: cannot connect to " + dir +
                                     "/docker.sock: no such socket (is dockerd running?)");
  std::filesystem::remove_all(dir);
}

TEST(HttpEngineTest, StartingARunningContainerSucceeds) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    return FakeReply{"HTTP/1.1 304 Not Modified\r\n\r\n"};
  });
  auto engine = engineFor(server);
  EXPECT_TRUE(engine->startContainer("web-1"));
  EXPECT_TRUE(engine->stopContainer("web-1", 3));
  EXPECT_EQ(server.targets().back(), "POST /v1.41/containers/web-1/stop?t=3");
}

TEST(HttpEngineTest, QueryValuesAreEncoded) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    return FakeReply{httpReply(200, "OK", "[]")};
  });
  auto engine = engineFor(server);
  ListContainersOptions options;
  options.all = true;
  options.filters["label"] = {"com.docker.compose.project=my app"};
  ASSERT_TRUE(engine->listContainers(options));
  EXPECT_EQ(server.targets().back(),
            "GET "
            "/v1.41/containers/"
            "json?all=1&filters=%7B%22label%22%3A%5B%22com.docker.compose.project%3Dmy%20app%22%5D%7D");
}

std::string frame(char stream, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = stream;
  out[7] = static_cast<char>(payload.size());
  return out + std::string(payload);
}

std::string chunked(const std::vector<std::string>& pieces) {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const auto& p : pieces) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", p.size());
    out += size + p + "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST(HttpEngineTest, EventsAreDecodedLineByLineUntilTheCallbackStops) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    return FakeReply{
        chunked({"{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"abc\",\"Attributes\":"
                 "{\"name\":\"web-1\"}},\"time\":1700000000,\"timeNano\":1700000000000000001}\n{\"Ty",
                 "pe\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"abc\"}}\n",
                 "{\"Type\":\"network\",\"Action\":\"destroy\"}\n"})};
  });
  auto engine = engineFor(server);
  std::vector<std::string> seen;
  EventsOptions options;
  options.filters["type"] = {"container"};
  auto s = engine->events(options,
                          [&](const Event& e) {
                            seen.push_back(e.type + "/" + e.action + "/" + e.actorId + "/" +
                                           (e.attributes.count("name") ? e.attributes.at("name") : ""));
                            return e.action != "die";
                          },
                          {});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(seen, (std::vector<std::string>{"container/start/abc/web-1", "container/die/abc/"}));
}

TEST(HttpEngineTest, LogsOfANonTtyContainerAreDemultiplexed) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    if (req.target == "/v1.41/containers/c1/json")
      return FakeReply{httpReply(200, "OK", "{\"Config\":{\"Tty\":false}}")};
    const std::string frames = frame(1, "out") + frame(2, "err");
    return FakeReply{chunked({frames.substr(0, 5), frames.substr(5)})};
  });
  auto engine = engineFor(server);
  std::string got;
  auto s = engine->containerLogs("c1", LogsOptions{},
                                 [&](OutputStream stream, std::string_view data) {
                                   got +=
                                       std::string(outputStreamName(stream)) + "=" + std::string(data) + ";";
                                 },
                                 {});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(got, "stdout=out;stderr=err;");
  EXPECT_EQ(server.targets().back(), "GET /v1.41/containers/c1/logs?stdout=1&stderr=1&tail=all");
}

TEST(HttpEngineTest, BuildFailureCarriesTheEnginesMessage) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    return FakeReply{
        chunked({"{\"stream\":\"Step 1/2 : FROM busybox\\n\"}\r\n",
                 "{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c false' returned a "
                 "non-zero code: 1\"},\"error\":\"The command '/bin/sh -c false' returned a non-zero "
                 "code: 1\"}\r\n"})};
  });
  auto engine = engineFor(server);
  std::string progress;
  BuildOptions options;
  options.tags = {"app:dev"};
  auto r = engine->buildImage("tar", options, [&](std::string_view text) { progress += text; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(r.error().message(),
            "engine " + server.url() +
                ": build image app:dev: The command '/bin/sh -c false' returned a non-zero "
                "code: 1");
  EXPECT_EQ(progress, "Step 1/2 : FROM busybox\n");
  EXPECT_EQ(server.targets().back(), "POST /v1.41/build?dockerfile=Dockerfile&t=app%3Adev&rm=1");
}

TEST(HttpEngineTest, ExecStartAndAttachHijackWithPost) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    if (req.target == "/v1.41/containers/c1/json") {
      return FakeReply{httpReply(200, "OK", "{\"Config\":{\"Tty\":true}}")};
    }
    return FakeReply{"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nraw output", true};
  });
  auto engine = engineFor(server);
  auto exec = engine->startExecAttached("e1", false);
  ASSERT_TRUE(exec) << exec.error().message();
  auto attach = engine->attachContainer("c1", {});
  ASSERT_TRUE(attach) << attach.error().message();
  EXPECT_TRUE((*attach)->tty());
  auto out = (*attach)->readOutput();
  ASSERT_TRUE(out && out->has_value());
  EXPECT_EQ((*out)->data, "raw output");
  const auto targets = server.targets();
  EXPECT_NE(std::find(targets.begin(), targets.end(), "POST /v1.41/exec/e1/start"), targets.end());
  EXPECT_EQ(targets.back(), "POST /v1.41/containers/c1/attach?stream=1&stdout=1&stderr=1");
}

TEST(HttpEngineTest, MalformedJsonAnswerIsAnErrorNotACrash) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    return FakeReply{httpReply(200, "OK", "{\"Id\": ")};
  });
  auto engine = engineFor(server);
  auto r = engine->inspectContainer("c1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Internal);
  EXPECT_EQ(r.error().message().rfind("engine " + server.url() +
                                          ": inspect container c1: unexpected answer from the "
                                          "engine (container): ",
                                      0),
            0u)
      << r.error().message();
}

TEST(HttpEngineTest, StreamedLoadPostsAChunkedTarAndReadsWhatWasLoaded) {
  std::mutex mu;
  FakeRequest load;
  FakeHttpServer server([&](const FakeRequest& req) {
    std::lock_guard lock(mu);
    load = req;
    return FakeReply{httpReply(200, "OK",
                               "{\"stream\":\"Loaded image: web:1\\n\"}\r\n"
                               "{\"stream\":\"Loaded image ID: sha256:abc\\n\"}\r\n",
                               "Content-Type: application/json\r\n")};
  });
  auto engine = engineFor(server, ApiVersion{1, 41});
  auto started = engine->beginImageLoad();
  ASSERT_TRUE(started) << started.error().message();
  ImageLoad& loading = **started;
  ASSERT_TRUE(loading.write("first part "));
  ASSERT_TRUE(loading.write("second part"));
  auto loaded = loading.finish();
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(*loaded, (std::vector<std::string>{"web:1", "sha256:abc"}));
  std::lock_guard lock(mu);
  EXPECT_EQ(load.method + " " + load.target, "POST /v1.41/images/load?quiet=1");
  EXPECT_NE(load.head.find("Content-Type: application/x-tar\r\n"), std::string::npos);
  EXPECT_EQ(load.chunks, (std::vector<std::string>{"first part ", "second part"}));
}

TEST(HttpEngineTest, AStreamedBuildSendsTheContextAsChunksAndReadsProgressAsItComes) {
  std::mutex mu;
  FakeRequest build;
  FakeHttpServer server([&](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    std::lock_guard lock(mu);
    build = req;
    return FakeReply{chunked({"{\"stream\":\"Step 1/1 : FROM scratch\\n\"}\r\n{\"aux\":",
                              "{\"ID\":\"sha256:feed\"}}\r\n{\"stream\":\"Successfully built feed\\n\"}\r\n"})};
  });
  auto engine = engineFor(server);
  BuildOptions options;
  options.tags = {"app:dev"};
  options.dockerfile = "Dockerfile";
  std::string progress;
  auto r = engine->buildImageStreamed(
      [](const std::function<Status(std::string_view)>& sink) -> Status {
        BERTH_TRY(sink("first piece "));
        BERTH_TRY(sink("second piece"));
        return ok();
      },
      options, [&](std::string_view text) { progress += text; });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->imageId, "sha256:feed");
  EXPECT_EQ(progress, "Step 1/1 : FROM scratch\nSuccessfully built feed\n");
  std::lock_guard lock(mu);
  EXPECT_EQ(build.method, "POST");
  EXPECT_EQ(build.target.rfind("/v1.41/build?", 0), 0u) << build.target;
  EXPECT_EQ(build.chunks, (std::vector<std::string>{"first piece ", "second piece"}));
}

TEST(HttpEngineTest, AStreamedBuildWhoseContextFailsReturnsThatFailure) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/_ping") return FakeReply{ping("1.41")};
    return FakeReply{httpReply(200, "OK", "{}\r\n")};
  });
  auto engine = engineFor(server);
  auto r = engine->buildImageStreamed(
      [](const std::function<Status(std::string_view)>& sink) -> Status {
        BERTH_TRY(sink("part"));
        return fail(ErrorCode::Unavailable, "build context: /src/big.bin changed while it was read");
      },
      BuildOptions{}, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "build context: /src/big.bin changed while it was read");
}

TEST(HttpEngineTest, ALoadTheEngineRefusesFailsWithItsAnswer) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{httpReply(500, "Internal Server Error", "{\"message\":\"unexpected EOF\"}")};
  });
  auto engine = engineFor(server, ApiVersion{1, 41});
  auto started = engine->beginImageLoad();
  ASSERT_TRUE(started) << started.error().message();
  ASSERT_TRUE((*started)->write("not a tar"));
  auto loaded = (*started)->finish();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code(), ErrorCode::Internal);
  EXPECT_EQ(loaded.error().message(), "engine " + server.url() + ": load images: unexpected EOF (500)");
}

TEST(HttpEngineTest, ALoadRefusedBeforeItsEndFailsTheWriteWithTheAnswer) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{httpReply(400, "Bad Request", "{\"message\":\"bad archive\"}", "Connection: close\r\n")};
  });
  server.answerBeforeBody();
  auto engine = engineFor(server, ApiVersion{1, 41});
  auto started = engine->beginImageLoad();
  ASSERT_TRUE(started) << started.error().message();
  const std::string piece(16 * 1024, 'x');
  Status written;
  for (int i = 0; i < 100000 && written; ++i) written = (*started)->write(piece);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(written.error().message(), "engine " + server.url() + ": load images: bad archive (400)");
  auto loaded = (*started)->finish();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message(), written.error().message());
}

TEST(HttpEngineTest, LoadImageStreamsTheWholeTarAsOnePiece) {
  std::mutex mu;
  FakeRequest load;
  FakeHttpServer server([&](const FakeRequest& req) {
    std::lock_guard lock(mu);
    load = req;
    return FakeReply{httpReply(200, "OK", "{\"stream\":\"Loaded image: web:1\\n\"}\n")};
  });
  auto engine = engineFor(server, ApiVersion{1, 41});
  const std::string tar(200 * 1024, 't');
  auto loaded = engine->loadImage(tar);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(*loaded, (std::vector<std::string>{"web:1"}));
  std::lock_guard lock(mu);
  EXPECT_EQ(load.body, tar);
}

TEST(HttpEngineTest, SaveStreamsTheTarAndTheSinkCanStopIt) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n"};
  });
  auto engine = engineFor(server, ApiVersion{1, 41});
  std::string got;
  auto saved = engine->saveImagesTo({"web:1", "db:2"},
                                    [&](std::string_view piece) {
                                      got += piece;
                                      return true;
                                    },
                                    {});
  ASSERT_TRUE(saved) << saved.error().message();
  EXPECT_EQ(got, "abcdefgh");
  EXPECT_EQ(server.targets().back(), "GET /v1.41/images/get?names=web%3A1&names=db%3A2");
  auto whole = engine->saveImages({"web:1"});
  ASSERT_TRUE(whole) << whole.error().message();
  EXPECT_EQ(*whole, "abcdefgh");

  auto stopped = engine->saveImagesTo({"web:1"}, [](std::string_view) { return false; }, {});
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code(), ErrorCode::Cancelled);
  EXPECT_EQ(stopped.error().message(), "engine " + server.url() + ": save images web:1: stopped");
}

TEST(HttpEngineTest, SavingAMissingImageIsNotFound) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{httpReply(404, "Not Found", "{\"message\":\"reference does not exist\"}")};
  });
  auto engine = engineFor(server, ApiVersion{1, 41});
  bool called = false;
  auto saved = engine->saveImagesTo({"nope:1"}, [&](std::string_view) { return called = true; }, {});
  ASSERT_FALSE(saved);
  EXPECT_FALSE(called);
  EXPECT_EQ(saved.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(saved.error().message(),
            "engine " + server.url() + ": save images nope:1: reference does not exist (404)");
}

}  // namespace
}  // namespace berth::engine
