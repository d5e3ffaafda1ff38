#include "spec/interpolation.h"

#include "base/strings.h"

namespace berth::spec {
namespace {

constexpr int kMaxNesting = 64;

bool isNameStart(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }

// compose's brace matching for the text starting at "${": '{' opens (and skips the character after
// it), '}' closes. npos when unbalanced.
std::size_t firstBraceClosing(std::string_view s) {
  int open = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '}') {
      --open;
      if (open == 0) return i;
    }
    if (s[i] == '{') {
      ++open;
      ++i;
    }
  }
  return std::string_view::npos;
}

class Substituter {
 public:
  Substituter(const Lookup& lookup, std::vector<std::string>* unset) : lookup_(lookup), unset_(unset) {}

  Result<std::string> run(std::string_view text, int depth) {
    if (depth > kMaxNesting) {
      return fail(ErrorCode::InvalidArgument,
                  "variable substitution nested more than " + std::to_string(kMaxNesting) + " levels deep");
    }
    const auto invalid = [&] {
      return fail(ErrorCode::InvalidArgument, "Invalid template: " + ::berth::quoted(text));
    };
    std::string out;
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
      const char c = text[i];
      if (c != '$' || i + 1 >= n) {
        out += c;
        ++i;
        continue;
      }
      const char next = text[i + 1];
      if (next == '$') {
        out += '$';
        i += 2;
        continue;
      }
      if (isNameStart(next)) {
        std::size_t j = i + 1;
        while (j < n && isNameChar(text[j])) ++j;
        out += value(text.substr(i + 1, j - i - 1));
        i = j;
        continue;
      }
      if (next != '{') {
        out += c;  // "$}", "$ ", "$(": not a substitution
        ++i;
        continue;
      }
      const std::size_t nameStart = i + 2;
      std::size_t j = nameStart;
      if (j < n && isNameStart(text[j])) {
        while (j < n && isNameChar(text[j])) ++j;
      }
      if (j == nameStart || j >= n) return invalid();
      const std::string_view name = text.substr(nameStart, j - nameStart);
      if (text[j] == '}') {
        out += value(name);
        i = j + 1;
        continue;
      }
      std::string op;
      std::size_t argStart = j;
      if (text[j] == ':' && j + 1 < n && (text[j + 1] == '-' || text[j + 1] == '+' || text[j + 1] == '?')) {
        op = text.substr(j, 2);
        argStart = j + 2;
      } else if (text[j] == '-' || text[j] == '+' || text[j] == '?') {
        op = text.substr(j, 1);
        argStart = j + 1;
      } else if (text[j] == '[') {
        // ${name[key]}: a named mapping, which compose leaves as written when none is configured.
        const std::size_t close = text.find('}', j);
        if (close == std::string_view::npos || text.find(']', j) > close) return invalid();
        out += text.substr(i, close - i + 1);
        i = close + 1;
        continue;
      } else {
        return invalid();
      }
      // The operator form needs a closing brace somewhere after it.
      const std::size_t lastClose = text.rfind('}');
      if (lastClose == std::string_view::npos || lastClose < argStart) return invalid();
      std::size_t close = firstBraceClosing(text.substr(i));
      close = close == std::string_view::npos ? lastClose : i + close;
      if (close < argStart) return invalid();
      const std::string_view arg = text.substr(argStart, close - argStart);
      BERTH_ASSIGN_OR_RETURN(std::string replaced, apply(name, op, arg, depth));
      out += replaced;
      i = close + 1;
    }
    return out;
  }

 private:
  std::string value(std::string_view name) {
    if (auto v = lookup_(name)) return *v;
    if (unset_ != nullptr) unset_->emplace_back(name);
    return "";
  }

  Result<std::string> apply(std::string_view name, const std::string& op, std::string_view arg, int depth) {
    const std::optional<std::string> v = lookup_(name);
    const bool set = v.has_value();
    const bool nonEmpty = set && !v->empty();
    if (op == ":-") return nonEmpty ? *v : run(arg, depth + 1);
    if (op == "-") return set ? *v : run(arg, depth + 1);
    if (op == ":+") {
      if (nonEmpty) return run(arg, depth + 1);
      return set ? *v : std::string();
    }
    if (op == "+") return set ? run(arg, depth + 1) : Result<std::string>(std::string());
    // ":?" and "?"
    if (op == ":?" ? nonEmpty : set) return *v;
    BERTH_ASSIGN_OR_RETURN(std::string reason, run(arg, depth + 1));
    std::string message = "required variable " + std::string(name) + " is missing a value";
    if (!reason.empty()) message += ": " + reason;
    return fail(ErrorCode::InvalidArgument, std::move(message));
  }

  const Lookup& lookup_;
  std::vector<std::string>* unset_;
};

}  // namespace

Result<std::string> substitute(std::string_view text, const Lookup& lookup, std::vector<std::string>* unset) {
  if (text.find('$') == std::string_view::npos) return std::string(text);
  return Substituter(lookup, unset).run(text, 0);
}

}  // namespace berth::spec
