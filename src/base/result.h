// Result<T>: a value or an Error, for everything the outside world can make go wrong (files, YAML,
// network, engines). Shaped like std::expected so that C++23 can make it an alias. berth's own code
// does not throw; exceptions from third-party libraries are caught in the one .cc that wraps them.
//
// Thread-safety: plain values; no shared state.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/check.h"

namespace berth {

enum class ErrorCode {
  InvalidArgument,  // the user's input is wrong (compose file, flag, name)
  NotFound,         // the thing asked for does not exist
  AlreadyExists,
  Conflict,          // exists but in a state that forbids the operation
  Unavailable,       // could not reach it (connection refused, host down)
  DeadlineExceeded,  // reached it, but it did not answer in time
  PermissionDenied,  // authentication / authorisation / TLS trust failures
  Internal,          // the other side failed (engine 500) or an invariant of data broke
  Cancelled,         // the user or a stop request interrupted the operation
};

std::string_view errorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes what we were doing: Error(NotFound, "no such image").withContext("create web-1")
  // reads "create web-1: no such image".
  Error withContext(std::string_view what) && {
    message_.insert(0, std::string(what) + ": ");
    return std::move(*this);
  }
  Error withContext(std::string_view what) const& { return Error(*this).withContext(what); }

  friend bool operator==(const Error&, const Error&) = default;

 private:
  ErrorCode code_;
  std::string message_;
};

// The failure half of a Result, so `return fail(...)` converts to any Result<T>.
struct Unexpected {
  Error error;
};

inline Unexpected fail(ErrorCode code, std::string message) {
  return Unexpected{Error(code, std::move(message))};
}
inline Unexpected fail(Error error) { return Unexpected{std::move(error)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}         // NOLINT: implicit by design
  Result(Unexpected u) : state_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT
  Result(Error e) : state_(std::in_place_index<1>, std::move(e)) {}             // NOLINT
  template <class U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
           !std::is_same_v<std::decay_t<U>, Error> && !std::is_same_v<std::decay_t<U>, Unexpected> &&
           !std::is_same_v<std::decay_t<U>, Result>) Result(U&& value)
      : state_(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    BERTH_CHECK_MSG(has_value(), "value() of a failed Result: " + std::get<1>(state_).message());
    return std::get<0>(state_);
  }
  const T& value() const& {
    BERTH_CHECK_MSG(has_value(), "value() of a failed Result: " + std::get<1>(state_).message());
    return std::get<0>(state_);
  }
  T&& value() && {
    BERTH_CHECK_MSG(has_value(), "value() of a failed Result: " + std::get<1>(state_).message());
    return std::get<0>(std::move(state_));
  }
  const Error& error() const& {
    BERTH_CHECK(!has_value());
    return std::get<1>(state_);
  }
  Error&& error() && {
    BERTH_CHECK(!has_value());
    return std::get<1>(std::move(state_));
  }
  T value_or(T fallback) const& { return has_value() ? std::get<0>(state_) : std::move(fallback); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : error_(std::move(u.error)), failed_(true) {}  // NOLINT
  Result(Error e) : error_(std::move(e)), failed_(true) {}             // NOLINT

  bool has_value() const { return !failed_; }
  explicit operator bool() const { return has_value(); }
  void value() const { BERTH_CHECK_MSG(has_value(), "value() of a failed Result: " + error_.message()); }
  const Error& error() const& {
    BERTH_CHECK(failed_);
    return error_;
  }
  Error&& error() && {
    BERTH_CHECK(failed_);
    return std::move(error_);
  }

 private:
  Error error_{ErrorCode::Internal, ""};
  bool failed_ = false;
};

using Status = Result<void>;
inline Status ok() { return {}; }

}  // namespace berth

#define BERTH_CONCAT_INNER_(a, b) a##b
#define BERTH_CONCAT_(a, b) BERTH_CONCAT_INNER_(a, b)

// BERTH_TRY(expr): evaluates a Result-returning expression and returns its error from the
// enclosing function if it failed.
#define BERTH_TRY(expr)                                                                             \
  do {                                                                                              \
    auto&& berth_try_result_ = (expr);                                                              \
    if (!berth_try_result_.has_value()) return ::berth::fail(std::move(berth_try_result_).error()); \
  } while (0)

// BERTH_ASSIGN_OR_RETURN(decl, expr): `decl = *expr` or return expr's error.
#define BERTH_ASSIGN_OR_RETURN(decl, expr) \
  BERTH_ASSIGN_OR_RETURN_IMPL_(BERTH_CONCAT_(berth_aor_, __LINE__), decl, expr)
#define BERTH_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr)                 \
  auto tmp = (expr);                                                  \
  if (!tmp.has_value()) return ::berth::fail(std::move(tmp).error()); \
  decl = std::move(tmp).value()
