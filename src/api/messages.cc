#include "api/messages.h"

#include <nlohmann/json.hpp>

#include <type_traits>

namespace berth::api {
namespace {

using Json = nlohmann::json;

// Each message lists its fields once; encoding and decoding walk that list.
template <class F> void fields(ErrorReply& v, F&& f) { f("code", v.code); f("message", v.message); }
template <class F> void fields(InfoReply& v, F&& f) {
  f("version", v.version); f("dataDir", v.dataDir); f("store", v.store); f("hosts", v.hosts);
  f("stacks", v.stacks); f("tasks", v.tasks); f("startedAt", v.startedAt);
}
template <class F> void fields(HostView& v, F&& f) {
  f("name", v.name); f("id", v.id); f("url", v.url); f("labels", v.labels); f("availability", v.availability);
  f("state", v.state); f("error", v.error); f("hostname", v.hostname); f("engineVersion", v.engineVersion);
  f("ncpu", v.ncpu); f("memory", v.memory); f("engineLabels", v.engineLabels); f("tasks", v.tasks);
  f("containers", v.containers); f("addedAt", v.addedAt); f("lastSeen", v.lastSeen);
}
template <class F> void fields(TaskView& v, F&& f) {
  f("id", v.id); f("name", v.name); f("stack", v.stack); f("service", v.service); f("slot", v.slot);
  f("host", v.host); f("desired", v.desired); f("state", v.state); f("since", v.since); f("error", v.error);
  f("exitCode", v.exitCode); f("image", v.image); f("containerId", v.containerId); f("generation", v.generation);
  f("createdAt", v.createdAt);
}
template <class F> void fields(ServiceView& v, F&& f) {
  f("stack", v.stack); f("name", v.name); f("fullName", v.fullName); f("mode", v.mode); f("desired", v.desired);
  f("running", v.running); f("image", v.image); f("ports", v.ports); f("generation", v.generation);
  f("previousGeneration", v.previousGeneration); f("updateState", v.updateState);
  f("updateMessage", v.updateMessage); f("updateStartedMs", v.updateStartedMs); f("definition", v.definition); f("converged", v.converged);
}
template <class F> void fields(StackView& v, F&& f) {
  f("name", v.name); f("generation", v.generation); f("services", v.services); f("desired", v.desired);
  f("running", v.running); f("removing", v.removing); f("createdAt", v.createdAt); f("updatedAt", v.updatedAt);
}
template <class F> void fields(EventView& v, F&& f) {
  f("seq", v.seq); f("time", v.time); f("type", v.type); f("action", v.action); f("stack", v.stack);
  f("service", v.service); f("task", v.task); f("name", v.name); f("host", v.host); f("message", v.message);
}
template <class F> void fields(CsrRequest& v, F&& f) { f("name", v.name); }
template <class F> void fields(CsrReply& v, F&& f) { f("csr", v.csr); }
template <class F> void fields(HostAddRequest& v, F&& f) {
  f("name", v.name); f("url", v.url); f("labels", v.labels); f("caPem", v.caPem); f("certPem", v.certPem);
}
template <class F> void fields(LabelRequest& v, F&& f) { f("set", v.set); f("remove", v.remove); }
template <class F> void fields(DeployRequest& v, F&& f) { f("name", v.name); f("project", v.project); }
template <class F> void fields(DeployReply& v, F&& f) {
  f("generation", v.generation); f("changed", v.changed); f("updated", v.updated); f("removed", v.removed);
}
template <class F> void fields(ScaleRequest& v, F&& f) { f("replicas", v.replicas); }
template <class F> void fields(UpdateRequest& v, F&& f) { f("force", v.force); f("host", v.host); }
template <class F> void fields(RebalanceReply& v, F&& f) { f("moves", v.moves); }
template <class F> void fields(ImageWant& v, F&& f) { f("reference", v.reference); f("id", v.id); }
template <class F> void fields(MissingImagesRequest& v, F&& f) { f("images", v.images); f("hosts", v.hosts); }
template <class F> void fields(MissingImagesReply& v, F&& f) { f("missing", v.missing); }
template <class F> void fields(ImageLoadReply& v, F&& f) { f("loaded", v.loaded); f("failed", v.failed); }

template <class T> const char* nameOf();
#define BERTH_API_NAME(T) template <> const char* nameOf<T>() { return #T; }
BERTH_API_NAME(ErrorReply) BERTH_API_NAME(InfoReply) BERTH_API_NAME(HostView) BERTH_API_NAME(TaskView)
BERTH_API_NAME(ServiceView) BERTH_API_NAME(StackView) BERTH_API_NAME(EventView) BERTH_API_NAME(CsrRequest)
BERTH_API_NAME(CsrReply) BERTH_API_NAME(HostAddRequest) BERTH_API_NAME(LabelRequest)
BERTH_API_NAME(DeployRequest) BERTH_API_NAME(DeployReply) BERTH_API_NAME(ScaleRequest)
BERTH_API_NAME(UpdateRequest) BERTH_API_NAME(RebalanceReply)
BERTH_API_NAME(MissingImagesRequest) BERTH_API_NAME(MissingImagesReply) BERTH_API_NAME(ImageLoadReply)
#undef BERTH_API_NAME

template <class T> struct IsVector : std::false_type {};
template <class T> struct IsVector<std::vector<T>> : std::true_type {};
template <class T> struct IsMap : std::false_type {};
template <class V> struct IsMap<std::map<std::string, V>> : std::true_type {};
template <class T> struct IsOptional : std::false_type {};
template <class T> struct IsOptional<std::optional<T>> : std::true_type {};

template <class T> Json encode(const T& v);

template <class T>
Json encodeValue(const T& v) {
  if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T>) {
    return Json(v);
  } else if constexpr (IsOptional<T>::value) {
    return v ? encodeValue(*v) : Json(nullptr);
  } else if constexpr (IsVector<T>::value) {
    Json a = Json::array();
    for (const auto& item : v) a.push_back(encodeValue(item));
    return a;
  } else if constexpr (IsMap<T>::value) {
    Json o = Json::object();
    for (const auto& [k, item] : v) o[k] = encodeValue(item);
    return o;
  } else {
    return encode(v);
  }
}

template <class T>
Json encode(const T& v) {
  Json o = Json::object();
  fields(const_cast<T&>(v), [&](const char* key, const auto& field) {
    using F = std::decay_t<decltype(field)>;
    if constexpr (IsOptional<F>::value) {
      if (!field) return;
    }
    o[key] = encodeValue(field);
  });
  return o;
}

template <class T> Status decode(const Json& j, T& out, const std::string& where);

template <class T>
Status decodeValue(const Json& j, T& out, const std::string& where) {
  const auto bad = [&](const char* expected) {
    return fail(ErrorCode::InvalidArgument, where + ": expected " + expected);
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) return bad("a string");
    out = j.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) return bad("true or false");
    out = j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!j.is_number_integer()) return bad("an integer");
    out = j.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) return bad("a number");
    out = j.get<T>();
  } else if constexpr (IsOptional<T>::value) {
    if (j.is_null()) {
      out.reset();
    } else {
      typename T::value_type v{};
      BERTH_TRY(decodeValue(j, v, where));
      out = std::move(v);
    }
  } else if constexpr (IsVector<T>::value) {
    if (j.is_null()) return ok();
    if (!j.is_array()) return bad("a list");
    out.clear();
    for (std::size_t i = 0; i < j.size(); ++i) {
      typename T::value_type v{};
      BERTH_TRY(decodeValue(j[i], v, where + "[" + std::to_string(i) + "]"));
      out.push_back(std::move(v));
    }
  } else if constexpr (IsMap<T>::value) {
    if (j.is_null()) return ok();
    if (!j.is_object()) return bad("an object");
    out.clear();
    for (auto it = j.begin(); it != j.end(); ++it) {
      typename T::mapped_type v{};
      BERTH_TRY(decodeValue(it.value(), v, where + "." + it.key()));
      out[it.key()] = std::move(v);
    }
  } else {
    return decode(j, out, where);
  }
  return ok();
}

template <class T>
Status decode(const Json& j, T& out, const std::string& where) {
  if (!j.is_object()) return fail(ErrorCode::InvalidArgument, where + ": expected an object");
  Status status = ok();
  fields(out, [&](const char* key, auto& field) {
    if (!status) return;
    auto it = j.find(key);
    if (it == j.end()) return;  // absent: the default
    status = decodeValue(*it, field, where + "." + key);
  });
  return status;
}

template <class T>
std::string write(const T& v) {
  return encodeValue(v).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string toJson(const ErrorReply& v) { return write(v); }
std::string toJson(const InfoReply& v) { return write(v); }
std::string toJson(const HostView& v) { return write(v); }
std::string toJson(const std::vector<HostView>& v) { return write(v); }
std::string toJson(const TaskView& v) { return write(v); }
std::string toJson(const std::vector<TaskView>& v) { return write(v); }
std::string toJson(const ServiceView& v) { return write(v); }
std::string toJson(const std::vector<ServiceView>& v) { return write(v); }
std::string toJson(const StackView& v) { return write(v); }
std::string toJson(const std::vector<StackView>& v) { return write(v); }
std::string toJson(const EventView& v) { return write(v); }
std::string toJson(const CsrRequest& v) { return write(v); }
std::string toJson(const CsrReply& v) { return write(v); }
std::string toJson(const HostAddRequest& v) { return write(v); }
std::string toJson(const LabelRequest& v) { return write(v); }
std::string toJson(const DeployRequest& v) { return write(v); }
std::string toJson(const DeployReply& v) { return write(v); }
std::string toJson(const ScaleRequest& v) { return write(v); }
std::string toJson(const UpdateRequest& v) { return write(v); }
std::string toJson(const RebalanceReply& v) { return write(v); }
std::string toJson(const MissingImagesRequest& v) { return write(v); }
std::string toJson(const MissingImagesReply& v) { return write(v); }
std::string toJson(const ImageLoadReply& v) { return write(v); }

namespace {

template <class T>
std::string displayName() {
  if constexpr (IsVector<T>::value) {
    return std::string("list of ") + nameOf<typename T::value_type>();
  } else {
    return nameOf<T>();
  }
}

}  // namespace

template <class T>
Result<T> fromJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return fail(ErrorCode::InvalidArgument, displayName<T>() + ": not valid JSON");
  }
  T out{};
  BERTH_TRY(decodeValue(j, out, displayName<T>()));
  return out;
}

template Result<ErrorReply> fromJson<ErrorReply>(std::string_view);
template Result<InfoReply> fromJson<InfoReply>(std::string_view);
template Result<HostView> fromJson<HostView>(std::string_view);
template Result<std::vector<HostView>> fromJson<std::vector<HostView>>(std::string_view);
template Result<TaskView> fromJson<TaskView>(std::string_view);
template Result<std::vector<TaskView>> fromJson<std::vector<TaskView>>(std::string_view);
template Result<ServiceView> fromJson<ServiceView>(std::string_view);
template Result<std::vector<ServiceView>> fromJson<std::vector<ServiceView>>(std::string_view);
template Result<StackView> fromJson<StackView>(std::string_view);
template Result<std::vector<StackView>> fromJson<std::vector<StackView>>(std::string_view);
template Result<EventView> fromJson<EventView>(std::string_view);
template Result<CsrRequest> fromJson<CsrRequest>(std::string_view);
template Result<CsrReply> fromJson<CsrReply>(std::string_view);
template Result<HostAddRequest> fromJson<HostAddRequest>(std::string_view);
template Result<LabelRequest> fromJson<LabelRequest>(std::string_view);
template Result<DeployRequest> fromJson<DeployRequest>(std::string_view);
template Result<DeployReply> fromJson<DeployReply>(std::string_view);
template Result<ScaleRequest> fromJson<ScaleRequest>(std::string_view);
template Result<UpdateRequest> fromJson<UpdateRequest>(std::string_view);
template Result<RebalanceReply> fromJson<RebalanceReply>(std::string_view);
template Result<MissingImagesRequest> fromJson<MissingImagesRequest>(std::string_view);
template Result<MissingImagesReply> fromJson<MissingImagesReply>(std::string_view);
template Result<ImageLoadReply> fromJson<ImageLoadReply>(std::string_view);

}  // namespace berth::api
