// The messages berth and berthd exchange: one module of plain types shared by both ends, and their
// JSON form. The transport is HTTP/1.1 (berthd's server in src/daemon, berth's client over the
// engine module's HTTP client): requests are `METHOD /v1/...` with a JSON body where they carry
// one, answers are JSON (2xx) or an ErrorReply (4xx/5xx); streams (events, logs, image upload)
// are chunked bodies of JSON lines or raw bytes. docs/controller.md lists the routes.
//
// Decoding is strict about types and lenient about unknown fields (a newer peer may send more).
// Errors: InvalidArgument naming the message and the field ("HostView.tasks: expected a number").
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::api {

inline constexpr std::string_view kApiPrefix = "/v1";

// ---- answers

struct ErrorReply {
  std::string code{};  // errorCodeName: "InvalidArgument", "NotFound", ...
  std::string message{};
};

struct InfoReply {
  std::string version{};  // berthd's
  std::string dataDir{};
  std::string store{};    // "sqlite /var/lib/berthd/state.db"
  int hosts = 0;
  int stacks = 0;
  int tasks = 0;
  std::string startedAt{};
};

struct HostView {
  std::string name{};
  std::string id{};
  std::string url{};
  std::map<std::string, std::string> labels{};
  std::string availability{};  // "active", "drain"
  std::string state{};         // "ready", "down", "unknown"
  std::string error{};         // why it is not ready
  std::string hostname{};
  std::string engineVersion{};
  int ncpu = 0;
  std::int64_t memory = 0;
  std::map<std::string, std::string> engineLabels{};
  int tasks = 0;       // live tasks placed there
  int containers = 0;  // berth's containers running there, as last listed
  std::string addedAt{};
  std::string lastSeen{};
};

struct TaskView {
  std::string id{};
  std::string name{};  // "web.2"
  std::string stack{};
  std::string service{};
  int slot = 0;
  std::string host{};
  std::string desired{};  // "running", "shutdown"
  std::string state{};    // "running", "failed", ...
  std::string since{};    // RFC 3339: when it entered `state`
  std::string error{};
  std::optional<int> exitCode{};
  std::string image{};
  std::string containerId{};
  std::int64_t generation = 0;
  std::string createdAt{};
};

struct ServiceView {
  std::string stack{};
  std::string name{};      // the service's name in the stack ("web")
  std::string fullName{};  // "shop_web", as `service` commands name it
  std::string mode{};      // "replicated", "global"
  int desired = 0;         // replicas (global: eligible hosts)
  int running = 0;
  std::string image{};
  std::vector<std::string> ports{};  // "8080->80/tcp"
  std::int64_t generation = 0;
  std::int64_t previousGeneration = 0;
  std::string updateState{};
  std::string updateMessage{};
  std::int64_t updateStartedMs = 0;  // when the update or rollback in updateState began (Unix ms)
  std::string definition{};  // the service's compose definition (YAML), for `service inspect`
  // Every slot has one live task, running (healthy) its current definition, and no update or
  // replacement is in flight: what `stack deploy` and `service scale/update` wait for.
  bool converged = false;
};

struct StackView {
  std::string name{};
  std::int64_t generation = 0;
  int services = 0;
  int desired = 0;
  int running = 0;
  bool removing = false;
  std::string createdAt{};
  std::string updatedAt{};
};

struct EventView {
  std::uint64_t seq = 0;
  std::string time{};
  std::string type{};
  std::string action{};
  std::string stack{};
  std::string service{};
  std::string task{};
  std::string name{};
  std::string host{};
  std::string message{};
};

// ---- requests

// POST /v1/hosts/csr {name} → {csr}: berthd makes a key for reaching the host (it never leaves
// berthd's data dir) and asks the CLI to have it certified by the CA the host's engine trusts.
struct CsrRequest {
  std::string name{};
};
struct CsrReply {
  std::string csr{};  // PEM
};

// POST /v1/hosts: the host's URL, the CA that checks the engine's server certificate, and berthd's
// certificate for the key of the CSR.
struct HostAddRequest {
  std::string name{};
  std::string url{};
  std::map<std::string, std::string> labels{};
  std::string caPem{};
  std::string certPem{};
};

struct LabelRequest {
  std::map<std::string, std::string> set{};
  std::vector<std::string> remove{};
};

struct DeployRequest {
  std::string name{};
  std::string project{};  // canonical YAML (spec/render.h)
};
struct DeployReply {
  std::int64_t generation = 0;
  bool changed = false;
  std::vector<std::string> updated{};
  std::vector<std::string> removed{};
};

struct ScaleRequest {
  int replicas = 0;
};

struct UpdateRequest {
  bool force = false;
  std::string host{};
};

struct RebalanceReply {
  int moves = 0;
};

// POST /v1/images/missing {references with their IDs} → which hosts lack which.
struct ImageWant {
  std::string reference{};
  std::string id{};  // "sha256:..." as the sender's engine has it
};
struct MissingImagesRequest {
  std::vector<ImageWant> images{};
  std::vector<std::string> hosts{};  // empty: every ready host
};
struct MissingImagesReply {
  std::map<std::string, std::vector<std::string>> missing{};  // reference → hosts that lack it
};
// POST /v1/images/load?hosts=h1,h2 with a `docker save` tar as the (chunked) body.
struct ImageLoadReply {
  std::map<std::string, std::string> loaded{};  // host → what it loaded
  std::map<std::string, std::string> failed{};  // host → why
};

// ---- JSON

std::string toJson(const ErrorReply& v);
std::string toJson(const InfoReply& v);
std::string toJson(const HostView& v);
std::string toJson(const std::vector<HostView>& v);
std::string toJson(const TaskView& v);
std::string toJson(const std::vector<TaskView>& v);
std::string toJson(const ServiceView& v);
std::string toJson(const std::vector<ServiceView>& v);
std::string toJson(const StackView& v);
std::string toJson(const std::vector<StackView>& v);
std::string toJson(const EventView& v);  // one line, no trailing newline
std::string toJson(const CsrRequest& v);
std::string toJson(const CsrReply& v);
std::string toJson(const HostAddRequest& v);
std::string toJson(const LabelRequest& v);
std::string toJson(const DeployRequest& v);
std::string toJson(const DeployReply& v);
std::string toJson(const ScaleRequest& v);
std::string toJson(const UpdateRequest& v);
std::string toJson(const RebalanceReply& v);
std::string toJson(const MissingImagesRequest& v);
std::string toJson(const MissingImagesReply& v);
std::string toJson(const ImageLoadReply& v);

template <class T>
Result<T> fromJson(std::string_view text);

}  // namespace berth::api
