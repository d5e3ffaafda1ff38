#include "engine/http_engine.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>

#include "base/log.h"
#include "base/strings.h"
#include "engine/endpoint.h"
#include "engine/errors.h"
#include "engine/json_codec.h"
#include "engine/transport/http_client.h"
#include "engine/transport/json_lines.h"
#include "engine/transport/stream_demux.h"

namespace berth::engine {
namespace {

using transport::HttpRequest;
using transport::HttpResponse;
using transport::Timeout;

// Percent-encodes everything but unreserved characters (and, in paths, '/' and ':', which image
// references contain and the engine's router expects unescaped).
std::string urlEncode(std::string_view text, bool path) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~' ||
        (path && (c == '/' || c == ':' || c == '@'))) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned>(u));
    }
  }
  return out;
}

std::string seg(std::string_view s) { return urlEncode(s, true); }

class Query {
 public:
  Query& add(std::string_view key, std::string_view value) {
    out_ += out_.empty() ? '?' : '&';
    out_ += urlEncode(key, false);
    out_ += '=';
    out_ += urlEncode(value, false);
    return *this;
  }
  Query& flag(std::string_view key, bool on) {
    if (on) add(key, "1");
    return *this;
  }
  Query& nonEmpty(std::string_view key, std::string_view value) {
    if (!value.empty()) add(key, value);
    return *this;
  }
  Query& filters(const Filters& f) {
    if (!f.empty()) add("filters", json::encodeFilters(f));
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

std::string_view waitConditionName(WaitCondition c) {
  switch (c) {
    case WaitCondition::NotRunning:
      return "not-running";
    case WaitCondition::NextExit:
      return "next-exit";
    case WaitCondition::Removed:
      return "removed";
  }
  return "not-running";
}

// The output of an attached exec or container over a hijacked connection.
class HttpAttachedStream final : public AttachedStream {
 public:
  HttpAttachedStream(std::unique_ptr<transport::Connection> connection, std::string initial, bool tty,
                     std::string engine, std::string what, Timeout writeTimeout)
      : connection_(std::move(connection)),
        initial_(std::move(initial)),
        tty_(tty),
        demux_(!tty),
        engine_(std::move(engine)),
        what_(std::move(what)),
        writeTimeout_(writeTimeout) {}

  bool tty() const override { return tty_; }

  Status writeStdin(std::string_view data) override {
    auto r = connection_->writeAll(data, deadlineAfter(writeTimeout_));
    if (!r) return fail(engineCallError(engine_, what_ + ": write stdin", r.error()));
    return ok();
  }

  Status closeStdin() override {
    auto r = connection_->shutdownWrite(deadlineAfter(writeTimeout_));
    if (!r) return fail(engineCallError(engine_, what_ + ": close stdin", r.error()));
    return ok();
  }

  Result<std::optional<OutputChunk>> readOutput() override {
    const auto sink = [this](OutputStream stream, std::string_view data) {
      if (!pending_.empty() && pending_.back().stream == stream) {
        pending_.back().data.append(data);
      } else {
        pending_.push_back({stream, std::string(data)});
      }
    };
    if (!initial_.empty()) {
      const std::string bytes = std::move(initial_);
      initial_.clear();
      if (auto r = demux_.feed(bytes, sink); !r) return fail(engineCallError(engine_, what_, r.error()));
    }
    std::array<char, 32 * 1024> buffer;
    while (pending_.empty() && !ended_) {
      auto n = connection_->readSome(buffer, kNoDeadline);
      if (!n) return fail(engineCallError(engine_, what_, n.error()));
      if (*n == 0) {
        ended_ = true;
        if (auto r = demux_.finish(); !r) return fail(engineCallError(engine_, what_, r.error()));
        break;
      }
      if (auto r = demux_.feed(std::string_view(buffer.data(), *n), sink); !r) {
        return fail(engineCallError(engine_, what_, r.error()));
      }
    }
    if (pending_.empty()) return std::optional<OutputChunk>();
    OutputChunk chunk = std::move(pending_.front());
    pending_.pop_front();
    return std::optional<OutputChunk>(std::move(chunk));
  }

  void cancel() override { connection_->cancel(); }

 private:
  std::unique_ptr<transport::Connection> connection_;
  std::string initial_;
  bool tty_;
  transport::StreamDemux demux_;
  std::string engine_;
  std::string what_;
  Timeout writeTimeout_;
  std::deque<OutputChunk> pending_;
  bool ended_ = false;
};

// One message of a progress stream (build, load, import, pull): its texts are appended to `texts`
// and shown through `onProgress` (may be empty); a message that carries an error fails with it
// (InvalidArgument).
Status takeProgressMessage(std::string_view line, std::vector<std::string>& texts,
                           const ProgressFn& onProgress, std::string* auxId) {
  BERTH_ASSIGN_OR_RETURN(const json::StreamMessage m, json::decodeStreamMessage(line));
  if (!m.error.empty()) return fail(ErrorCode::InvalidArgument, std::string(trim(m.error)));
  if (!m.auxId.empty() && auxId != nullptr) *auxId = m.auxId;
  for (const std::string* text : {&m.stream, &m.status}) {
    if (text->empty()) continue;
    texts.push_back(*text);
    if (onProgress) onProgress(*text);
  }
  return ok();
}

// The texts of a whole progress body, read at once.
Result<std::vector<std::string>> progressTexts(std::string_view body) {
  std::vector<std::string> texts;
  std::optional<Error> failure;
  const auto deliver = [&](std::string_view line) {
    auto taken = takeProgressMessage(line, texts, nullptr, nullptr);
    if (!taken) failure = std::move(taken).error();
    return !failure;
  };
  transport::LineSplitter lines;
  BERTH_TRY(lines.feed(body, deliver));
  if (!failure) BERTH_TRY(lines.finish(deliver));
  if (failure) return fail(std::move(*failure));
  return texts;
}

// What a load's texts say it loaded: "Loaded image: busybox:latest", "Loaded image ID: sha256:...".
std::vector<std::string> loadedImages(const std::vector<std::string>& texts) {
  std::vector<std::string> loaded;
  for (const auto& t : texts) {
    for (const auto& line : split(t, '\n')) {
      for (const std::string_view prefix : {"Loaded image ID: ", "Loaded image: "}) {
        if (startsWith(line, prefix)) {
          loaded.emplace_back(trim(std::string_view(line).substr(prefix.size())));
          break;
        }
      }
    }
  }
  return loaded;
}

constexpr std::string_view kLoadImages = "load images";

// A request body streamed as a chunked upload (a `docker load`, a tar put into a container). An
// engine that refuses the request answers before it stops reading; `outcome` reads that answer, or
// the one after the whole body, into what the call returns.
template <class T>
class StreamedUpload {
 public:
  using Outcome = std::function<Result<T>(const transport::HttpResponse&)>;
  StreamedUpload(std::unique_ptr<transport::BodyUpload> upload, std::string engine, std::string what,
                 Outcome outcome)
      : upload_(std::move(upload)), engine_(std::move(engine)), what_(std::move(what)), outcome_(std::move(outcome)) {}

  Status write(std::string_view piece) {
    if (failure_) return fail(*failure_);
    BERTH_CHECK(!finished_);
    auto written = upload_->write(piece);
    if (written) return ok();
    finished_ = true;
    auto answer = upload_->finish();
    auto said = answer ? outcome_(*answer) : fail(answer.error());
    failure_ = said ? engineCallError(engine_, what_, written.error()) : std::move(said).error();
    return fail(*failure_);
  }

  Result<T> finish() { return finishStreaming(nullptr); }

  // finish(), with a successful answer's body handed to `onBody` as it arrives.
  Result<T> finishStreaming(const std::function<Status(std::string_view)>& onBody) {
    if (failure_) return fail(*failure_);
    BERTH_CHECK(!finished_);
    finished_ = true;
    std::optional<Error> bodyError;  // onBody's own errors say what they are about already
    auto r = onBody ? upload_->finish([&](std::string_view piece) {
      Status s = onBody(piece);
      if (!s) bodyError = s.error();
      return s;
    })
                    : upload_->finish();
    if (!r) return fail(bodyError ? *bodyError : engineCallError(engine_, what_, r.error()));
    return outcome_(*r);
  }

  void cancel() { upload_->cancel(); }

 private:
  std::unique_ptr<transport::BodyUpload> upload_;
  std::string engine_;
  std::string what_;
  Outcome outcome_;
  std::optional<Error> failure_;
  bool finished_ = false;
};

// A `docker load` streamed as a chunked POST /images/load.
class HttpImageLoad final : public ImageLoad {
 public:
  HttpImageLoad(std::unique_ptr<transport::BodyUpload> upload, const std::string& engine)
      : upload_(std::move(upload), engine, std::string(kLoadImages), [engine](const transport::HttpResponse& r) {
          return outcome(engine, r);
        }) {}

  Status write(std::string_view piece) override { return upload_.write(piece); }
  Result<std::vector<std::string>> finish() override { return upload_.finish(); }
  void cancel() override { upload_.cancel(); }

 private:
  // What the engine's answer says: an error status, or (as dockerd reports a failed load, with
  // status 200 already sent) an error message in the progress stream, or the images loaded.
  static Result<std::vector<std::string>> outcome(const std::string& engine, const transport::HttpResponse& r) {
    if (r.head.status >= 400) {
      return fail(engineAnswerError(engine, kLoadImages, r.head.status, r.head.reason, r.body));
    }
    auto texts = progressTexts(r.body);
    if (!texts) return fail(engineCallError(engine, kLoadImages, texts.error()));
    return loadedImages(*texts);
  }

  StreamedUpload<std::vector<std::string>> upload_;
};

// A tar streamed into a container as a chunked PUT /containers/{id}/archive.
class HttpArchiveUpload final : public ArchiveUpload {
 public:
  HttpArchiveUpload(std::unique_ptr<transport::BodyUpload> upload, const std::string& engine, const std::string& what)
      : upload_(std::move(upload), engine, what, [engine, what](const transport::HttpResponse& r) -> Status {
          if (r.head.status >= 400) return fail(engineAnswerError(engine, what, r.head.status, r.head.reason, r.body));
          return ok();
        }) {}

  Status write(std::string_view piece) override { return upload_.write(piece); }
  Status finish() override { return upload_.finish(); }
  void cancel() override { upload_.cancel(); }

 private:
  StreamedUpload<void> upload_;
};

}  // namespace

struct HttpEngine::Call {
  std::string method = "GET";
  std::string path{};  // with its query
  std::string_view body{};
  std::string contentType{};
  Timeout timeout{0};  // 0: the engine's request timeout
  bool head = false;
};

HttpEngine::HttpEngine(const Endpoint& endpoint, std::unique_ptr<transport::HttpClient> client,
                       EngineOptions options)
    : address_(endpoint.url()),
      description_(endpoint.describe()),
      client_(std::move(client)),
      pinned_(endpoint.pinnedApiVersion),
      options_(options) {}

HttpEngine::~HttpEngine() = default;

void HttpEngine::closeIdleConnections() { client_->closeIdle(); }

Result<ApiVersion> HttpEngine::negotiate() {
  std::lock_guard lock(versionMu_);
  if (version_) return *version_;
  if (pinned_) {
    BERTH_ASSIGN_OR_RETURN(version_, negotiateApiVersion("", pinned_));
    return *version_;
  }
  HttpRequest req;
  req.target = "/_ping";
  BERTH_ASSIGN_OR_RETURN(auto r, client_->send(req, options_.requestTimeout));
  if (r.head.status != 200) {
    return fail(errorCodeForStatus(r.head.status), engineAnswerText(r.head.status, r.head.reason, r.body));
  }
  BERTH_ASSIGN_OR_RETURN(version_, negotiateApiVersion(r.head.header("API-Version"), std::nullopt));
  log::debug("{}: API {} (engine offers {})", description_, version_->toString(),
             r.head.header("API-Version"));
  return *version_;
}

Result<ApiVersion> HttpEngine::apiVersion() {
  auto v = negotiate();
  if (!v) return fail(engineCallError(description_, "negotiate the API version", v.error()));
  return v;
}

Result<std::string> HttpEngine::versioned(std::string_view what, std::string_view pathAndQuery) {
  auto v = negotiate();
  if (!v) return fail(engineCallError(description_, what, v.error()));
  return fmt::format("/v{}{}", v->toString(), pathAndQuery);
}

Result<HttpRequest> HttpEngine::request(std::string_view what, const Call& c) {
  BERTH_ASSIGN_OR_RETURN(std::string target, versioned(what, c.path));
  HttpRequest req;
  req.method = c.method;
  req.target = std::move(target);
  req.body = std::string(c.body);
  if (!c.contentType.empty()) req.headers.push_back({"Content-Type", c.contentType});
  return req;
}

Result<HttpResponse> HttpEngine::call(std::string_view what, const Call& c) {
  BERTH_ASSIGN_OR_RETURN(const HttpRequest req, request(what, c));
  const Timeout timeout = c.timeout.count() > 0 ? c.timeout : options_.requestTimeout;
  auto r = client_->send(req, timeout, c.head);
  if (!r) return fail(engineCallError(description_, what, r.error()));
  if (r->head.status >= 400) {
    return fail(engineAnswerError(description_, what, r->head.status, r->head.reason, r->body));
  }
  return r;
}

Result<bool> HttpEngine::streamBody(std::string_view what, const Call& c, Timeout headerTimeout,
                                    Timeout bodyTimeout, const PieceFn& onPiece, std::stop_token stop,
                                    const transport::IdleFn& onIdle) {
  BERTH_ASSIGN_OR_RETURN(const HttpRequest req, request(what, c));
  std::optional<Error> failure;
  bool stopped = false;
  const auto onBody = [&](std::string_view piece) -> bool {
    auto more = onPiece(piece);
    if (!more) failure = std::move(more).error();
    if (!more || !*more) stopped = true;
    return !stopped;
  };
  auto r = client_->stream(req, headerTimeout, bodyTimeout, onBody, stop, onIdle);
  if (!r) {
    if (r.error().code() == ErrorCode::Cancelled && stop.stop_requested()) return false;
    return fail(engineCallError(description_, what, r.error()));
  }
  if (r->head.status >= 400) {
    return fail(engineAnswerError(description_, what, r->head.status, r->head.reason, r->body));
  }
  if (failure) return fail(engineCallError(description_, what, *failure));
  return !stopped;
}

Status HttpEngine::streamLines(std::string_view what, const Call& c, Timeout headerTimeout,
                               Timeout bodyTimeout, const PieceFn& onLine, std::stop_token stop,
                               const transport::IdleFn& onIdle) {
  transport::LineSplitter lines;
  std::optional<Error> lineError;
  const auto deliver = [&](std::string_view line) -> bool {
    auto more = onLine(line);
    if (!more) lineError = std::move(more).error();
    return more && *more;
  };
  const auto onPiece = [&](std::string_view piece) -> Result<bool> {
    BERTH_ASSIGN_OR_RETURN(const bool more, lines.feed(piece, deliver));
    if (lineError) return fail(*lineError);
    return more;
  };
  BERTH_ASSIGN_OR_RETURN(const bool completed,
                         streamBody(what, c, headerTimeout, bodyTimeout, onPiece, stop, onIdle));
  if (!completed) return ok();
  // A last line without its newline.
  auto last = lines.finish(deliver);
  if (!last) return fail(engineCallError(description_, what, last.error()));
  if (lineError) return fail(engineCallError(description_, what, *lineError));
  return ok();
}

Result<std::vector<std::string>> HttpEngine::progressCall(std::string_view what, const Call& c,
                                                          const ProgressFn& onProgress, std::string* auxId) {
  std::vector<std::string> texts;  // stream and status texts, in order
  const auto onLine = [&](std::string_view line) -> Result<bool> {
    BERTH_TRY(takeProgressMessage(line, texts, onProgress, auxId));
    return true;
  };
  BERTH_TRY(streamLines(what, c, options_.requestTimeout, options_.longTimeout, onLine, {}));
  return texts;
}

Result<std::unique_ptr<AttachedStream>> HttpEngine::hijack(std::string_view what, const Call& c, bool tty) {
  BERTH_ASSIGN_OR_RETURN(const HttpRequest req, request(what, c));
  auto r = client_->upgrade(req, options_.requestTimeout);
  if (!r) return fail(engineCallError(description_, what, r.error()));
  if (!r->connection) {
    const auto& head = r->response.head;
    return fail(engineAnswerError(description_, what, head.status, head.reason, r->response.body));
  }
  return std::unique_ptr<AttachedStream>(
      std::make_unique<HttpAttachedStream>(std::move(r->connection), std::move(r->initial), tty, description_,
                                           std::string(what), options_.requestTimeout));
}

// --- System

Result<PingResult> HttpEngine::ping() {
  HttpRequest req;
  req.target = "/_ping";
  auto r = client_->send(req, options_.requestTimeout);
  if (!r) return fail(engineCallError(description_, "ping", r.error()));
  if (r->head.status != 200) {
    return fail(engineAnswerError(description_, "ping", r->head.status, r->head.reason, r->body));
  }
  PingResult p;
  p.apiVersion = r->head.header("API-Version");
  p.osType = r->head.header("OSType");
  p.experimental = r->head.header("Docker-Experimental") == "true";
  p.builderVersion = r->head.header("Builder-Version");
  return p;
}

Result<EngineVersion> HttpEngine::version() {
  BERTH_ASSIGN_OR_RETURN(auto r, call("version", {.path = "/version"}));
  auto v = json::decodeVersion(r.body);
  if (!v) return fail(engineCallError(description_, "version", v.error()));
  return v;
}

Result<EngineInfo> HttpEngine::info() {
  BERTH_ASSIGN_OR_RETURN(auto r, call("info", {.path = "/info"}));
  auto v = json::decodeInfo(r.body);
  if (!v) return fail(engineCallError(description_, "info", v.error()));
  return v;
}

// A decoded answer, or the decoder's error with the engine and operation in front.
#define BERTH_DECODE(what, decoder, body)                                                \
  do {                                                                                   \
    auto decoded_ = (decoder)(body);                                                     \
    if (!decoded_) return fail(engineCallError(description_, (what), decoded_.error())); \
    return decoded_;                                                                     \
  } while (0)

// --- Images

Result<std::vector<ImageSummary>> HttpEngine::listImages(const ListImagesOptions& options) {
  const std::string what = "list images";
  Query q;
  q.flag("all", options.all).filters(options.filters);
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/images/json" + q.str()}));
  BERTH_DECODE(what, json::decodeImageList, r.body);
}

Result<ImageInspect> HttpEngine::inspectImage(const std::string& ref) {
  const std::string what = "inspect image " + ref;
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/images/" + seg(ref) + "/json"}));
  BERTH_DECODE(what, json::decodeImageInspect, r.body);
}

Result<BuildResult> HttpEngine::buildImage(std::string_view contextTar, const BuildOptions& options,
                                           const ProgressFn& onProgress) {
  return buildImageStreamed([&](const std::function<Status(std::string_view)>& sink) { return sink(contextTar); },
                            options, onProgress);
}

Result<BuildResult> HttpEngine::buildImageStreamed(const ContextWriter& writer, const BuildOptions& options,
                                                   const ProgressFn& onProgress) {
  const std::string what =
      options.tags.empty() ? std::string("build image") : "build image " + options.tags.front();
  Query q;
  q.nonEmpty("dockerfile", options.dockerfile);
  for (const auto& t : options.tags) q.add("t", t);
  if (!options.buildArgs.empty()) q.add("buildargs", json::encodeStringMap(options.buildArgs));
  q.nonEmpty("target", options.target);
  if (!options.labels.empty()) q.add("labels", json::encodeStringMap(options.labels));
  q.flag("nocache", options.noCache).flag("pull", options.pull);
  q.add("rm", options.remove ? "1" : "0").flag("forcerm", options.forceRemove);
  q.nonEmpty("networkmode", options.networkMode);
  if (!options.cacheFrom.empty()) q.add("cachefrom", json::encodeStringList(options.cacheFrom));
  for (const auto& h : options.extraHosts) q.add("extrahosts", h);
  q.nonEmpty("platform", options.platform);
  if (options.shmSize > 0) q.add("shmsize", std::to_string(options.shmSize));
  BERTH_ASSIGN_OR_RETURN(const HttpRequest req, request(what, {.method = "POST",
                                                               .path = "/build" + q.str(),
                                                               .contentType = "application/x-tar"}));
  // The context goes up as a chunked body while it is read; the engine's progress comes back once
  // it has all of it, line by line as the build runs.
  auto upload = client_->beginUpload(req, options_.longTimeout);
  if (!upload) return fail(engineCallError(description_, what, upload.error()));
  StreamedUpload<transport::HttpResponse> streamed(
      std::move(upload).value(), description_, what,
      [](const transport::HttpResponse& r) -> Result<transport::HttpResponse> { return r; });
  Status sent = writer([&](std::string_view piece) { return streamed.write(piece); });
  if (!sent) {
    streamed.cancel();
    return fail(std::move(sent).error());
  }
  std::vector<std::string> texts;
  std::string imageId;
  transport::LineSplitter lines;
  std::optional<Error> progressError;
  const transport::LineSplitter::LineFn onLine = [&](std::string_view line) {
    if (Status s = takeProgressMessage(line, texts, onProgress, &imageId); !s) {
      progressError = engineCallError(description_, what, s.error());
      return false;
    }
    return true;
  };
  auto answer = streamed.finishStreaming([&](std::string_view piece) -> Status {
    auto more = lines.feed(piece, onLine);
    if (!more) return fail(engineCallError(description_, what, more.error()));
    if (progressError) return fail(*progressError);
    return ok();
  });
  if (!answer) return fail(std::move(answer).error());
  if (answer->head.status >= 400) {
    return fail(engineAnswerError(description_, what, answer->head.status, answer->head.reason, answer->body));
  }
  auto last = lines.finish(onLine);
  if (!last) return fail(engineCallError(description_, what, last.error()));
  if (progressError) return fail(*progressError);
  BuildResult result;
  for (const auto& t : texts) result.output += t;
  if (imageId.empty()) {
    // Engines without aux messages print "Successfully built <short id>".
    const auto pos = result.output.rfind("Successfully built ");
    if (pos != std::string::npos) {
      imageId = std::string(trim(result.output.substr(pos + 19, result.output.find('\n', pos) - pos - 19)));
    }
  }
  if (imageId.empty()) {
    return fail(ErrorCode::Internal,
                fmt::format("{}: {}: the build finished without naming the image", description_, what));
  }
  result.imageId = std::move(imageId);
  return result;
}

Result<std::string> HttpEngine::importImage(std::string_view rootfsTar, const ImportImageOptions& options) {
  const std::string what =
      options.repo.empty() ? std::string("import image") : "import image " + options.repo;
  Query q;
  q.add("fromSrc", "-").nonEmpty("repo", options.repo).nonEmpty("tag", options.tag);
  q.nonEmpty("message", options.message).nonEmpty("platform", options.platform);
  for (const auto& c : options.changes) q.add("changes", c);
  BERTH_ASSIGN_OR_RETURN(auto texts, progressCall(what,
                                                  {.method = "POST",
                                                   .path = "/images/create" + q.str(),
                                                   .body = rootfsTar,
                                                   .contentType = "application/x-tar"},
                                                  nullptr, nullptr));
  for (auto it = texts.rbegin(); it != texts.rend(); ++it) {
    const auto id = trim(*it);
    if (startsWith(id, "sha256:")) return std::string(id);
  }
  return fail(ErrorCode::Internal,
              fmt::format("{}: {}: the engine did not name the imported image", description_, what));
}

Result<std::vector<std::string>> HttpEngine::loadImage(std::string_view tar) {
  // One path for every load. A piece this large is written in place, without a copy.
  BERTH_ASSIGN_OR_RETURN(auto load, beginImageLoad());
  BERTH_TRY(load->write(tar));
  return load->finish();
}

Result<std::unique_ptr<ImageLoad>> HttpEngine::beginImageLoad() {
  BERTH_ASSIGN_OR_RETURN(const HttpRequest req, request(kLoadImages, {.method = "POST",
                                                                      .path = "/images/load?quiet=1",
                                                                      .contentType = "application/x-tar"}));
  auto upload = client_->beginUpload(req, options_.longTimeout);
  if (!upload) return fail(engineCallError(description_, kLoadImages, upload.error()));
  return std::unique_ptr<ImageLoad>(std::make_unique<HttpImageLoad>(std::move(upload).value(), description_));
}

Result<std::string> HttpEngine::saveImages(const std::vector<std::string>& refs) {
  std::string tar;
  BERTH_TRY(saveImagesTo(refs,
                         [&](std::string_view piece) {
                           tar += piece;
                           return true;
                         },
                         {}));
  return tar;
}

Status HttpEngine::saveImagesTo(const std::vector<std::string>& refs,
                                const std::function<bool(std::string_view piece)>& sink,
                                std::stop_token stop) {
  const std::string what = "save images " + join(refs, " ");
  Query q;
  for (const auto& r : refs) q.add("names", r);
  const auto onPiece = [&](std::string_view piece) -> Result<bool> { return sink(piece); };
  // dockerd stages the whole export before the tar's first byte (and the answer's header) goes out,
  // so the header may take as long as the body.
  BERTH_ASSIGN_OR_RETURN(const bool completed,
                         streamBody(what, {.path = "/images/get" + q.str()}, options_.longTimeout,
                                    options_.longTimeout, onPiece, stop));
  if (!completed) return fail(ErrorCode::Cancelled, fmt::format("{}: {}: stopped", description_, what));
  return ok();
}

Status HttpEngine::pullImage(const std::string& ref, const std::string& platform,
                             const ProgressFn& onProgress) {
  const std::string what = "pull image " + ref;
  // "name:tag" / "name@digest": the API takes the name and the tag (or digest) apart.
  std::string name = ref;
  std::string tag;
  if (const auto at = ref.find('@'); at != std::string::npos) {
    name = ref.substr(0, at);
    tag = ref.substr(at + 1);
  } else if (const auto colon = ref.rfind(':');
             colon != std::string::npos && ref.find('/', colon) == std::string::npos) {
    name = ref.substr(0, colon);
    tag = ref.substr(colon + 1);
  }
  Query q;
  q.add("fromImage", name).add("tag", tag.empty() ? "latest" : tag).nonEmpty("platform", platform);
  BERTH_TRY(progressCall(what, {.method = "POST", .path = "/images/create" + q.str()}, onProgress, nullptr));
  return ok();
}

Status HttpEngine::tagImage(const std::string& source, const std::string& repo, const std::string& tag) {
  const std::string what = fmt::format("tag image {} as {}{}", source, repo, tag.empty() ? "" : ":" + tag);
  Query q;
  q.add("repo", repo).nonEmpty("tag", tag);
  BERTH_TRY(call(what, {.method = "POST", .path = "/images/" + seg(source) + "/tag" + q.str()}));
  return ok();
}

Result<std::vector<ImageDeleteItem>> HttpEngine::removeImage(const std::string& ref,
                                                             const RemoveImageOptions& options) {
  const std::string what = "remove image " + ref;
  Query q;
  q.flag("force", options.force).flag("noprune", options.noPrune);
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.method = "DELETE", .path = "/images/" + seg(ref) + q.str()}));
  BERTH_DECODE(what, json::decodeImageDelete, r.body);
}

// --- Containers

Result<ContainerCreated> HttpEngine::createContainer(const ContainerCreate& spec) {
  const std::string what =
      spec.name.empty() ? "create container from " + spec.config.image : "create container " + spec.name;
  Query q;
  q.nonEmpty("name", spec.name).nonEmpty("platform", spec.platform);
  const std::string body = json::encodeContainerCreate(spec);
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.method = "POST",
                                             .path = "/containers/create" + q.str(),
                                             .body = body,
                                             .contentType = "application/json"}));
  BERTH_DECODE(what, json::decodeContainerCreated, r.body);
}

Status HttpEngine::startContainer(const std::string& id) {
  BERTH_TRY(call("start container " + id, {.method = "POST", .path = "/containers/" + seg(id) + "/start"}));
  return ok();
}

Status HttpEngine::stopContainer(const std::string& id, std::optional<int> timeoutSeconds) {
  Query q;
  if (timeoutSeconds) q.add("t", std::to_string(*timeoutSeconds));
  const auto grace = std::chrono::seconds(timeoutSeconds.value_or(10));
  BERTH_TRY(call("stop container " + id, {.method = "POST",
                                          .path = "/containers/" + seg(id) + "/stop" + q.str(),
                                          .timeout = options_.requestTimeout + grace}));
  return ok();
}

Status HttpEngine::killContainer(const std::string& id, const std::string& signal) {
  Query q;
  q.nonEmpty("signal", signal);
  BERTH_TRY(
      call("kill container " + id, {.method = "POST", .path = "/containers/" + seg(id) + "/kill" + q.str()}));
  return ok();
}

Status HttpEngine::restartContainer(const std::string& id, std::optional<int> timeoutSeconds) {
  Query q;
  if (timeoutSeconds) q.add("t", std::to_string(*timeoutSeconds));
  const auto grace = std::chrono::seconds(timeoutSeconds.value_or(10));
  BERTH_TRY(call("restart container " + id, {.method = "POST",
                                             .path = "/containers/" + seg(id) + "/restart" + q.str(),
                                             .timeout = options_.requestTimeout + grace}));
  return ok();
}

Status HttpEngine::removeContainer(const std::string& id, const RemoveContainerOptions& options) {
  Query q;
  q.flag("force", options.force).flag("v", options.volumes);
  BERTH_TRY(call("remove container " + id, {.method = "DELETE", .path = "/containers/" + seg(id) + q.str()}));
  return ok();
}

Result<ContainerInspect> HttpEngine::inspectContainer(const std::string& id) {
  const std::string what = "inspect container " + id;
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/containers/" + seg(id) + "/json"}));
  BERTH_DECODE(what, json::decodeContainerInspect, r.body);
}

Result<std::vector<ContainerSummary>> HttpEngine::listContainers(const ListContainersOptions& options) {
  const std::string what = "list containers";
  Query q;
  q.flag("all", options.all).filters(options.filters);
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/containers/json" + q.str()}));
  BERTH_DECODE(what, json::decodeContainerList, r.body);
}

Status HttpEngine::containerLogs(const std::string& id, const LogsOptions& options, const OutputSink& sink,
                                 std::stop_token stop) {
  const std::string what = "logs of container " + id;
  // API 1.41 sends TTY and non-TTY logs with the same content type: the container says which it is.
  BERTH_ASSIGN_OR_RETURN(const ContainerInspect container, inspectContainer(id));
  Query q;
  q.flag("stdout", options.stdoutStream).flag("stderr", options.stderrStream);
  q.flag("follow", options.follow).flag("timestamps", options.timestamps);
  q.nonEmpty("since", options.since).nonEmpty("until", options.until).nonEmpty("tail", options.tail);
  transport::StreamDemux demux(!container.config.tty);
  const auto onPiece = [&](std::string_view piece) -> Result<bool> {
    BERTH_TRY(demux.feed(piece, sink));
    return true;
  };
  // dockerd sends a followed stream's header only with its first output, so an idle stream has no
  // header deadline either; the caller stops it.
  const Timeout headerTimeout = options.follow ? transport::kNoTimeout : options_.requestTimeout;
  const Timeout bodyTimeout = options.follow ? transport::kNoTimeout : options_.longTimeout;
  BERTH_ASSIGN_OR_RETURN(const bool completed,
                         streamBody(what, {.path = "/containers/" + seg(id) + "/logs" + q.str()},
                                    headerTimeout, bodyTimeout, onPiece, stop));
  if (completed) {
    if (auto f = demux.finish(); !f) return fail(engineCallError(description_, what, f.error()));
  }
  return ok();
}

Result<WaitResult> HttpEngine::waitContainer(const std::string& id, WaitCondition condition,
                                             std::chrono::milliseconds timeout) {
  const std::string what = "wait for container " + id;
  Query q;
  q.add("condition", waitConditionName(condition));
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.method = "POST",
                                             .path = "/containers/" + seg(id) + "/wait" + q.str(),
                                             .timeout = timeout}));
  BERTH_DECODE(what, json::decodeWaitResult, r.body);
}

Status HttpEngine::putArchive(const std::string& id, const std::string& path, std::string_view tar,
                              const PutArchiveOptions& options) {
  Query q;
  q.add("path", path)
      .flag("noOverwriteDirNonDir", options.noOverwriteDirNonDir)
      .flag("copyUIDGID", options.copyUidGid);
  BERTH_TRY(
      call(fmt::format("copy to {}:{}", id, path), {.method = "PUT",
                                                    .path = "/containers/" + seg(id) + "/archive" + q.str(),
                                                    .body = tar,
                                                    .contentType = "application/x-tar",
                                                    .timeout = options_.longTimeout}));
  return ok();
}

Result<ArchiveResult> HttpEngine::getArchive(const std::string& id, const std::string& path) {
  ArchiveResult result;
  BERTH_ASSIGN_OR_RETURN(result.stat, getArchiveTo(
                                          id, path,
                                          [&](std::string_view piece) {
                                            result.tar += piece;
                                            return true;
                                          },
                                          {}));
  return result;
}

Result<PathStat> HttpEngine::getArchiveTo(const std::string& id, const std::string& path,
                                          const std::function<bool(std::string_view piece)>& sink,
                                          std::stop_token stop) {
  const std::string what = fmt::format("copy from {}:{}", id, path);
  Query q;
  q.add("path", path);
  BERTH_ASSIGN_OR_RETURN(const HttpRequest req, request(what, {.path = "/containers/" + seg(id) + "/archive" + q.str()}));
  bool stopped = false;
  const auto onBody = [&](std::string_view piece) {
    if (!sink(piece)) stopped = true;
    return !stopped;
  };
  auto r = client_->stream(req, options_.longTimeout, options_.longTimeout, onBody, stop);
  if (!r) {
    if (r.error().code() == ErrorCode::Cancelled && stop.stop_requested()) stopped = true;
    if (!stopped) return fail(engineCallError(description_, what, r.error()));
  }
  if (stopped) return fail(ErrorCode::Cancelled, fmt::format("{}: {}: stopped", description_, what));
  if (r->head.status >= 400) {
    return fail(engineAnswerError(description_, what, r->head.status, r->head.reason, r->body));
  }
  const std::string header = r->head.header("X-Docker-Container-Path-Stat");
  if (header.empty()) return PathStat{};
  BERTH_DECODE(what, json::decodePathStat, header);
}

Result<std::unique_ptr<ArchiveUpload>> HttpEngine::beginPutArchive(const std::string& id, const std::string& path,
                                                                   const PutArchiveOptions& options) {
  const std::string what = fmt::format("copy to {}:{}", id, path);
  Query q;
  q.add("path", path)
      .flag("noOverwriteDirNonDir", options.noOverwriteDirNonDir)
      .flag("copyUIDGID", options.copyUidGid);
  BERTH_ASSIGN_OR_RETURN(const HttpRequest req,
                         request(what, {.method = "PUT",
                                        .path = "/containers/" + seg(id) + "/archive" + q.str(),
                                        .contentType = "application/x-tar"}));
  auto upload = client_->beginUpload(req, options_.longTimeout);
  if (!upload) return fail(engineCallError(description_, what, upload.error()));
  return std::unique_ptr<ArchiveUpload>(std::make_unique<HttpArchiveUpload>(std::move(upload).value(), description_, what));
}

Result<PathStat> HttpEngine::statPath(const std::string& id, const std::string& path) {
  const std::string what = fmt::format("stat {}:{}", id, path);
  Query q;
  q.add("path", path);
  BERTH_ASSIGN_OR_RETURN(
      auto r,
      call(what, {.method = "HEAD", .path = "/containers/" + seg(id) + "/archive" + q.str(), .head = true}));
  const std::string header = r.head.header("X-Docker-Container-Path-Stat");
  if (header.empty()) {
    return fail(ErrorCode::Internal, fmt::format("{}: {}: the engine sent no path stat", description_, what));
  }
  BERTH_DECODE(what, json::decodePathStat, header);
}

Result<ContainerStats> HttpEngine::containerStats(const std::string& id) {
  const std::string what = "stats of container " + id;
  // stream=0 without one-shot: the engine samples twice, so preCpu is filled for CPU percentages.
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/containers/" + seg(id) + "/stats?stream=0"}));
  BERTH_DECODE(what, json::decodeStats, r.body);
}

Status HttpEngine::pauseContainer(const std::string& id) {
  BERTH_TRY(call("pause container " + id, {.method = "POST", .path = "/containers/" + seg(id) + "/pause"}));
  return ok();
}

Status HttpEngine::unpauseContainer(const std::string& id) {
  BERTH_TRY(
      call("unpause container " + id, {.method = "POST", .path = "/containers/" + seg(id) + "/unpause"}));
  return ok();
}

Result<TopResult> HttpEngine::topContainer(const std::string& id, const std::string& psArgs) {
  const std::string what = "top of container " + id;
  Query q;
  q.nonEmpty("ps_args", psArgs);
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/containers/" + seg(id) + "/top" + q.str()}));
  BERTH_DECODE(what, json::decodeTop, r.body);
}

Status HttpEngine::renameContainer(const std::string& id, const std::string& newName) {
  Query q;
  q.add("name", newName);
  BERTH_TRY(call(fmt::format("rename container {} to {}", id, newName),
                 {.method = "POST", .path = "/containers/" + seg(id) + "/rename" + q.str()}));
  return ok();
}

Result<std::unique_ptr<AttachedStream>> HttpEngine::attachContainer(const std::string& id,
                                                                    const AttachOptions& options) {
  BERTH_ASSIGN_OR_RETURN(const ContainerInspect container, inspectContainer(id));
  Query q;
  q.add("stream", "1").flag("stdin", options.stdinStream).flag("stdout", options.stdoutStream);
  q.flag("stderr", options.stderrStream)
      .flag("logs", options.logs)
      .nonEmpty("detachKeys", options.detachKeys);
  return hijack("attach to container " + id,
                {.method = "POST", .path = "/containers/" + seg(id) + "/attach" + q.str()},
                container.config.tty);
}

Status HttpEngine::resizeContainerTty(const std::string& id, int height, int width) {
  Query q;
  q.add("h", std::to_string(height)).add("w", std::to_string(width));
  BERTH_TRY(call("resize the TTY of container " + id,
                 {.method = "POST", .path = "/containers/" + seg(id) + "/resize" + q.str()}));
  return ok();
}

// --- Networks

Result<std::string> HttpEngine::createNetwork(const NetworkCreate& spec) {
  const std::string what = "create network " + spec.name;
  const std::string body = json::encodeNetworkCreate(spec);
  BERTH_ASSIGN_OR_RETURN(
      auto r,
      call(what,
           {.method = "POST", .path = "/networks/create", .body = body, .contentType = "application/json"}));
  BERTH_DECODE(what, json::decodeId, r.body);
}

Result<Network> HttpEngine::inspectNetwork(const std::string& idOrName) {
  const std::string what = "inspect network " + idOrName;
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/networks/" + seg(idOrName)}));
  BERTH_DECODE(what, json::decodeNetwork, r.body);
}

Result<std::vector<Network>> HttpEngine::listNetworks(const Filters& filters) {
  const std::string what = "list networks";
  Query q;
  q.filters(filters);
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/networks" + q.str()}));
  BERTH_DECODE(what, json::decodeNetworkList, r.body);
}

Status HttpEngine::connectNetwork(const std::string& network, const std::string& container,
                                  const EndpointSettings& endpoint) {
  const std::string body = json::encodeNetworkConnect(container, endpoint);
  BERTH_TRY(call(fmt::format("connect container {} to network {}", container, network),
                 {.method = "POST",
                  .path = "/networks/" + seg(network) + "/connect",
                  .body = body,
                  .contentType = "application/json"}));
  return ok();
}

Status HttpEngine::disconnectNetwork(const std::string& network, const std::string& container, bool force) {
  const std::string body = json::encodeNetworkDisconnect(container, force);
  BERTH_TRY(call(fmt::format("disconnect container {} from network {}", container, network),
                 {.method = "POST",
                  .path = "/networks/" + seg(network) + "/disconnect",
                  .body = body,
                  .contentType = "application/json"}));
  return ok();
}

Status HttpEngine::removeNetwork(const std::string& idOrName) {
  BERTH_TRY(call("remove network " + idOrName, {.method = "DELETE", .path = "/networks/" + seg(idOrName)}));
  return ok();
}

// --- Volumes

Result<Volume> HttpEngine::createVolume(const VolumeCreate& spec) {
  const std::string what = spec.name.empty() ? std::string("create volume") : "create volume " + spec.name;
  const std::string body = json::encodeVolumeCreate(spec);
  BERTH_ASSIGN_OR_RETURN(
      auto r,
      call(what,
           {.method = "POST", .path = "/volumes/create", .body = body, .contentType = "application/json"}));
  BERTH_DECODE(what, json::decodeVolume, r.body);
}

Result<Volume> HttpEngine::inspectVolume(const std::string& name) {
  const std::string what = "inspect volume " + name;
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/volumes/" + seg(name)}));
  BERTH_DECODE(what, json::decodeVolume, r.body);
}

Result<std::vector<Volume>> HttpEngine::listVolumes(const Filters& filters) {
  const std::string what = "list volumes";
  Query q;
  q.filters(filters);
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/volumes" + q.str()}));
  BERTH_DECODE(what, json::decodeVolumeList, r.body);
}

Result<std::vector<Volume>> HttpEngine::volumeUsage() {
  const std::string what = "volume disk usage";
  // `type` is API 1.42's; older engines ignore it and answer for everything.
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/system/df?type=volume", .timeout = options_.longTimeout}));
  BERTH_DECODE(what, json::decodeDiskUsageVolumes, r.body);
}

Status HttpEngine::removeVolume(const std::string& name, bool force) {
  Query q;
  q.flag("force", force);
  BERTH_TRY(call("remove volume " + name, {.method = "DELETE", .path = "/volumes/" + seg(name) + q.str()}));
  return ok();
}

// --- Exec

Result<std::string> HttpEngine::createExec(const std::string& container, const ExecCreate& spec) {
  const std::string what = "create exec in container " + container;
  const std::string body = json::encodeExecCreate(spec);
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.method = "POST",
                                             .path = "/containers/" + seg(container) + "/exec",
                                             .body = body,
                                             .contentType = "application/json"}));
  BERTH_DECODE(what, json::decodeId, r.body);
}

Status HttpEngine::startExecDetached(const std::string& execId) {
  const std::string body = json::encodeExecStart(true, false);
  BERTH_TRY(call("start exec " + execId, {.method = "POST",
                                          .path = "/exec/" + seg(execId) + "/start",
                                          .body = body,
                                          .contentType = "application/json"}));
  return ok();
}

Result<std::unique_ptr<AttachedStream>> HttpEngine::startExecAttached(const std::string& execId, bool tty) {
  const std::string body = json::encodeExecStart(false, tty);
  return hijack("start exec " + execId,
                {.method = "POST",
                 .path = "/exec/" + seg(execId) + "/start",
                 .body = body,
                 .contentType = "application/json"},
                tty);
}

Result<ExecInspect> HttpEngine::inspectExec(const std::string& execId) {
  const std::string what = "inspect exec " + execId;
  BERTH_ASSIGN_OR_RETURN(auto r, call(what, {.path = "/exec/" + seg(execId) + "/json"}));
  BERTH_DECODE(what, json::decodeExecInspect, r.body);
}

Status HttpEngine::resizeExecTty(const std::string& execId, int height, int width) {
  Query q;
  q.add("h", std::to_string(height)).add("w", std::to_string(width));
  BERTH_TRY(call("resize the TTY of exec " + execId,
                 {.method = "POST", .path = "/exec/" + seg(execId) + "/resize" + q.str()}));
  return ok();
}

// --- Events

Status HttpEngine::events(const EventsOptions& options, const EventFn& onEvent, std::stop_token stop) {
  const std::string what = "events";
  Query q;
  q.nonEmpty("since", options.since).nonEmpty("until", options.until).filters(options.filters);
  const auto onLine = [&](std::string_view line) -> Result<bool> {
    BERTH_ASSIGN_OR_RETURN(const Event event, json::decodeEvent(line));
    return onEvent(event);
  };
  // dockerd sends the header only with the first event: no header deadline for an idle stream,
  // only the one for the whole answer when it has an end.
  const Timeout limit = options.timeout > Timeout::zero() ? options.timeout : transport::kNoTimeout;
  return streamLines(what, {.path = "/events" + q.str()}, limit, limit, onLine, stop, options.idle);
}

// --- Factory (makeEngine: make_engine.cc; makeSocketEngine: socket_engine.cc)

Result<std::unique_ptr<Engine>> engineOver(const Endpoint& endpoint,
                                           Result<std::unique_ptr<transport::Transport>> transport,
                                           const EngineOptions& options) {
  if (!transport)
    return fail(transport.error().code(),
                fmt::format("{}: {}", endpoint.describe(), transport.error().message()));
  transport::HttpClientOptions clientOptions;
  clientOptions.connectTimeout = options.connectTimeout;
  // What the docker CLI sends, so engine logs and proxies read the same.
  if (endpoint.scheme == Scheme::Tcp) {
    const bool v6 = endpoint.host.find(':') != std::string::npos;
    clientOptions.hostHeader = v6 ? fmt::format("[{}]:{}", endpoint.host, endpoint.port)
                                  : fmt::format("{}:{}", endpoint.host, endpoint.port);
  } else {
    clientOptions.hostHeader = "api.moby.localhost";
  }
  auto client = std::make_unique<transport::HttpClient>(std::move(transport).value(), clientOptions);
  return std::unique_ptr<Engine>(std::make_unique<HttpEngine>(endpoint, std::move(client), options));
}

}  // namespace berth::engine
