// berth_fleet_sim: the controller's scale benchmark on a simulated fleet.
//
//   flock /tmp/berth-build.lock ninja -C build berth_fleet_sim
//   build/bin/berth_fleet_sim                     every part; a Markdown report on stdout
//   build/bin/berth_fleet_sim placement steady    only some parts (placement, steady, memory)
//   build/bin/berth_fleet_sim --runs 7 --settle 15 memory
//
// Three measurements (run it on a quiet machine: it prints the load average with the results):
//   placement  the first cluster::reconcile pass after a deploy of one service with T replicas into
//              a ClusterState of H ready hosts: the pass that places all T tasks. Pure, in-process,
//              min and median of --runs runs.
//   steady     one reconcile pass over H hosts whose tasks are all placed and observed running: a
//              pass that decides nothing. Pure, in-process.
//   memory     a real cluster::Controller with a real SqliteStore (in a temporary directory) and
//              real HTTP engines (engine::makeSocketEngine, as berthd) to a fake Docker engine server: H hosts
//              registered through Controller::addHost, one stack of T replicas deployed through
//              Controller::deploy with canonical YAML (spec::renderYaml, as the CLI sends it), timed
//              until the snapshot shows T tasks running, then --settle seconds (30) of steady state; the
//              controller process's VmRSS and VmHWM, its heap (memory::heapStats: jemalloc's statistics, as berthd is linked with it), its threads, and the
//              reconcile pass histogram of Controller::stats(). Each size runs in a fresh child
//              process (so that nothing else this binary did is in its memory), and the fake engines
//              run in another (so that theirs is not either).
//
// The fake engine server (--serve DIR N) is an asynchronous Boost.Asio server (two threads) with N
// in-memory engines, each on its own port of 127.0.0.1 with mutual TLS, as berthd reaches engines
// (berthd's credentials per host in DIR/hNNNN/, the URL in DIR/hNNNN/url; with --plain on unix
// sockets DIR/h0001.sock ... DIR/hNNNN.sock instead, plain HTTP), each speaking the part of
// the Engine API v1.41 the controller uses (the JSON shapes of engine/json_codec.cc): _ping, version,
// info, containers (list with filters, create, start, stop, kill, restart, remove, inspect, rename),
// networks (list, create, inspect, remove, connect, disconnect), volumes (list, create, inspect,
// remove), images (list, inspect: busybox:latest is there) and events (container events, streamed
// chunked, filtered by type, event, label and container; `since` replays the last 256, `until`
// ends the answer then, as berthd's event windows ask). Anything else is answered 404 and logged
// to stderr, so that a new call of the controller's shows up.
//
// Where the memory goes: run one size by hand under heaptrack with FLEET_SIM_EXIT_AT_MEASURE=1 (the
// controller process exits right after the measurement, so heaptrack's "leaked" is what the steady
// state holds):
//   d=$(mktemp -d); build/bin/berth_fleet_sim --serve $d 100 & sleep 1
//   FLEET_SIM_EXIT_AT_MEASURE=1 heaptrack build/bin/berth_fleet_sim --controller $d 100 5000 10
//
// FLEET_SIM_DEBUG=1 makes the controller process log at debug level (probes, events, listings) to
// stderr.
//
// Internal modes, which the benchmark runs as child processes of itself:
//   berth_fleet_sim --serve DIR N [--plain]       fake engines until SIGTERM (prints "ready")
//   berth_fleet_sim --controller DIR H T SETTLE   one memory run; prints key=value lines
#define BOOST_DISABLE_ASSERTS  // Beast 1.74's chunk parser asserts on input it handles (see http_codec.cc)
#include <fmt/core.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "base/files.h"
#include "base/memory.h"
#include "base/log.h"
#include "base/strings.h"
#include "cluster/controller.h"
#include "cluster/reconcile.h"
#include "cluster/sqlite_store.h"
#include "engine/image_reference.h"
#include "engine/endpoint.h"
#include "engine/engine.h"
#include "pki/authority.h"
#include "spec/loader.h"
#include "spec/render.h"

namespace {

using namespace berth;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// ---- shared bits

std::string hostName(int i) { return fmt::format("h{:04d}", i); }

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// 64 hex digits that look like an engine's IDs, unique per (a, b).
std::string hex64(std::uint64_t a, std::uint64_t b) {
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", splitmix(a * 4 + 1 + (b << 20)),
                     splitmix(a * 4 + 2 + (b << 20)), splitmix(a * 4 + 3 + (b << 20)),
                     splitmix(a * 4 + 4 + (b << 20)));
}

// One service of `replicas` busybox tasks, as a user would write it.
std::string stackYaml(int replicas) {
  return fmt::format(
      "services:\n"
      "  app:\n"
      "    image: busybox:latest\n"
      "    command: [sleep, \"3600\"]\n"
      "    deploy:\n"
      "      replicas: {}\n",
      replicas);
}

// The compose project of `yaml`, loaded from memory as `berth stack deploy` loads a file.
Result<spec::Project> loadStack(const std::string& stack, const std::string& yaml) {
  spec::ConfigDetails details;
  details.files = {"/fleet-sim/compose.yaml"};
  details.workingDir = "/fleet-sim";
  details.projectName = stack;
  details.contents["/fleet-sim/compose.yaml"] = yaml;
  return spec::load(details, {});
}

void raiseFileLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &r);
  }
}

// ======================================================================================
// The fake engine server
// ======================================================================================
namespace fake {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using nlohmann::json;
using Socket = asio::local::stream_protocol::socket;
using TlsSocket = asio::ssl::stream<asio::ip::tcp::socket>;
using Filters = std::map<std::string, std::vector<std::string>>;

const std::string kImageRef = "busybox:latest";
const std::string kImageId = "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824";
const std::string kImageDigest =
    "busybox@sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f4e79";
const std::string kNoTime = "0001-01-01T00:00:00Z";

// j[key] of a const object, or null.
const json& field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

struct Reply {
  int status = 200;
  std::string body{};
  std::string contentType = "application/json";
};

Reply jsonReply(int status, const json& j) { return Reply{status, j.dump(), "application/json"}; }
Reply errorReply(int status, const std::string& message) {
  return jsonReply(status, json{{"message", message}});
}
Reply emptyReply(int status) { return Reply{status, "", ""}; }

std::string_view reasonOf(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    default:
      return "Internal Server Error";
  }
}

std::string serialize(const Reply& r, bool head) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", r.status, reasonOf(r.status));
  out +=
      "Api-Version: 1.41\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24 "
      "(linux)\r\n";
  const bool bodyless = r.status == 204 || r.status == 304;
  if (!bodyless) {
    if (!r.contentType.empty()) out += "Content-Type: " + r.contentType + "\r\n";
    out += fmt::format("Content-Length: {}\r\n", r.body.size());
  }
  out += "\r\n";
  if (!head && !bodyless) out += r.body;
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(t - secs).count();
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:09d}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view s, bool plusIsSpace) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plusIsSpace) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Query {
  std::vector<std::pair<std::string, std::string>> items{};

  std::string get(std::string_view key) const {
    for (const auto& [k, v] : items) {
      if (k == key) return v;
    }
    return {};
  }
  bool has(std::string_view key) const {
    return std::any_of(items.begin(), items.end(), [&](const auto& kv) { return kv.first == key; });
  }
  bool flag(std::string_view key) const {
    const std::string v = get(key);
    return v == "1" || v == "true" || v == "True";
  }
};

Query parseQuery(std::string_view text) {
  Query q;
  for (const std::string& part : split(text, '&')) {
    if (part.empty()) continue;
    const auto eq = part.find('=');
    if (eq == std::string::npos) {
      q.items.emplace_back(percentDecode(part, true), "");
    } else {
      q.items.emplace_back(percentDecode(part.substr(0, eq), true), percentDecode(part.substr(eq + 1), true));
    }
  }
  return q;
}

// filters={"label":["a=b","c"]} (or the older {"label":{"a=b":true}}).
std::optional<Filters> parseFilters(const std::string& text) {
  Filters out;
  if (text.empty()) return out;
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  for (const auto& [key, values] : j.items()) {
    auto& list = out[key];
    if (values.is_array()) {
      for (const auto& v : values) {
        if (v.is_string()) list.push_back(v.get<std::string>());
      }
    } else if (values.is_object()) {
      for (const auto& [v, on] : values.items()) {
        if (on.is_boolean() && on.get<bool>()) list.push_back(v);
      }
    }
  }
  return out;
}

// Every "KEY" / "KEY=VALUE" of the label filter holds for `labels`.
bool labelsMatch(const Filters& f, const std::map<std::string, std::string>& labels) {
  auto it = f.find("label");
  if (it == f.end()) return true;
  for (const std::string& want : it->second) {
    const auto eq = want.find('=');
    if (eq == std::string::npos) {
      if (labels.count(want) == 0) return false;
    } else {
      auto l = labels.find(want.substr(0, eq));
      if (l == labels.end() || l->second != want.substr(eq + 1)) return false;
    }
  }
  return true;
}

// A filter key whose values (any of them) must satisfy `pred`; absent: true.
template <class Pred>
bool anyOf(const Filters& f, const std::string& key, Pred pred) {
  auto it = f.find(key);
  if (it == f.end() || it->second.empty()) return true;
  return std::any_of(it->second.begin(), it->second.end(), pred);
}

std::map<std::string, std::string> stringMap(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}


bool isOurImage(const std::string& ref) {
  if (ref == kImageId || (ref.size() >= 12 && startsWith(std::string_view(kImageId).substr(7), ref)) ||
      (startsWith(ref, "sha256:") && startsWith(kImageId, ref) && ref.size() > 12)) {
    return true;
  }
  return engine::normalizeImageReference(ref) == kImageRef || ref == kImageDigest;
}

json imageSummary() {
  return json{{"Id", kImageId},
              {"ParentId", ""},
              {"RepoTags", json::array({kImageRef})},
              {"RepoDigests", json::array({kImageDigest})},
              {"Created", 1689120000},
              {"Size", 4261550},
              {"SharedSize", -1},
              {"VirtualSize", 4261550},
              {"Labels", nullptr},
              {"Containers", -1}};
}

json imageInspect() {
  return json{{"Id", kImageId},
              {"RepoTags", json::array({kImageRef})},
              {"RepoDigests", json::array({kImageDigest})},
              {"Parent", ""},
              {"Comment", ""},
              {"Created", "2023-07-18T23:19:33.655005962Z"},
              {"Author", ""},
              {"Architecture", "amd64"},
              {"Os", "linux"},
              {"Size", 4261550},
              {"Config",
               {{"Env", json::array({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})},
                {"Cmd", json::array({"sh"})},
                {"Labels", nullptr}}}};
}

struct EndpointRec {
  std::string networkId{};
  std::string endpointId{};
  std::string ip{};
  std::string mac{};
  json aliases = json::array();
};

struct ContainerRec {
  std::string id{};
  std::string name{};
  json config = json::object();      // the create body's container config
  json hostConfig = json::object();  // its HostConfig
  std::map<std::string, std::string> labels{};
  std::string image{};
  std::string state = "created";
  int exitCode = 0;
  int pid = 0;
  std::chrono::system_clock::time_point created{};
  std::chrono::system_clock::time_point started{};
  std::chrono::system_clock::time_point finished{};
  bool everStarted = false;
  std::map<std::string, EndpointRec> networks{};  // by network name
};

// A container's endpoint on one network, as the engine lists (no aliases) or inspects it.
json endpointJson(const ContainerRec& c, const EndpointRec& e, bool withAliases) {
  return {{"IPAMConfig", nullptr},
          {"Links", nullptr},
          {"Aliases", withAliases ? e.aliases : json(nullptr)},
          {"NetworkID", e.networkId},
          {"EndpointID", e.endpointId},
          {"Gateway", ""},
          {"IPAddress", c.state == "running" ? e.ip : ""},
          {"IPPrefixLen", 24},
          {"IPv6Gateway", ""},
          {"GlobalIPv6Address", ""},
          {"GlobalIPv6PrefixLen", 0},
          {"MacAddress", e.mac},
          {"DriverOpts", nullptr}};
}

struct NetworkRec {
  std::string id{};
  std::string name{};
  std::string driver = "bridge";
  bool internal = false;
  bool attachable = false;
  bool enableIpv6 = false;
  bool builtin = false;
  std::map<std::string, std::string> labels{};
  std::map<std::string, std::string> options{};
  std::string created{};
  int subnet = 0;  // 172.(16 + subnet / 256).(subnet % 256).0/24
  int nextIp = 2;
  std::set<std::string> containers{};  // IDs
};

struct VolumeRec {
  std::string name{};
  std::string driver = "local";
  std::map<std::string, std::string> labels{};
  std::map<std::string, std::string> options{};
  std::string created{};
};

// A connection that streams events (the FakeEngine's view of a Session).
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // From any thread: queues bytes for the connection (an event of a stream).
  virtual void send(std::string bytes) = 0;
  // Set before subscribe(), read-only after.
  virtual const Filters& eventFilters() const = 0;
};

// What a request came to: an answer, or the start of an event stream.
struct Outcome {
  Reply reply{};
  bool events = false;
  Filters filters{};
  std::optional<std::int64_t> sinceNano{};  // replay the kept events from then
  std::optional<std::int64_t> untilNano{};  // end the stream then (as dockerd does with `until`)
};

// "1714557600.123456789" (Unix seconds, as `since` and `until` come) in nanoseconds.
std::optional<std::int64_t> unixNanos(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const auto dot = text.find('.');
  try {
    std::int64_t nanos = std::stoll(text.substr(0, dot)) * 1'000'000'000;
    if (dot != std::string::npos) {
      std::string fraction = text.substr(dot + 1, 9);
      fraction.resize(9, '0');
      nanos += std::stoll(fraction);
    }
    return nanos;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

class FakeEngine {
 public:
  FakeEngine(std::string name, int index) : name_(std::move(name)), index_(index) {
    for (const char* n : {"bridge", "host", "none"}) {
      NetworkRec net;
      net.id = nextId();
      net.name = n;
      net.driver = std::string(n) == "bridge" ? "bridge" : n;
      net.builtin = true;
      net.created = rfc3339(std::chrono::system_clock::now());
      net.subnet = nextSubnet_++;
      networks_[net.id] = std::move(net);
    }
  }

  Outcome handle(const std::string& method, const std::string& target, const std::string& body);

  // Sends `s` the kept events since `sinceNano` that its filters match, then every new one while
  // it streams.
  void subscribe(const std::shared_ptr<Subscriber>& s, std::optional<std::int64_t> sinceNano) {
    std::lock_guard lock(mu_);
    std::erase_if(subscribers_, [&](const std::weak_ptr<Subscriber>& w) { return w.expired() || w.lock() == s; });
    subscribers_.push_back(s);
    if (!sinceNano) return;
    for (const PastEvent& e : past_) {
      if (e.timeNano >= *sinceNano && matches(s->eventFilters(), e)) s->send(e.chunk);
    }
  }

  std::size_t requests() const { return requests_.load(); }

 private:
  std::string nextId() { return hex64(static_cast<std::uint64_t>(index_), ++ids_); }

  // ---- lookups
  ContainerRec* container(const std::string& ref) {
    if (auto it = containers_.find(ref); it != containers_.end()) return &it->second;
    const std::string name = startsWith(ref, "/") ? ref.substr(1) : ref;
    if (auto it = names_.find(name); it != names_.end()) return &containers_.at(it->second);
    if (ref.empty()) return nullptr;
    ContainerRec* found = nullptr;
    for (auto& [id, c] : containers_) {
      if (startsWith(id, ref)) {
        if (found != nullptr) return nullptr;  // ambiguous
        found = &c;
      }
    }
    return found;
  }
  NetworkRec* network(const std::string& ref) {
    if (auto it = networks_.find(ref); it != networks_.end()) return &it->second;
    for (auto& [id, n] : networks_) {
      if (n.name == ref) return &n;
    }
    if (ref.size() < 6) return nullptr;
    for (auto& [id, n] : networks_) {
      if (startsWith(id, ref)) return &n;
    }
    return nullptr;
  }

  // ---- events (the last 256 kept for `since`, as dockerd keeps some)
  struct PastEvent {
    std::int64_t timeNano = 0;
    std::string action, id, name;
    std::map<std::string, std::string> attributes;
    std::string chunk;  // as streamed
  };
  static bool matches(const Filters& f, const PastEvent& e);
  void emit(const ContainerRec& c, const std::string& action, std::map<std::string, std::string> extra = {});

  // ---- JSON shapes
  json containerSummary(const ContainerRec& c) const;
  json containerInspect(const ContainerRec& c) const;
  json networkJson(const NetworkRec& n) const;
  static json volumeJson(const VolumeRec& v) {
    return json{{"Name", v.name},
                {"Driver", v.driver},
                {"Mountpoint", "/var/lib/docker/volumes/" + v.name + "/_data"},
                {"CreatedAt", v.created},
                {"Labels", v.labels},
                {"Scope", "local"},
                {"Options", v.options}};
  }
  std::string statusText(const ContainerRec& c) const;

  // ---- routes
  Reply info();
  Reply listContainers(const Query& q);
  Reply createContainer(const Query& q, const std::string& body);
  Reply startContainer(ContainerRec& c);
  Reply stopContainer(ContainerRec& c, int exitCode, bool kill);
  Reply removeContainer(const std::string& id, const Query& q);
  Reply renameContainer(ContainerRec& c, const Query& q);
  Reply connect(NetworkRec& n, const std::string& containerRef, const json& endpointConfig);
  Reply disconnect(NetworkRec& n, const std::string& containerRef);
  Reply createNetwork(const std::string& body);
  Reply listNetworks(const Query& q);
  Reply removeNetwork(const std::string& ref);
  Reply createVolume(const std::string& body);
  Reply listVolumes(const Query& q);

  void attach(ContainerRec& c, NetworkRec& n, const json& endpointConfig) {
    EndpointRec e;
    e.networkId = n.id;
    e.endpointId = nextId();
    e.ip = fmt::format("172.{}.{}.{}", 16 + n.subnet / 256, n.subnet % 256, n.nextIp++ % 250 + 2);
    e.mac =
        fmt::format("02:42:ac:{:02x}:{:02x}:{:02x}", n.subnet % 256, (n.nextIp / 256) % 256, n.nextIp % 256);
    if (endpointConfig.is_object() && endpointConfig.contains("Aliases") &&
        endpointConfig["Aliases"].is_array()) {
      e.aliases = endpointConfig["Aliases"];
    }
    n.containers.insert(c.id);
    c.networks[n.name] = std::move(e);
  }
  void detachAll(ContainerRec& c) {
    for (const auto& [netName, e] : c.networks) {
      if (auto it = networks_.find(e.networkId); it != networks_.end()) it->second.containers.erase(c.id);
    }
    c.networks.clear();
  }

  const std::string name_;
  const int index_;
  std::atomic<std::size_t> requests_{0};
  std::mutex mu_;
  std::uint64_t ids_ = 0;
  int nextSubnet_ = 1;
  int nextPid_ = 1000;
  std::map<std::string, ContainerRec> containers_;  // by ID
  std::map<std::string, std::string> names_;        // name → ID
  std::map<std::string, NetworkRec> networks_;      // by ID
  std::map<std::string, VolumeRec> volumes_;        // by name
  std::vector<std::weak_ptr<Subscriber>> subscribers_;
  std::deque<PastEvent> past_;
};

Socket::lowest_layer_type& lowestLayer(Socket& s) { return s.lowest_layer(); }
asio::ip::tcp::socket::lowest_layer_type& lowestLayer(TlsSocket& s) { return s.lowest_layer(); }

// One connection (a unix socket, or TCP with mutual TLS as berthd reaches engines): requests
// answered in order (keep-alive); an event stream keeps it open.
template <class Stream>
class Session final : public Subscriber, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream socket, FakeEngine& engine) : socket_(std::move(socket)), engine_(engine) {}

  void start() {
    if constexpr (std::is_same_v<Stream, TlsSocket>) {
      socket_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
        if (ec) {
          self->close();
          return;
        }
        self->read();
      });
    } else {
      read();
    }
  }

  void send(std::string bytes) override {
    asio::post(socket_.get_executor(), [self = this->shared_from_this(), bytes = std::move(bytes)]() mutable {
      if (self->streaming_) self->queue(std::move(bytes));
    });
  }

  const Filters& eventFilters() const override { return filters_; }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(256 * 1024 * 1024);
    http::async_read(socket_, buffer_, *parser_,
                     [self = this->shared_from_this()](error_code ec, std::size_t) { self->onRead(ec); });
  }

  void onRead(error_code ec) {
    if (ec) {
      close();
      return;
    }
    http::request<http::string_body> req = parser_->release();
    const std::string method(req.method_string());
    const std::string target(req.target());
    Outcome o = engine_.handle(method, target, req.body());
    if (o.events) {
      filters_ = std::move(o.filters);
      streaming_ = true;
      queue(
          "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nServer: Docker/20.10.24 "
          "(linux)\r\nTransfer-Encoding: chunked\r\n\r\n");
      engine_.subscribe(this->shared_from_this(), o.sinceNano);
      if (o.untilNano) {
        // The stream ends then and the connection serves the next request, as dockerd's does.
        untilTimer_.expires_at(std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(*o.untilNano))));
        untilTimer_.async_wait([self = this->shared_from_this()](error_code waited) {
          if (waited || !self->streaming_) return;
          // After the replay and the events sent so far: they were posted to this strand before.
          asio::post(self->socket_.get_executor(), [self] {
            self->streaming_ = false;
            self->queue("0\r\n\r\n");
          });
        });
      }
      read();  // the next request (after `until`), or this notices when the client goes
      return;
    }
    queue(serialize(o.reply, method == "HEAD"));
    if (!req.keep_alive()) {
      closeAfterWrite_ = true;
      return;
    }
    read();
  }

  void queue(std::string bytes) {
    if (closed_) return;
    out_.push_back(std::move(bytes));
    if (!writing_) writeNext();
  }

  void writeNext() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_.front()),
                      [self = this->shared_from_this()](error_code ec, std::size_t) {
                        self->out_.pop_front();
                        if (ec) {
                          self->close();
                          return;
                        }
                        if (!self->out_.empty()) {
                          self->writeNext();
                          return;
                        }
                        self->writing_ = false;
                        if (self->closeAfterWrite_) self->close();
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    lowestLayer(socket_).shutdown(asio::socket_base::shutdown_both, ignored);
    lowestLayer(socket_).close(ignored);
  }

  Stream socket_;
  FakeEngine& engine_;
  asio::system_timer untilTimer_{socket_.get_executor()};
  bool streaming_ = false;  // an event stream is open on this connection
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool closeAfterWrite_ = false;
  bool closed_ = false;
  Filters filters_;
};

// ---- FakeEngine: events and shapes

bool FakeEngine::matches(const Filters& f, const PastEvent& e) {
  return anyOf(f, "type", [](const std::string& v) { return v == "container"; }) &&
         anyOf(f, "event", [&](const std::string& v) { return v == e.action; }) &&
         anyOf(f, "container", [&](const std::string& v) { return startsWith(e.id, v) || v == e.name; }) &&
         labelsMatch(f, e.attributes);
}

// Called with mu_ held. Kept whether or not anyone streams: a window opened later asks for it.
void FakeEngine::emit(const ContainerRec& c, const std::string& action,
                      std::map<std::string, std::string> extra) {
  PastEvent e{.action = action, .id = c.id, .name = c.name, .attributes = c.labels, .chunk = {}};
  e.attributes["image"] = c.image;
  e.attributes["name"] = c.name;
  for (auto& [k, v] : extra) e.attributes[k] = std::move(v);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  e.timeNano = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  const json j{{"status", action},
               {"id", c.id},
               {"from", c.image},
               {"Type", "container"},
               {"Action", action},
               {"Actor", {{"ID", c.id}, {"Attributes", e.attributes}}},
               {"scope", "local"},
               {"time", std::chrono::duration_cast<std::chrono::seconds>(now).count()},
               {"timeNano", e.timeNano}};
  const std::string line = j.dump() + "\n";
  e.chunk = fmt::format("{:x}\r\n{}\r\n", line.size(), line);
  for (const std::weak_ptr<Subscriber>& w : subscribers_) {
    auto sub = w.lock();
    if (sub && matches(sub->eventFilters(), e)) sub->send(e.chunk);
  }
  past_.push_back(std::move(e));
  if (past_.size() > 256) past_.pop_front();
}

std::string FakeEngine::statusText(const ContainerRec& c) const {
  const auto now = std::chrono::system_clock::now();
  if (c.state == "running") {
    const auto up = std::chrono::duration_cast<std::chrono::seconds>(now - c.started).count();
    return up < 1 ? "Up Less than a second" : fmt::format("Up {} seconds", up);
  }
  if (c.state == "exited") {
    const auto ago = std::chrono::duration_cast<std::chrono::seconds>(now - c.finished).count();
    return fmt::format("Exited ({}) {} seconds ago", c.exitCode, ago);
  }
  return "Created";
}

json FakeEngine::containerSummary(const ContainerRec& c) const {
  json networks = json::object();
  for (const auto& [netName, e] : c.networks) {
    networks[netName] = endpointJson(c, e, /*withAliases=*/false);
  }
  std::string command;
  for (const json* part : {&field(c.config, "Entrypoint"), &field(c.config, "Cmd")}) {
    if (!part->is_array()) continue;
    for (const auto& a : *part) {
      if (!a.is_string()) continue;
      if (!command.empty()) command += ' ';
      command += a.get<std::string>();
    }
  }
  const json& mode = field(c.hostConfig, "NetworkMode");
  return json{
      {"Id", c.id},
      {"Names", json::array({"/" + c.name})},
      {"Image", c.image},
      {"ImageID", kImageId},
      {"Command", command},
      {"Created", std::chrono::duration_cast<std::chrono::seconds>(c.created.time_since_epoch()).count()},
      {"Ports", json::array()},
      {"Labels", c.labels},
      {"State", c.state},
      {"Status", statusText(c)},
      {"HostConfig", {{"NetworkMode", mode.is_string() ? mode.get<std::string>() : "default"}}},
      {"NetworkSettings", {{"Networks", networks}}},
      {"Mounts", json::array()}};
}

json FakeEngine::containerInspect(const ContainerRec& c) const {
  json networks = json::object();
  for (const auto& [netName, e] : c.networks) {
    networks[netName] = endpointJson(c, e, /*withAliases=*/true);
  }
  json config = c.config;
  config["Labels"] = c.labels;
  config["Image"] = c.image;
  if (!config.contains("Tty")) config["Tty"] = false;
  std::string path;
  json args = json::array();
  const json& cmd = config.contains("Cmd") && config["Cmd"].is_array() ? config["Cmd"] : json::array({"sh"});
  for (const auto& a : cmd) {
    if (path.empty() && args.empty()) {
      path = a.is_string() ? a.get<std::string>() : "";
    } else {
      args.push_back(a);
    }
  }
  const bool running = c.state == "running";
  return json{{"Id", c.id},
              {"Created", rfc3339(c.created)},
              {"Path", path},
              {"Args", args},
              {"State",
               {{"Status", c.state},
                {"Running", running},
                {"Paused", false},
                {"Restarting", false},
                {"OOMKilled", false},
                {"Dead", false},
                {"Pid", running ? c.pid : 0},
                {"ExitCode", c.exitCode},
                {"Error", ""},
                {"StartedAt", c.everStarted ? rfc3339(c.started) : kNoTime},
                {"FinishedAt", c.state == "exited" ? rfc3339(c.finished) : kNoTime}}},
              {"Image", kImageId},
              {"Name", "/" + c.name},
              {"RestartCount", 0},
              {"Driver", "overlay2"},
              {"Platform", "linux"},
              {"HostConfig", c.hostConfig},
              {"Config", config},
              {"Mounts", json::array()},
              {"NetworkSettings", {{"Ports", json::object()}, {"Networks", networks}, {"SandboxKey", ""}}}};
}

json FakeEngine::networkJson(const NetworkRec& n) const {
  json containers = json::object();
  for (const std::string& id : n.containers) {
    auto c = containers_.find(id);
    if (c == containers_.end()) continue;
    auto e = c->second.networks.find(n.name);
    if (e == c->second.networks.end()) continue;
    containers[id] = {{"Name", c->second.name},
                      {"EndpointID", e->second.endpointId},
                      {"MacAddress", e->second.mac},
                      {"IPv4Address", e->second.ip + "/24"},
                      {"IPv6Address", ""}};
  }
  const std::string subnet = fmt::format("172.{}.{}.0/24", 16 + n.subnet / 256, n.subnet % 256);
  const std::string gateway = fmt::format("172.{}.{}.1", 16 + n.subnet / 256, n.subnet % 256);
  return json{{"Name", n.name},
              {"Id", n.id},
              {"Created", n.created},
              {"Scope", "local"},
              {"Driver", n.driver},
              {"EnableIPv6", n.enableIpv6},
              {"IPAM",
               {{"Driver", "default"},
                {"Options", nullptr},
                {"Config", json::array({{{"Subnet", subnet}, {"Gateway", gateway}}})}}},
              {"Internal", n.internal},
              {"Attachable", n.attachable},
              {"Ingress", false},
              {"ConfigFrom", {{"Network", ""}}},
              {"ConfigOnly", false},
              {"Containers", containers},
              {"Options", n.options},
              {"Labels", n.labels}};
}

// ---- FakeEngine: routes

Reply FakeEngine::info() {
  int running = 0;
  int stopped = 0;
  for (const auto& [id, c] : containers_) {
    if (c.state == "running") {
      ++running;
    } else if (c.state == "exited") {
      ++stopped;
    }
  }
  return jsonReply(200, json{{"ID", hex64(static_cast<std::uint64_t>(index_), 0).substr(0, 36)},
                             {"Containers", containers_.size()},
                             {"ContainersRunning", running},
                             {"ContainersPaused", 0},
                             {"ContainersStopped", stopped},
                             {"Images", 1},
                             {"Driver", "overlay2"},
                             {"SystemTime", rfc3339(std::chrono::system_clock::now())},
                             {"LoggingDriver", "json-file"},
                             {"CgroupDriver", "systemd"},
                             {"CgroupVersion", "2"},
                             {"KernelVersion", "6.1.0-fleet-sim"},
                             {"OperatingSystem", "berth fleet sim"},
                             {"OSVersion", "12"},
                             {"OSType", "linux"},
                             {"Architecture", "x86_64"},
                             {"NCPU", 4},
                             {"MemTotal", std::int64_t{8} << 30},
                             {"DockerRootDir", "/var/lib/docker"},
                             {"Name", name_},
                             {"Labels", json::array()},
                             {"ServerVersion", "20.10.24"},
                             {"DefaultRuntime", "runc"},
                             {"LiveRestoreEnabled", false},
                             {"Warnings", nullptr}});
}

Reply FakeEngine::listContainers(const Query& q) {
  const auto filters = parseFilters(q.get("filters"));
  if (!filters) return errorReply(400, "invalid filter");
  const bool all = q.flag("all");
  json out = json::array();
  for (const auto& [id, c] : containers_) {
    if (!all && c.state != "running") continue;
    if (!labelsMatch(*filters, c.labels)) continue;
    if (!anyOf(*filters, "name", [&](const std::string& v) { return c.name.find(v) != std::string::npos; }))
      continue;
    if (!anyOf(*filters, "id", [&](const std::string& v) { return startsWith(c.id, v); })) continue;
    if (!anyOf(*filters, "status", [&](const std::string& v) { return v == c.state; })) continue;
    out.push_back(containerSummary(c));
  }
  return jsonReply(200, out);
}

Reply FakeEngine::createContainer(const Query& q, const std::string& body) {
  json spec = json::parse(body, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) return errorReply(400, "invalid JSON in the request body");
  const std::string name = q.get("name");
  if (!name.empty()) {
    if (auto it = names_.find(name); it != names_.end()) {
      return errorReply(
          409, fmt::format("Conflict. The container name \"/{}\" is already in use by container \"{}\". "
                           "You have to remove (or rename) that container to be able to reuse that name.",
                           name, it->second));
    }
  }
  const std::string image =
      spec.contains("Image") && spec["Image"].is_string() ? spec["Image"].get<std::string>() : "";
  if (image.empty()) return errorReply(400, "No command specified");
  if (!isOurImage(image)) return errorReply(404, "No such image: " + image);
  ContainerRec c;
  c.id = nextId();
  c.name = name.empty() ? fmt::format("sim_{}", c.id.substr(0, 8)) : name;
  c.image = image;
  c.labels = stringMap(spec.contains("Labels") ? spec["Labels"] : json());
  c.hostConfig =
      spec.contains("HostConfig") && spec["HostConfig"].is_object() ? spec["HostConfig"] : json::object();
  c.created = std::chrono::system_clock::now();
  json config = spec;
  config.erase("HostConfig");
  config.erase("NetworkingConfig");
  c.config = std::move(config);
  // Networks: the endpoints asked for, else the network mode's network (a user network or bridge).
  std::vector<std::pair<NetworkRec*, json>> joins;
  const json endpoints = spec.contains("NetworkingConfig") && spec["NetworkingConfig"].is_object() &&
                                 spec["NetworkingConfig"].contains("EndpointsConfig")
                             ? spec["NetworkingConfig"]["EndpointsConfig"]
                             : json::object();
  if (endpoints.is_object()) {
    for (const auto& [netName, e] : endpoints.items()) {
      NetworkRec* n = network(netName);
      if (n == nullptr) return errorReply(404, fmt::format("network {} not found", netName));
      joins.emplace_back(n, e);
    }
  }
  const json& mode = c.hostConfig.contains("NetworkMode") ? c.hostConfig["NetworkMode"] : json();
  const std::string modeName = mode.is_string() ? mode.get<std::string>() : "default";
  if (joins.empty() && modeName != "none" && modeName != "host" && !startsWith(modeName, "container:")) {
    NetworkRec* n = network(modeName == "default" || modeName.empty() ? "bridge" : modeName);
    if (n == nullptr) return errorReply(404, fmt::format("network {} not found", modeName));
    joins.emplace_back(n, json::object());
  }
  ContainerRec& stored = containers_[c.id] = std::move(c);
  names_[stored.name] = stored.id;
  for (auto& [n, e] : joins) attach(stored, *n, e);
  emit(stored, "create");
  return jsonReply(201, json{{"Id", stored.id}, {"Warnings", json::array()}});
}

Reply FakeEngine::startContainer(ContainerRec& c) {
  if (c.state == "running") return emptyReply(304);
  c.state = "running";
  c.exitCode = 0;
  c.pid = ++nextPid_;
  c.started = std::chrono::system_clock::now();
  c.everStarted = true;
  emit(c, "start");
  return emptyReply(204);
}

Reply FakeEngine::stopContainer(ContainerRec& c, int exitCode, bool kill) {
  if (c.state != "running") {
    if (kill) return errorReply(409, fmt::format("Container {} is not running", c.id));
    return emptyReply(304);
  }
  emit(c, "kill", {{"signal", kill ? "9" : "15"}});
  c.state = "exited";
  c.exitCode = exitCode;
  c.finished = std::chrono::system_clock::now();
  emit(c, "die", {{"exitCode", std::to_string(exitCode)}});
  if (!kill) emit(c, "stop");
  return emptyReply(204);
}

Reply FakeEngine::removeContainer(const std::string& id, const Query& q) {
  ContainerRec& c = containers_.at(id);
  if (c.state == "running") {
    if (!q.flag("force")) {
      return errorReply(409,
                        fmt::format("You cannot remove a running container {}. Stop the container before "
                                    "attempting removal or force remove",
                                    c.id));
    }
    (void)stopContainer(c, 137, true);
  }
  detachAll(c);
  emit(c, "destroy");
  names_.erase(c.name);
  containers_.erase(id);
  return emptyReply(204);
}

Reply FakeEngine::renameContainer(ContainerRec& c, const Query& q) {
  std::string to = q.get("name");
  if (startsWith(to, "/")) to.erase(0, 1);
  if (to.empty()) return errorReply(400, "Neither old nor new names may be empty");
  if (auto it = names_.find(to); it != names_.end() && it->second != c.id) {
    return errorReply(
        409, fmt::format("Conflict. The container name \"/{}\" is already in use by container \"{}\". "
                         "You have to remove (or rename) that container to be able to reuse that name.",
                         to, it->second));
  }
  const std::string old = c.name;
  names_.erase(old);
  c.name = to;
  names_[to] = c.id;
  emit(c, "rename", {{"oldName", "/" + old}});
  return emptyReply(204);
}

Reply FakeEngine::connect(NetworkRec& n, const std::string& containerRef, const json& endpointConfig) {
  ContainerRec* c = container(containerRef);
  if (c == nullptr) return errorReply(404, "No such container: " + containerRef);
  if (c->networks.count(n.name) != 0) {
    return errorReply(403,
                      fmt::format("endpoint with name {} already exists in network {}", c->name, n.name));
  }
  attach(*c, n, endpointConfig);
  return Reply{200, "", ""};
}

Reply FakeEngine::disconnect(NetworkRec& n, const std::string& containerRef) {
  ContainerRec* c = container(containerRef);
  if (c == nullptr) return errorReply(404, "No such container: " + containerRef);
  if (c->networks.erase(n.name) == 0) {
    return errorReply(403, fmt::format("container {} is not connected to network {}", c->id, n.name));
  }
  n.containers.erase(c->id);
  return Reply{200, "", ""};
}

Reply FakeEngine::createNetwork(const std::string& body) {
  json spec = json::parse(body, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) return errorReply(400, "invalid JSON in the request body");
  const std::string name =
      spec.contains("Name") && spec["Name"].is_string() ? spec["Name"].get<std::string>() : "";
  if (name.empty()) return errorReply(400, "network name is required");
  for (const auto& [id, n] : networks_) {
    if (n.name == name) return errorReply(409, fmt::format("network with name {} already exists", name));
  }
  NetworkRec n;
  n.id = nextId();
  n.name = name;
  if (spec.contains("Driver") && spec["Driver"].is_string()) n.driver = spec["Driver"].get<std::string>();
  n.internal = spec.value("Internal", false);
  n.attachable = spec.value("Attachable", false);
  n.enableIpv6 = spec.value("EnableIPv6", false);
  n.labels = stringMap(spec.contains("Labels") ? spec["Labels"] : json());
  n.options = stringMap(spec.contains("Options") ? spec["Options"] : json());
  n.created = rfc3339(std::chrono::system_clock::now());
  n.subnet = nextSubnet_++;
  const std::string id = n.id;
  networks_[id] = std::move(n);
  return jsonReply(201, json{{"Id", id}, {"Warning", ""}});
}

Reply FakeEngine::listNetworks(const Query& q) {
  const auto filters = parseFilters(q.get("filters"));
  if (!filters) return errorReply(400, "invalid filter");
  json out = json::array();
  for (const auto& [id, n] : networks_) {
    if (!labelsMatch(*filters, n.labels)) continue;
    if (!anyOf(*filters, "name", [&](const std::string& v) { return n.name.find(v) != std::string::npos; }))
      continue;
    if (!anyOf(*filters, "id", [&](const std::string& v) { return startsWith(n.id, v); })) continue;
    if (!anyOf(*filters, "driver", [&](const std::string& v) { return v == n.driver; })) continue;
    out.push_back(networkJson(n));
  }
  return jsonReply(200, out);
}

Reply FakeEngine::removeNetwork(const std::string& ref) {
  NetworkRec* n = network(ref);
  if (n == nullptr) return errorReply(404, fmt::format("network {} not found", ref));
  if (n->builtin)
    return errorReply(403, fmt::format("{} is a pre-defined network and cannot be removed", n->name));
  if (!n->containers.empty()) {
    return errorReply(403, fmt::format("error while removing network: network {} id {} has active endpoints",
                                       n->name, n->id));
  }
  networks_.erase(n->id);
  return emptyReply(204);
}

Reply FakeEngine::createVolume(const std::string& body) {
  json spec = json::parse(body, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) return errorReply(400, "invalid JSON in the request body");
  std::string name = spec.contains("Name") && spec["Name"].is_string() ? spec["Name"].get<std::string>() : "";
  if (name.empty()) name = nextId();
  if (auto it = volumes_.find(name); it != volumes_.end()) return jsonReply(201, volumeJson(it->second));
  VolumeRec v;
  v.name = name;
  if (spec.contains("Driver") && spec["Driver"].is_string() && !spec["Driver"].get<std::string>().empty()) {
    v.driver = spec["Driver"].get<std::string>();
  }
  v.labels = stringMap(spec.contains("Labels") ? spec["Labels"] : json());
  v.options = stringMap(spec.contains("DriverOpts") ? spec["DriverOpts"] : json());
  v.created = rfc3339(std::chrono::system_clock::now());
  const json out = volumeJson(v);
  volumes_[name] = std::move(v);
  return jsonReply(201, out);
}

Reply FakeEngine::listVolumes(const Query& q) {
  const auto filters = parseFilters(q.get("filters"));
  if (!filters) return errorReply(400, "invalid filter");
  json list = json::array();
  for (const auto& [name, v] : volumes_) {
    if (!labelsMatch(*filters, v.labels)) continue;
    if (!anyOf(*filters, "name", [&](const std::string& f) { return v.name.find(f) != std::string::npos; }))
      continue;
    list.push_back(volumeJson(v));
  }
  return jsonReply(200, json{{"Volumes", list}, {"Warnings", json::array()}});
}

Outcome FakeEngine::handle(const std::string& method, const std::string& target, const std::string& body) {
  ++requests_;
  const auto qmark = target.find('?');
  std::string path = target.substr(0, qmark);
  const Query q = parseQuery(qmark == std::string::npos ? std::string_view()
                                                        : std::string_view(target).substr(qmark + 1));
  // "/v1.41/containers/json" → "/containers/json"
  if (path.size() > 2 && path[0] == '/' && path[1] == 'v' &&
      std::isdigit(static_cast<unsigned char>(path[2])) != 0) {
    const auto slash = path.find('/', 1);
    path = slash == std::string::npos ? "/" : path.substr(slash);
  }
  std::vector<std::string> seg;
  for (const std::string& s : split(std::string_view(path).substr(1), '/'))
    seg.push_back(percentDecode(s, false));
  while (!seg.empty() && seg.back().empty()) seg.pop_back();
  const auto is = [&](std::initializer_list<std::string_view> want) {
    if (seg.size() != want.size()) return false;
    std::size_t i = 0;
    for (const std::string_view w : want) {
      if (w != "*" && seg[i] != w) return false;
      ++i;
    }
    return true;
  };
  const bool get = method == "GET" || method == "HEAD";
  const bool post = method == "POST";
  const bool del = method == "DELETE";

  Outcome out;
  if (get && is({"events"})) {
    const auto filters = parseFilters(q.get("filters"));
    if (!filters) {
      out.reply = errorReply(400, "invalid filter");
      return out;
    }
    out.events = true;
    out.filters = *filters;
    out.sinceNano = unixNanos(q.get("since"));
    out.untilNano = unixNanos(q.get("until"));
    return out;
  }

  std::lock_guard lock(mu_);
  Reply& r = out.reply;
  if (get && is({"_ping"})) {
    r = Reply{200, "OK", "text/plain; charset=utf-8"};
  } else if (get && is({"version"})) {
    r = jsonReply(200, json{{"Version", "20.10.24"},
                            {"ApiVersion", "1.41"},
                            {"MinAPIVersion", "1.12"},
                            {"GitCommit", "5d6db84"},
                            {"GoVersion", "go1.19.7"},
                            {"Os", "linux"},
                            {"Arch", "amd64"},
                            {"KernelVersion", "6.1.0-fleet-sim"},
                            {"BuildTime", "2023-04-04T10:00:00.000000000+00:00"}});
  } else if (get && is({"info"})) {
    r = info();
  } else if (get && is({"containers", "json"})) {
    r = listContainers(q);
  } else if (post && is({"containers", "create"})) {
    r = createContainer(q, body);
  } else if (seg.size() >= 2 && seg[0] == "containers") {
    ContainerRec* c = container(seg[1]);
    if (c == nullptr) {
      r = errorReply(404, "No such container: " + seg[1]);
    } else if (get && seg.size() == 3 && seg[2] == "json") {
      r = jsonReply(200, containerInspect(*c));
    } else if (post && seg.size() == 3 && seg[2] == "start") {
      r = startContainer(*c);
    } else if (post && seg.size() == 3 && seg[2] == "stop") {
      r = stopContainer(*c, 137, false);
    } else if (post && seg.size() == 3 && seg[2] == "kill") {
      r = stopContainer(*c, 137, true);
    } else if (post && seg.size() == 3 && seg[2] == "restart") {
      if (c->state == "running") (void)stopContainer(*c, 137, false);
      r = startContainer(*c);
      if (r.status == 304) r = emptyReply(204);
      emit(*c, "restart");
    } else if (post && seg.size() == 3 && seg[2] == "rename") {
      r = renameContainer(*c, q);
    } else if (post && seg.size() == 3 && seg[2] == "wait" && c->state != "running") {
      r = jsonReply(200, json{{"StatusCode", c->exitCode}, {"Error", nullptr}});
    } else if (del && seg.size() == 2) {
      const std::string id = c->id;
      r = removeContainer(id, q);
    } else {
      r = errorReply(404, "page not found");
      std::cerr << fmt::format("fake engine {}: unhandled {} {}\n", name_, method, target);
    }
  } else if (get && is({"networks"})) {
    r = listNetworks(q);
  } else if (post && is({"networks", "create"})) {
    r = createNetwork(body);
  } else if (seg.size() >= 2 && seg[0] == "networks") {
    NetworkRec* n = network(seg[1]);
    const json spec = post ? json::parse(body, nullptr, false) : json();
    const std::string who = spec.is_object() && spec.contains("Container") && spec["Container"].is_string()
                                ? spec["Container"].get<std::string>()
                                : "";
    if (n == nullptr) {
      r = errorReply(404, fmt::format("network {} not found", seg[1]));
    } else if (get && seg.size() == 2) {
      r = jsonReply(200, networkJson(*n));
    } else if (del && seg.size() == 2) {
      r = removeNetwork(seg[1]);
    } else if (post && seg.size() == 3 && seg[2] == "connect") {
      r = connect(*n, who, spec.contains("EndpointConfig") ? spec["EndpointConfig"] : json::object());
    } else if (post && seg.size() == 3 && seg[2] == "disconnect") {
      r = disconnect(*n, who);
    } else {
      r = errorReply(404, "page not found");
      std::cerr << fmt::format("fake engine {}: unhandled {} {}\n", name_, method, target);
    }
  } else if (get && is({"volumes"})) {
    r = listVolumes(q);
  } else if (post && is({"volumes", "create"})) {
    r = createVolume(body);
  } else if (seg.size() == 2 && seg[0] == "volumes" && (get || del)) {
    auto v = volumes_.find(seg[1]);
    if (v == volumes_.end()) {
      r = errorReply(404, fmt::format("get {}: no such volume", seg[1]));
    } else if (get) {
      r = jsonReply(200, volumeJson(v->second));
    } else {
      volumes_.erase(v);
      r = emptyReply(204);
    }
  } else if (get && is({"images", "json"})) {
    const auto filters = parseFilters(q.get("filters"));
    const bool match =
        filters && anyOf(*filters, "reference", [](const std::string& v) { return isOurImage(v); });
    r = jsonReply(200, match ? json::array({imageSummary()}) : json::array());
  } else if (get && seg.size() >= 3 && seg[0] == "images" && seg.back() == "json") {
    std::string ref;
    for (std::size_t i = 1; i + 1 < seg.size(); ++i) ref += (ref.empty() ? "" : "/") + seg[i];
    r = isOurImage(ref) ? jsonReply(200, imageInspect()) : errorReply(404, "No such image: " + ref);
  } else {
    r = errorReply(404, "page not found");
    std::cerr << fmt::format("fake engine {}: unhandled {} {}\n", name_, method, target);
  }
  return out;
}

// Accepts connections for one engine: on a unix socket, or on 127.0.0.1 with mutual TLS.
template <class Acceptor, class Stream>
class Listener {
 public:
  Listener(asio::io_context& io, Acceptor acceptor, FakeEngine& engine, asio::ssl::context* tls)
      : io_(io), acceptor_(std::move(acceptor)), engine_(engine), tls_(tls) {}

  void start() {
    acceptor_.async_accept(asio::make_strand(io_), [this](error_code ec, typename Acceptor::protocol_type::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        std::cerr << "fake engine: accept: " << ec.message() << "\n";
      } else if constexpr (std::is_same_v<Stream, TlsSocket>) {
        std::make_shared<Session<Stream>>(Stream(std::move(socket), *tls_), engine_)->start();
      } else {
        std::make_shared<Session<Stream>>(std::move(socket), engine_)->start();
      }
      start();
    });
  }

 private:
  asio::io_context& io_;
  Acceptor acceptor_;
  FakeEngine& engine_;
  asio::ssl::context* tls_;
};

using UnixListener = Listener<asio::local::stream_protocol::acceptor, Socket>;
using TlsListener = Listener<asio::ip::tcp::acceptor, TlsSocket>;

// berthd's side of mutual TLS, as `berth host add` leaves it in its data directory: per host a
// client key and certificate of its own (DIR/hNNNN/{ca,cert,key}.pem) and the engine's URL
// (DIR/hNNNN/url). The fake engines all serve one certificate for 127.0.0.1 from the same CA.
Result<asio::ssl::context> makeCredentials(const std::string& dir, int count) {
  const auto validity = pki::validFor(std::chrono::system_clock::now(), std::chrono::hours(24));
  pki::CaRequest caRequest;
  caRequest.commonName = "fleet-sim CA";
  caRequest.validity = validity;
  BERTH_ASSIGN_OR_RETURN(pki::Authority ca, pki::Authority::create(caRequest));
  pki::CertificateRequest serverRequest;
  serverRequest.kind = pki::CertificateKind::Server;
  serverRequest.commonName = "fake-engines";
  serverRequest.ipAddresses = {"127.0.0.1"};
  serverRequest.validity = validity;
  BERTH_ASSIGN_OR_RETURN(pki::Issued server, ca.issue(serverRequest));
  const std::string caPem = ca.certificate().toPem();
  for (int i = 1; i <= count; ++i) {
    pki::CertificateRequest clientRequest;
    clientRequest.commonName = "berthd@" + hostName(i);
    clientRequest.validity = validity;
    BERTH_ASSIGN_OR_RETURN(pki::Issued client, ca.issue(clientRequest));
    const std::filesystem::path hostDir = std::filesystem::path(dir) / hostName(i);
    std::filesystem::create_directories(hostDir);
    BERTH_TRY(writeFileAtomic(hostDir / "ca.pem", caPem, std::filesystem::perms(0644)));
    BERTH_TRY(writeFileAtomic(hostDir / "cert.pem", client.certificate.toPem(), std::filesystem::perms(0644)));
    BERTH_TRY(writeFileAtomic(hostDir / "key.pem", client.key.toPem(), std::filesystem::perms(0600)));
  }
  asio::ssl::context tls(asio::ssl::context::tls_server);
  const std::string certPem = server.certificate.toPem();
  const std::string keyPem = server.key.toPem();
  tls.use_certificate_chain(asio::buffer(certPem));
  tls.use_private_key(asio::buffer(keyPem), asio::ssl::context::pem);
  tls.add_certificate_authority(asio::buffer(caPem));
  tls.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  // Only the engine's own certificate goes to berthd, as dockerd sends the tlscert file `berth host
  // add` writes (one certificate): OpenSSL would otherwise add the CA from its trust store, and
  // berthd would hold a second parsed certificate per connection that real hosts never send.
  SSL_CTX_set_mode(tls.native_handle(), SSL_MODE_NO_AUTO_CHAIN);
  return tls;
}

int serve(const std::string& dir, int count, int threads, bool tls) {
  ::signal(SIGPIPE, SIG_IGN);
  raiseFileLimit();
  asio::io_context io(threads);
  std::optional<asio::ssl::context> credentials;
  if (tls) {
    auto made = makeCredentials(dir, count);
    if (!made) {
      std::cerr << "fake engines: credentials: " << made.error().message() << "\n";
      return 1;
    }
    credentials.emplace(std::move(*made));
  }
  std::vector<std::unique_ptr<FakeEngine>> engines;
  std::vector<std::unique_ptr<UnixListener>> unixListeners;
  std::vector<std::unique_ptr<TlsListener>> tlsListeners;
  for (int i = 1; i <= count; ++i) {
    engines.push_back(std::make_unique<FakeEngine>(hostName(i), i));
    try {
      if (tls) {
        asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        const std::string url = fmt::format("tcp://127.0.0.1:{}", acceptor.local_endpoint().port());
        if (auto s = writeFileAtomic(std::filesystem::path(dir) / hostName(i) / "url", url,
                                     std::filesystem::perms(0644));
            !s) {
          throw std::runtime_error(s.error().message());
        }
        tlsListeners.push_back(
            std::make_unique<TlsListener>(io, std::move(acceptor), *engines.back(), &*credentials));
        tlsListeners.back()->start();
      } else {
        const std::string path = dir + "/" + hostName(i) + ".sock";
        std::filesystem::remove(path);
        asio::local::stream_protocol::acceptor acceptor(io, asio::local::stream_protocol::endpoint(path));
        unixListeners.push_back(std::make_unique<UnixListener>(io, std::move(acceptor), *engines.back(), nullptr));
        unixListeners.back()->start();
      }
    } catch (const std::exception& e) {
      std::cerr << "fake engines: listen for " << hostName(i) << " in " << dir << ": " << e.what() << "\n";
      return 1;
    }
  }
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](error_code, int) { io.stop(); });
  std::cout << "ready" << std::endl;
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&] { io.run(); });
  io.run();
  for (std::thread& t : pool) t.join();
  std::size_t total = 0;
  for (const auto& e : engines) total += e->requests();
  std::cerr << fmt::format("fake engines: {} requests answered\n", total);
  return 0;
}

}  // namespace fake

// ======================================================================================
// Pure measurements: cluster::reconcile on a ClusterState built in memory
// ======================================================================================
namespace pure {

using cluster::ClusterState;
using cluster::Decisions;
using cluster::DefCatalog;
using cluster::Observations;
using cluster::WallTime;

struct Fleet {
  ClusterState state{};
  Observations obs{};
  DefCatalog defs{};
  cluster::ReconcileConfig config{};
  WallTime now{};
  std::uint64_t ids = 0;

  std::string newId() { return fmt::format("{:012x}", splitmix(++ids) & 0xffffffffffffULL); }
  Decisions pass() {
    return cluster::reconcile(state, obs, defs, config, now, [this] { return newId(); });
  }
  // The next moment: probes answered.
  void tick() {
    now += 1ms;
    for (auto& [name, o] : obs) {
      (void)name;
      o.lastSeen = now;
    }
  }
};

// H ready hosts (4 CPUs, 8 GiB each) and a stack "bench" with one service "app" of `replicas`,
// deployed as Controller::deploy records it; nothing placed yet.
Fleet makeFleet(int hosts, int replicas) {
  Fleet f;
  f.now = WallTime(std::chrono::seconds(1714557600));
  f.config.startedAt = f.now - 1min;
  for (int i = 1; i <= hosts; ++i) {
    cluster::Host h;
    h.name = hostName(i);
    h.index = i;
    h.id = fmt::format("{:012x}", splitmix(static_cast<std::uint64_t>(i)) & 0xffffffffffffULL);
    h.url = fmt::format("tcp://10.{}.{}.{}:2376", i / 65536, (i / 256) % 256, i % 256);
    h.facts.hostname = h.name;
    h.facts.engineVersion = "20.10.24";
    h.facts.ncpu = 4;
    h.facts.memoryBytes = std::int64_t{8} << 30;
    h.addedAt = f.now - 1h;
    cluster::HostObservation& o = f.obs[h.name];
    o.health = cluster::HostHealth::Ready;
    o.lastSeen = f.now;
    o.listed = true;
    f.state.hosts[h.name] = std::move(h);
  }
  f.state.nextHostIndex = hosts + 1;
  auto project = loadStack("bench", stackYaml(replicas));
  if (!project) {
    std::cerr << "berth_fleet_sim: " << project.error().message() << "\n";
    std::exit(1);
  }
  cluster::Stack s;
  s.name = "bench";
  s.generation = 1;
  s.createdAt = f.now;
  s.updatedAt = f.now;
  f.state.stacks["bench"] = s;
  f.state.versions[{"bench", 1}] = cluster::StackVersion{"bench", 1, spec::renderYaml(*project)};
  for (const auto& [name, service] : project->services) {
    auto d = cluster::serviceDef(*project, service, 1);
    if (!d) {
      std::cerr << "berth_fleet_sim: " << d.error().message() << "\n";
      std::exit(1);
    }
    cluster::ServiceRecord r;
    r.stack = "bench";
    r.name = name;
    r.specGeneration = 1;
    f.state.services[{"bench", name}] = r;
    f.defs[cluster::DefKey{"bench", name, 1}] = std::move(*d);
  }
  return f;
}

// Every live task's container is running on its host (as a listing shows it), and a pass has
// turned them Running.
void runEverything(Fleet& f) {
  for (auto& [name, o] : f.obs) {
    (void)name;
    o.containers.clear();
  }
  std::uint64_t n = 0;
  for (const auto& [id, t] : f.state.tasks) {
    if (!t.live() || t.host.empty()) continue;
    cluster::ObservedTaskContainer c;
    c.id = hex64(7, ++n);
    c.task = id;
    c.stack = t.stack;
    c.service = t.service;
    c.slot = t.slot;
    c.phase = cluster::ContainerPhase::Running;
    f.obs[t.host].containers.push_back(std::move(c));
  }
  for (auto& [name, o] : f.obs) {
    (void)name;
    std::sort(o.containers.begin(), o.containers.end(),
              [](const auto& a, const auto& b) { return std::tie(a.service, a.slot) < std::tie(b.service, b.slot); });
  }
  f.tick();
  Decisions d = f.pass();
  cluster::applyChange(f.state, d.change);
}

// Times are the measuring thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which other processes on a
// busy machine do not inflate, with the wall-clock median beside it.
struct Timing {
  double minMs = 0;     // CPU
  double medianMs = 0;  // CPU
  double wallMedianMs = 0;
  int runs = 0;
  std::string check{};  // what the pass decided, as a sanity check
};

double threadCpuMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

class Stopwatch {
 public:
  Stopwatch() : wall_(SteadyClock::now()), cpu_(threadCpuMs()) {}
  // (wall ms, CPU ms) since construction.
  std::pair<double, double> read() const {
    return {std::chrono::duration<double, std::milli>(SteadyClock::now() - wall_).count(),
            threadCpuMs() - cpu_};
  }

 private:
  SteadyClock::time_point wall_;
  double cpu_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

Timing summarize(const std::vector<std::pair<double, double>>& samples) {
  std::vector<double> wall;
  std::vector<double> cpu;
  for (const auto& [w, c] : samples) {
    wall.push_back(w);
    cpu.push_back(c);
  }
  Timing t;
  t.runs = static_cast<int>(samples.size());
  t.minMs = *std::min_element(cpu.begin(), cpu.end());
  t.medianMs = median(cpu);
  t.wallMedianMs = median(wall);
  return t;
}

// The first pass after the deploy: it places every task.
Timing placement(int hosts, int tasks, int runs) {
  Fleet f = makeFleet(hosts, tasks);
  std::vector<std::pair<double, double>> ms;
  std::string check;
  for (int r = 0; r < runs; ++r) {
    const Stopwatch watch;
    Decisions d = f.pass();
    ms.push_back(watch.read());
    int assigned = 0;
    std::set<std::string> used;
    for (const cluster::Task& t : d.change.putTasks) {
      if (t.state == cluster::TaskState::Assigned) {
        ++assigned;
        used.insert(t.host);
      }
    }
    check = fmt::format("{} assigned on {} hosts", assigned, used.size());
    if (assigned != tasks)
      std::cerr << "berth_fleet_sim: placement pass assigned " << assigned << " of " << tasks << "\n";
  }
  Timing t = summarize(ms);
  t.check = check;
  return t;
}

// The scheduler's share of that pass: the same T placements, cluster::candidates then T calls of
// cluster::Placer::place (what Pass::placeTask calls), without the reconciler around them.
Timing schedulerOnly(int hosts, int tasks, int runs) {
  Fleet f = makeFleet(hosts, tasks);
  std::map<std::string, cluster::PlacementSpec> specs;
  for (const auto& [key, d] : f.defs) specs[std::get<0>(key) + "/" + std::get<1>(key)] = d.placement;
  const cluster::PlacementSpec spec = specs.begin()->second;
  Observations withHealth = f.obs;
  std::vector<std::pair<double, double>> ms;
  int placed = 0;
  for (int r = 0; r < runs; ++r) {
    placed = 0;
    const Stopwatch watch;
    cluster::Placer load(cluster::candidates(f.state, withHealth, specs));
    for (int i = 1; i <= tasks; ++i) {
      if (load.place(spec, "app." + std::to_string(i))) ++placed;
    }
    ms.push_back(watch.read());
  }
  Timing t = summarize(ms);
  t.check = fmt::format("{} placed", placed);
  return t;
}

// A pass over a fleet where everything is placed and running: it decides nothing.
Timing steady(int hosts, int perHost, int runs) {
  Fleet f = makeFleet(hosts, hosts * perHost);
  Decisions placed = f.pass();
  cluster::applyChange(f.state, placed.change);
  runEverything(f);
  f.tick();
  std::vector<std::pair<double, double>> ms;
  std::string check;
  for (int r = 0; r < runs; ++r) {
    const Stopwatch watch;
    Decisions d = f.pass();
    ms.push_back(watch.read());
    int running = 0;
    for (const auto& [id, t] : f.state.tasks) {
      (void)id;
      if (t.state == cluster::TaskState::Running) ++running;
    }
    check = d.empty() ? fmt::format("nothing decided; {} tasks running", running)
                      : fmt::format("DECIDED SOMETHING: {} task changes, {} events, {} jobs",
                                    d.change.putTasks.size(), d.events.size(), d.jobs.size());
  }
  Timing t = summarize(ms);
  t.check = check;
  return t;
}

}  // namespace pure

// ======================================================================================
// The memory run: a real Controller against the fake engines (child process)
// ======================================================================================
namespace rss {

class SimEngines final : public cluster::EngineProvider {
 public:
  explicit SimEngines(std::string dir) : dir_(std::move(dir)) {}

  Result<std::shared_ptr<engine::Engine>> connect(const cluster::Host& host, Role role) override {
    BERTH_ASSIGN_OR_RETURN(engine::Endpoint endpoint, engine::parseEndpoint(host.url, true));
    if (endpoint.scheme == engine::Scheme::Tcp) {
      // As berthd's provider (daemon/data_dir.cc): the host's own client credentials.
      const std::filesystem::path hostDir = std::filesystem::path(dir_) / host.name;
      engine::TlsMaterial tls;
      BERTH_ASSIGN_OR_RETURN(tls.caPem, readFile(hostDir / "ca.pem"));
      BERTH_ASSIGN_OR_RETURN(tls.certPem, readFile(hostDir / "cert.pem"));
      BERTH_ASSIGN_OR_RETURN(tls.keyPem, readFile(hostDir / "key.pem"));
      tls.origin = hostDir.string();
      endpoint.tls = std::move(tls);
      endpoint.hostName = host.name;
    }
    // berthd's deadlines (as daemon/data_dir.cc's provider).
    BERTH_ASSIGN_OR_RETURN(auto e, engine::makeSocketEngine(endpoint, optionsFor(role)));  // as berthd
    return std::shared_ptr<engine::Engine>(std::move(e));
  }

 private:
  std::string dir_;
};

std::map<std::string, long> procStatus() {
  std::map<std::string, long> out;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    if (key != "VmRSS" && key != "VmHWM" && key != "Threads" && key != "RssAnon" && key != "RssFile" &&
        key != "VmSize") {
      continue;
    }
    out[key] = std::atol(line.c_str() + colon + 1);
  }
  return out;
}

// Where the resident memory is, by kind of mapping (/proc/self/smaps), in kB: thread stacks (an
// anonymous rw mapping right after its 4 kB guard page), glibc's per-thread malloc arenas (anonymous rw
// mappings at 64 MiB boundaries), the main heap ([heap]), files (the binary and shared libraries),
// and other anonymous memory (large malloc blocks, the main stack, ...).
struct ResidentBreakdown {
  long stacks = 0;
  long stackCount = 0;
  long arenas = 0;
  long arenaCount = 0;
  long heap = 0;
  long files = 0;
  long otherAnon = 0;
};

ResidentBreakdown residentBreakdown() {
  ResidentBreakdown b;
  std::ifstream in("/proc/self/smaps");
  std::string line;
  enum class Kind { Stack, Arena, Heap, File, Other } kind = Kind::Other;
  unsigned long prevEnd = 0;
  bool prevGuard = false;
  while (std::getline(in, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) != 0 &&
        line.find('-') != std::string::npos && line.find(':') > line.find(' ')) {
      std::istringstream head(line);
      std::string range, perms, offset, dev, inode, path;
      head >> range >> perms >> offset >> dev >> inode;
      std::getline(head, path);
      path = std::string(trim(path));
      const auto dash = range.find('-');
      const unsigned long start = std::stoul(range.substr(0, dash), nullptr, 16);
      const unsigned long end = std::stoul(range.substr(dash + 1), nullptr, 16);
      const bool anon = path.empty();
      if (path == "[heap]") {
        kind = Kind::Heap;
      } else if (!anon && path[0] != '[') {
        kind = Kind::File;
      } else if (anon && perms == "rw-p" && prevGuard && prevEnd == start) {
        kind = Kind::Stack;
        ++b.stackCount;
      } else if (anon && perms == "rw-p" && start % (64UL << 20) == 0) {
        kind = Kind::Arena;
        ++b.arenaCount;
      } else {
        kind = Kind::Other;
      }
      prevGuard = anon && perms == "---p" && end - start == 4096;
      prevEnd = end;
      continue;
    }
    if (startsWith(line, "Rss:")) {
      const long kb = std::atol(line.c_str() + 4);
      switch (kind) {
        case Kind::Stack:
          b.stacks += kb;
          break;
        case Kind::Arena:
          b.arenas += kb;
          break;
        case Kind::Heap:
          b.heap += kb;
          break;
        case Kind::File:
          b.files += kb;
          break;
        case Kind::Other:
          b.otherAnon += kb;
          break;
      }
    }
  }
  return b;
}

int fail(const std::string& what) {
  std::cerr << "berth_fleet_sim --controller: " << what << "\n";
  return 1;
}

int run(const std::string& dir, int hosts, int tasks, int settleSeconds) {
  ::signal(SIGPIPE, SIG_IGN);
  raiseFileLimit();
  log::setLevel(std::getenv("FLEET_SIM_DEBUG") != nullptr ? log::Level::Debug : log::Level::Warn);
  char tmpl[] = "/tmp/berth-fleet-state-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return fail("mkdtemp failed");
  const std::filesystem::path stateDir = tmpl;
  const auto status0 = procStatus();
  long result = 0;
  {
    auto store = cluster::SqliteStore::open(stateDir / "state.db");
    if (!store) return fail(store.error().message());
    SimEngines provider(dir);
    SystemClock clock;
    cluster::ControllerOptions options;
    options.version = "0.1.0";
    cluster::Controller controller(**store, provider, clock, options);
    if (auto s = controller.start(); !s) return fail(s.error().message());

    const auto tHosts = SteadyClock::now();
    for (int i = 1; i <= hosts; ++i) {
      cluster::HostRegistration reg;
      reg.name = hostName(i);
      // The fake engines' URL: tcp:// with mutual TLS when they serve it, else their unix socket.
      auto url = readFile(std::filesystem::path(dir) / hostName(i) / "url");
      reg.url = url ? *url : "unix://" + dir + "/" + hostName(i) + ".sock";
      if (auto h = controller.addHost(reg); !h) return fail(h.error().message());
    }
    // Every host ready (probed) before the deploy.
    while (true) {
      auto snap = controller.snapshot();
      int ready = 0;
      for (const auto& [name, o] : snap->observations) {
        (void)name;
        if (o.health == cluster::HostHealth::Ready && o.listed) ++ready;
      }
      if (ready == hosts) break;
      if (SteadyClock::now() - tHosts > 120s)
        return fail(fmt::format("only {} of {} hosts ready after 120s", ready, hosts));
      std::this_thread::sleep_for(20ms);
    }
    const double hostsSeconds = std::chrono::duration<double>(SteadyClock::now() - tHosts).count();

    // The stack as the CLI sends it: the canonical YAML of the loaded project.
    auto project = loadStack("fleet", stackYaml(tasks));
    if (!project) return fail(project.error().message());
    const std::string yaml = spec::renderYaml(*project);
    const auto tDeploy = SteadyClock::now();
    auto deployed = controller.deploy("fleet", yaml);
    if (!deployed) return fail("deploy: " + deployed.error().message());
    int running = 0;
    double firstPlacedSeconds = -1;
    while (true) {
      auto snap = controller.snapshot();
      running = 0;
      int placed = 0;
      for (const auto& [id, t] : snap->state.tasks) {
        (void)id;
        if (!t.live()) continue;
        if (t.state == cluster::TaskState::Running) ++running;
        if (!t.host.empty()) ++placed;
      }
      if (placed == tasks && firstPlacedSeconds < 0) {
        firstPlacedSeconds = std::chrono::duration<double>(SteadyClock::now() - tDeploy).count();
      }
      if (running == tasks) break;
      if (SteadyClock::now() - tDeploy > 600s)
        return fail(fmt::format("only {} of {} tasks running after 600s", running, tasks));
      std::this_thread::sleep_for(20ms);
    }
    const double deploySeconds = std::chrono::duration<double>(SteadyClock::now() - tDeploy).count();
    const auto atRunning = procStatus();
    const cluster::ReconcileStats before = controller.stats();

    // Steady state: probes every second, listings every 5 s, passes on the owner's 1 s tick.
    long maxRss = 0;
    const auto tSettle = SteadyClock::now();
    while (SteadyClock::now() - tSettle < std::chrono::seconds(settleSeconds)) {
      std::this_thread::sleep_for(100ms);
      maxRss = std::max(maxRss, procStatus()["VmRSS"]);
    }
    const auto st = procStatus();
    const memory::HeapStats heap = memory::heapStats();
    const cluster::ReconcileStats after = controller.stats();
    auto snap = controller.snapshot();
    int stillRunning = 0;
    for (const auto& [id, t] : snap->state.tasks) {
      (void)id;
      if (t.live() && t.state == cluster::TaskState::Running) ++stillRunning;
    }

    std::cout << "hosts=" << hosts << "\n"
              << "tasks=" << tasks << "\n"
              << "hosts_ready_s=" << hostsSeconds << "\n"
              << "placed_s=" << firstPlacedSeconds << "\n"
              << "deploy_s=" << deploySeconds << "\n"
              << "running_after_settle=" << stillRunning << "\n"
              << "rss_kb_start=" << status0.at("VmRSS") << "\n"
              << "rss_kb_at_running=" << atRunning.at("VmRSS") << "\n"
              << "rss_kb=" << st.at("VmRSS") << "\n"
              << "rss_kb_settle_max=" << maxRss << "\n"
              << "hwm_kb=" << st.at("VmHWM") << "\n"
              << "rss_anon_kb=" << st.at("RssAnon") << "\n"
              << "rss_file_kb=" << st.at("RssFile") << "\n"
              << "vmsize_kb=" << st.at("VmSize") << "\n"
              << "threads=" << st.at("Threads") << "\n"
              << "allocator=" << (memory::usingJemalloc() ? "jemalloc" : "glibc") << "\n"
              << "heap_in_use=" << heap.allocated << "\n"
              << "heap_resident=" << heap.resident << "\n"
              << "passes=" << after.passes << "\n"
              << "pass_sum_s=" << after.sumSeconds << "\n"
              << "steady_passes=" << after.passes - before.passes << "\n"
              << "steady_pass_sum_s=" << after.sumSeconds - before.sumSeconds << "\n"
              << "placement_failures=" << after.placementFailures << "\n";
    std::cout << "bounds=";
    for (std::size_t i = 0; i < after.bucketBounds.size(); ++i)
      std::cout << (i ? "," : "") << after.bucketBounds[i];
    std::cout << "\nbuckets=";
    for (std::size_t i = 0; i < after.bucketCounts.size(); ++i)
      std::cout << (i ? "," : "") << after.bucketCounts[i];
    std::cout << "\nsteady_buckets=";
    for (std::size_t i = 0; i < after.bucketCounts.size(); ++i) {
      std::cout << (i ? "," : "") << after.bucketCounts[i] - before.bucketCounts[i];
    }
    std::cout << "\n";
    std::uint64_t errors = 0;
    for (const auto& [host, n] : after.engineErrors) {
      (void)host;
      errors += n;
    }
    std::cout << "engine_errors=" << errors << "\n";
    const ResidentBreakdown rb = residentBreakdown();
    std::cout << "smaps_stacks_kb=" << rb.stacks << "\n"
              << "smaps_stacks_n=" << rb.stackCount << "\n"
              << "smaps_arenas_kb=" << rb.arenas << "\n"
              << "smaps_arenas_n=" << rb.arenaCount << "\n"
              << "smaps_heap_kb=" << rb.heap << "\n"
              << "smaps_files_kb=" << rb.files << "\n"
              << "smaps_other_anon_kb=" << rb.otherAnon << std::endl;
    if (std::getenv("FLEET_SIM_EXIT_AT_MEASURE") != nullptr) {
      // For heap profilers: what is allocated now is what the steady state holds ("leaked" to a
      // profiler that reads the process to its end).
      std::this_thread::sleep_for(200ms);
      std::_Exit(0);
    }
    controller.stop();
    result = stillRunning == tasks ? 0 : 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(stateDir, ec);
  return static_cast<int>(result);
}

}  // namespace rss

// ======================================================================================
// The driver
// ======================================================================================

std::string selfPath() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

// A child running this binary with `args`; its stdout through a pipe.
struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
};

Child spawn(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  const std::string self = selfPath();
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(self.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(self.c_str(), argv.data());
    std::perror("execv");
    ::_exit(127);
  }
  ::close(fds[1]);
  return Child{pid, ::fdopen(fds[0], "r")};
}

std::string readLine(FILE* f) {
  std::string line;
  int c;
  while ((c = std::fgetc(f)) != EOF && c != '\n') line += static_cast<char>(c);
  return line;
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct MemoryResult {
  int hosts = 0;
  int tasks = 0;
  bool tls = true;
  std::map<std::string, std::string> values{};
  bool ok = false;

  std::string transport() const { return tls ? "TCP, mutual TLS" : "unix socket, plain HTTP"; }

  double num(const std::string& key) const {
    auto it = values.find(key);
    return it == values.end() ? 0 : std::atof(it->second.c_str());
  }
};

MemoryResult memoryRun(int hosts, int tasks, int settle, bool tls) {
  MemoryResult m;
  m.hosts = hosts;
  m.tasks = tasks;
  m.tls = tls;
  char tmpl[] = "/tmp/berth-fleet-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return m;
  }
  const std::string dir = tmpl;
  std::vector<std::string> serveArgs = {"--serve", dir, std::to_string(hosts)};
  if (!tls) serveArgs.push_back("--plain");
  Child server = spawn(serveArgs);
  const std::string ready = readLine(server.out);
  if (ready != "ready") {
    std::cerr << "berth_fleet_sim: the fake engines did not start\n";
  } else {
    Child controller =
        spawn({"--controller", dir, std::to_string(hosts), std::to_string(tasks), std::to_string(settle)});
    for (std::string line = readLine(controller.out); !line.empty() || !std::feof(controller.out);
         line = readLine(controller.out)) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) m.values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    int status = 0;
    ::waitpid(controller.pid, &status, 0);
    std::fclose(controller.out);
    m.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  ::kill(server.pid, SIGTERM);
  int status = 0;
  ::waitpid(server.pid, &status, 0);
  std::fclose(server.out);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return m;
}

std::string fmtMs(double ms) { return ms < 10 ? fmt::format("{:.2f}", ms) : fmt::format("{:.0f}", ms); }
std::string mib(double kb) { return fmt::format("{:.1f}", kb / 1024); }

// The slope of log(y) over log(x) between two points: y grows as x^slope.
double exponent(double x1, double y1, double x2, double y2) { return std::log(y2 / y1) / std::log(x2 / x1); }

int usage() {
  std::cerr << "usage: berth_fleet_sim [--runs N] [--settle SECONDS] [--size HOSTS,TASKS] [placement] "
               "[steady] [memory]\n"
               "       berth_fleet_sim --serve DIR N [--plain]\n"
               "       berth_fleet_sim --controller DIR HOSTS TASKS SETTLE_SECONDS\n";
  return 2;
}

int benchmark(int argc, char** argv) {
  int runs = 5;
  // Steady state is 30 s after the deploy: the second connection an agent opened for the deploy's
  // listings closes after 10 s without one (a measure at 10 s catches it closing).
  int settle = 30;
  int onlyHosts = 0;  // --size H,T: only that size (for profiling)
  int onlyTasks = 0;
  std::set<std::string> parts;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--settle" && i + 1 < argc) {
      settle = std::max(0, std::atoi(argv[++i]));
    } else if (a == "--size" && i + 1 < argc) {
      const std::vector<std::string> ht = split(argv[++i], ',');
      if (ht.size() != 2) return usage();
      onlyHosts = std::atoi(ht[0].c_str());
      onlyTasks = std::atoi(ht[1].c_str());
    } else if (a == "placement" || a == "steady" || a == "memory") {
      parts.insert(a);
    } else {
      return usage();
    }
  }
  if (parts.empty()) parts = {"placement", "steady", "memory"};
  const int bigRuns = std::max(1, std::min(runs, 3));

  std::cout << "## Controller at scale (bench/fleet_sim.cc)\n\n";
  std::cout << fmt::format("{} CPUs; load average before: {}\n\n", std::thread::hardware_concurrency(),
                           loadAverage());

  if (parts.count("placement") != 0) {
    struct Size {
      int hosts, tasks;
    };
    std::vector<Size> sizes = {{100, 1000},  {1000, 10000}, {3000, 30000},
                               {1000, 1000}, {100, 10000},  {3000, 10000}};
    if (onlyHosts > 0) sizes = {{onlyHosts, onlyTasks}};
    std::cout
        << "### Placement: the reconcile pass that places a deploy of one service of T replicas\n\n"
           "(ms of the measuring thread's CPU time, min and median of the runs; the wall-clock median beside "
           "them)\n\n";
    std::cout
        << "| hosts | tasks | min ms | median ms | wall median ms | runs | target | of which cluster::place "
           "(median ms) | the pass |\n"
           "|---:|---:|---:|---:|---:|---:|---|---:|---|\n";
    std::map<std::pair<int, int>, double> med;
    std::map<std::pair<int, int>, double> sched;
    for (const Size& s : sizes) {
      const int n = s.tasks >= 30000 ? bigRuns : runs;
      const pure::Timing t = pure::placement(s.hosts, s.tasks, n);
      const pure::Timing p = pure::schedulerOnly(s.hosts, s.tasks, n);
      med[{s.hosts, s.tasks}] = t.medianMs;
      sched[{s.hosts, s.tasks}] = p.medianMs;
      const std::string target = s.hosts == 1000 && s.tasks == 10000
                                     ? (t.medianMs <= 100 ? "≤ 100 ms: met" : "≤ 100 ms: **missed**")
                                     : "";
      std::cout << fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", s.hosts, s.tasks,
                               fmtMs(t.minMs), fmtMs(t.medianMs), fmtMs(t.wallMedianMs), t.runs, target,
                               fmtMs(p.medianMs), t.check)
                << std::flush;
    }
    if (onlyHosts == 0) {
      const auto growth = [](std::map<std::pair<int, int>, double>& m) {
        return fmt::format(
            "×{:.1f} from 100/1,000 to 1,000/10,000 (exponent {:.2f} in the size), ×{:.1f} to 3,000/30,000 "
            "(exponent {:.2f}); tasks alone (1,000 hosts, 1,000 → 10,000 tasks): exponent {:.2f}; hosts "
            "alone "
            "(10,000 tasks, 100 → 1,000 → 3,000 hosts): exponents {:.2f}, {:.2f}",
            m[{1000, 10000}] / m[{100, 1000}], exponent(1000, m[{100, 1000}], 10000, m[{1000, 10000}]),
            m[{3000, 30000}] / m[{1000, 10000}], exponent(10000, m[{1000, 10000}], 30000, m[{3000, 30000}]),
            exponent(1000, m[{1000, 1000}], 10000, m[{1000, 10000}]),
            exponent(100, m[{100, 10000}], 1000, m[{1000, 10000}]),
            exponent(1000, m[{1000, 10000}], 3000, m[{3000, 10000}]));
      };
      std::cout << "\nGrowth of the pass (medians): " << growth(med) << ".\n";
      std::cout << "Growth of cluster::place alone: " << growth(sched) << ".\n\n";
    }
  }

  if (parts.count("steady") != 0) {
    struct Size {
      int hosts, perHost;
    };
    std::vector<Size> sizes = {{100, 10}, {1000, 10}, {3000, 10}, {1000, 1}, {100, 100}};
    if (onlyHosts > 0) sizes = {{onlyHosts, std::max(1, onlyTasks / onlyHosts)}};
    std::cout
        << "### Steady state: one reconcile pass over H hosts, every task placed and running\n\n"
           "(ms of the measuring thread's CPU time, min and median of the runs; the wall-clock median beside "
           "them)\n\n";
    std::cout << "| hosts | tasks | min ms | median ms | wall median ms | runs | target | the pass "
                 "|\n|---:|---:|---:|---:|---:|---:|---|---|\n";
    std::map<std::pair<int, int>, double> med;
    for (const Size& s : sizes) {
      const int tasks = s.hosts * s.perHost;
      const int n = tasks >= 30000 ? bigRuns : runs;
      const pure::Timing t = pure::steady(s.hosts, s.perHost, n);
      med[{s.hosts, tasks}] = t.medianMs;
      const std::string target = s.hosts == 1000 && tasks == 10000
                                     ? (t.medianMs <= 50 ? "≤ 50 ms: met" : "≤ 50 ms: **missed**")
                                     : "";
      std::cout << fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", s.hosts, tasks, fmtMs(t.minMs),
                               fmtMs(t.medianMs), fmtMs(t.wallMedianMs), t.runs, target, t.check)
                << std::flush;
    }
    if (onlyHosts == 0)
      std::cout << fmt::format(
          "\nGrowth (median): 100 → 1,000 hosts (10 tasks each): ×{:.1f}, exponent {:.2f}; 1,000 → 3,000: "
          "×{:.1f}, "
          "exponent {:.2f}. Tasks alone (1,000 hosts, 1,000 → 10,000 tasks): exponent {:.2f}; hosts alone "
          "(10,000 "
          "tasks, 100 → 1,000 hosts): exponent {:.2f}.\n\n",
          med[{1000, 10000}] / med[{100, 1000}], exponent(100, med[{100, 1000}], 1000, med[{1000, 10000}]),
          med[{3000, 30000}] / med[{1000, 10000}],
          exponent(1000, med[{1000, 10000}], 3000, med[{3000, 30000}]),
          exponent(1000, med[{1000, 1000}], 10000, med[{1000, 10000}]),
          exponent(100, med[{100, 10000}], 1000, med[{1000, 10000}]));
  }

  if (parts.count("memory") != 0) {
    struct Size {
      int hosts, tasks;
    };
    std::vector<Size> sizes = {{10, 500}, {50, 2500}, {100, 5000}};
    if (onlyHosts > 0) sizes = {{onlyHosts, onlyTasks}};
    std::vector<MemoryResult> results;
    // Over mutual TLS as berthd reaches hosts, and over plain HTTP on unix sockets for what TLS costs.
    for (const Size& s : sizes) {
      results.push_back(memoryRun(s.hosts, s.tasks, settle, true));
      results.push_back(memoryRun(s.hosts, s.tasks, settle, false));
    }
    std::cout << fmt::format(
        "### berthd's controller on a simulated fleet (real HTTP, over mutual TLS and plain, to fake engines; SQLite store; {} s of "
        "steady "
        "state)\n\n",
        settle);
    std::cout << "| hosts | tasks | engine connections | VmRSS MiB | VmHWM MiB | target | deploy → all placed s | "
                 "deploy → all running s | steady passes | mean steady pass ms | engine errors |\n"
                 "|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|\n";
    for (const MemoryResult& m : results) {
      if (!m.ok) {
        std::cout << fmt::format("| {} | {} | {} | run failed (see stderr) | | | | | | | |\n", m.hosts, m.tasks,
                                 m.transport());
        continue;
      }
      const double steadyPasses = m.num("steady_passes");
      constexpr double kTargetKb = 30e6 / 1024;  // 30 MB
      const std::string target = m.hosts == 100 && m.tasks == 5000
                                     ? (m.num("rss_kb") <= kTargetKb ? "≤ 30 MB: met" : "≤ 30 MB: **missed**")
                                     : "";
      std::cout << fmt::format(
          "| {} | {} | {} | {} | {} | {} | {:.1f} | {:.1f} | {} | {} | {} |\n", m.hosts, m.tasks, m.transport(),
          mib(m.num("rss_kb")), mib(m.num("hwm_kb")), target, m.num("placed_s"), m.num("deploy_s"),
          m.values.at("steady_passes"),
          steadyPasses > 0 ? fmtMs(1000 * m.num("steady_pass_sum_s") / steadyPasses) : "-",
          m.values.at("engine_errors"));
    }
    std::cout
        << "\nWhere the resident memory is (/proc/self/smaps and the allocator's statistics at the end of "
           "the steady state):\n\n"
           "| hosts | tasks | engine connections | threads | thread stacks MiB | heap MiB (other anonymous "
           "memory; allocator) | of it allocated MiB | files MiB (binary, libraries) |\n"
           "|---:|---:|---|---:|---:|---:|---:|---:|\n";
    for (const MemoryResult& m : results) {
      if (!m.ok) continue;
      std::cout << fmt::format(
          "| {} | {} | {} | {} | {} | {} ({}) | {} | {} |\n", m.hosts, m.tasks, m.transport(),
          m.values.at("threads"),
          mib(m.num("smaps_stacks_kb")),
          mib(m.num("smaps_heap_kb") + m.num("smaps_arenas_kb") + m.num("smaps_other_anon_kb")),
          m.values.at("allocator"),
          mib(m.num("heap_in_use") / 1024),
          mib(m.num("smaps_files_kb")));
    }
    std::cout << "\nReconcile pass durations (Controller::stats(), the whole run: deploy and steady state; "
                 "cumulative buckets, as Prometheus counts them):\n\n";
    std::cout << "| hosts | tasks | engine connections | passes | total s | ";
    std::vector<std::string> bounds;
    for (const MemoryResult& m : results) {
      if (m.ok) {
        bounds = split(m.values.at("bounds"), ',');
        break;
      }
    }
    for (const std::string& b : bounds) std::cout << "≤ " << std::atof(b.c_str()) * 1000 << " ms | ";
    std::cout << "\n|---:|---:|---|---:|---:|";
    for (std::size_t i = 0; i < bounds.size(); ++i) std::cout << "---:|";
    std::cout << "\n";
    for (const MemoryResult& m : results) {
      if (!m.ok) continue;
      std::cout << fmt::format("| {} | {} | {} | {} | {:.2f} | ", m.hosts, m.tasks, m.transport(), m.values.at("passes"),
                               m.num("pass_sum_s"));
      for (const std::string& c : split(m.values.at("buckets"), ',')) std::cout << c << " | ";
      std::cout << "\n";
    }
    std::cout << "\n";
    if (results.size() == 3 && results[0].ok && results[1].ok && results[2].ok) {
      const double r0 = results[0].num("rss_kb");
      const double r1 = results[1].num("rss_kb");
      const double r2 = results[2].num("rss_kb");
      std::cout << fmt::format(
          "Growth: VmRSS {} → {} → {} MiB for 10/500 → 50/2,500 → 100/5,000 (process start: {} MiB): about "
          "{:.0f} KiB per host with its 50 tasks ({:.0f} KiB between the first two sizes, {:.0f} KiB between "
          "the "
          "last two).\n\n",
          mib(r0), mib(r1), mib(r2), mib(results[2].num("rss_kb_start")), (r2 - r0) / 90, (r1 - r0) / 40,
          (r2 - r1) / 50);
    }
  }
  std::cout << fmt::format("Load average after: {}\n", loadAverage());
  return 0;
}

}  // namespace

// The controller process allocates as berthd does (jemalloc with berthd's settings, when linked).
extern "C" {
const char* malloc_conf = berth::memory::kJemallocConf;
}

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--serve") {
    if (argc < 4) return usage();
    const bool plain = argc > 4 && std::string(argv[4]) == "--plain";
    return fake::serve(argv[2], std::atoi(argv[3]), 2, !plain);
  }
  if (argc >= 2 && std::string(argv[1]) == "--controller") {
    if (argc < 6) return usage();
    berth::memory::tuneForManyThreads(argv);  // as berthd's main does, first thing
    return rss::run(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]));
  }
  return benchmark(argc, argv);
}
