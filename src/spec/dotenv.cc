#include "spec/dotenv.h"

#include <cctype>
#include <filesystem>
#include <system_error>

#include "base/files.h"
#include "base/strings.h"

namespace berth::spec {
namespace {

// Spaces that are not line breaks (\t \v \f \r space, plus U+0085 and U+00A0 in UTF-8).
std::size_t spaceLength(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ') return 1;
  if (c == 0xc2 && i + 1 < s.size()) {
    const auto d = static_cast<unsigned char>(s[i + 1]);
    if (d == 0x85 || d == 0xa0) return 2;
  }
  return 0;
}

bool isKeyChar(unsigned char c) {
  // Letters and digits (any non-ASCII byte is taken as part of a letter), '_', '.', '-', '[', ']'.
  return std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-' || c == '[' || c == ']' || c >= 0x80;
}

std::string trimRightSpace(std::string_view s) {
  while (!s.empty()) {
    const auto c = static_cast<unsigned char>(s.back());
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') {
      s.remove_suffix(1);
    } else if (s.size() >= 2 && static_cast<unsigned char>(s[s.size() - 2]) == 0xc2 &&
               (c == 0x85 || c == 0xa0)) {
      s.remove_suffix(2);
    } else {
      break;
    }
  }
  return std::string(s);
}

// Expands the escapes compose honours inside double quotes. `\$` becomes `$$` so that the variable
// substitution that follows produces a literal dollar.
std::string expandEscapes(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[i + 1];
    switch (c) {
      case 'a':
        out += '\a';
        ++i;
        continue;
      case 'b':
        out += '\b';
        ++i;
        continue;
      case 'f':
        out += '\f';
        ++i;
        continue;
      case 'n':
        out += '\n';
        ++i;
        continue;
      case 'r':
        out += '\r';
        ++i;
        continue;
      case 't':
        out += '\t';
        ++i;
        continue;
      case 'v':
        out += '\v';
        ++i;
        continue;
      case '"':
        out += '"';
        ++i;
        continue;
      case '\\':
        out += '\\';
        ++i;
        continue;
      case '$':
        out += "$$";
        ++i;
        continue;
      case 'c':
        out += "\\c";
        ++i;
        continue;
      case '0': {
        // \0 followed by up to three octal digits.
        std::size_t j = i + 2;
        int value = 0;
        int digits = 0;
        while (j < s.size() && digits < 3 && s[j] >= '0' && s[j] <= '9') {
          if (s[j] > '7') break;
          value = value * 8 + (s[j] - '0');
          ++j;
          ++digits;
        }
        if (digits == 0 || value > 255) {
          out.append(s.substr(i, j - i));
        } else if (value < 0x80) {
          out += static_cast<char>(value);
        } else {
          out += static_cast<char>(0xc0 | (value >> 6));
          out += static_cast<char>(0x80 | (value & 0x3f));
        }
        i = j - 1;
        continue;
      }
      default:
        out += '\\';
        continue;
    }
  }
  return out;
}

class Parser {
 public:
  Parser(EnvMap& out, const Lookup& lookup) : out_(out), lookup_(lookup) {}

  Status parse(std::string_view src) {
    while (true) {
      src = statementStart(src);
      if (src.empty()) return ok();
      BERTH_ASSIGN_OR_RETURN(src, statement(src));
    }
  }

 private:
  // Skips whitespace (counting lines) and comment lines.
  std::string_view statementStart(std::string_view src) {
    while (true) {
      std::size_t i = 0;
      while (i < src.size()) {
        const auto c = static_cast<unsigned char>(src[i]);
        if (c == '\n') {
          ++line_;
          ++i;
        } else if (const std::size_t n = spaceLength(src, i); n > 0) {
          i += n;
        } else {
          break;
        }
      }
      src.remove_prefix(i);
      if (src.empty() || src.front() != '#') return src;
      const std::size_t nl = src.find('\n');
      if (nl == std::string_view::npos) return {};
      src.remove_prefix(nl);
    }
  }

  Result<std::string_view> statement(std::string_view src) {
    // "export" followed by whitespace is a prefix, not part of the key.
    if (src.size() > 6 && src.substr(0, 6) == "export" && (spaceLength(src, 6) > 0 || src[6] == '\n')) {
      src.remove_prefix(6);
      while (!src.empty() && spaceLength(src, 0) > 0) src.remove_prefix(spaceLength(src, 0));
    }
    std::size_t i = 0;
    bool inherited = false;
    bool terminated = false;
    for (; i < src.size(); ++i) {
      const auto c = static_cast<unsigned char>(src[i]);
      if (const std::size_t n = spaceLength(src, i); n > 0) {
        i += n - 1;
        continue;
      }
      if (c == '=' || c == ':' || c == '\n') {
        inherited = c == '\n';
        terminated = true;
        break;
      }
      if (!isKeyChar(c)) {
        const std::string firstLine(src.substr(0, src.find('\n')));
        return fail(ErrorCode::InvalidArgument, "line " + std::to_string(line_) + ": unexpected character " +
                                                    ::berth::quoted(std::string(1, src[i])) +
                                                    " in variable name " + ::berth::quoted(firstLine));
      }
    }
    if (!terminated) inherited = true;  // a bare KEY on the last line
    std::string key = trimRightSpace(src.substr(0, i));
    if (key.find(' ') != std::string::npos) {
      return fail(ErrorCode::InvalidArgument,
                  "line " + std::to_string(line_) + ": key cannot contain a space");
    }
    std::string_view rest = i < src.size() ? src.substr(i + 1) : std::string_view();
    if (inherited) {
      if (terminated) ++line_;
      if (auto v = lookup_(key)) out_[key] = *v;
      return rest;
    }
    while (!rest.empty() && spaceLength(rest, 0) > 0) rest.remove_prefix(spaceLength(rest, 0));
    BERTH_ASSIGN_OR_RETURN(std::string value, extractValue(rest));
    out_[key] = std::move(value);
    return rest;
  }

  Result<std::string> extractValue(std::string_view& src) {
    if (src.empty() || (src.front() != '"' && src.front() != '\'')) {
      const std::size_t nl = src.find('\n');
      std::string_view raw = src.substr(0, nl);
      src = nl == std::string_view::npos ? std::string_view() : src.substr(nl + 1);
      ++line_;
      if (const std::size_t comment = raw.find(" #"); comment != std::string_view::npos) {
        raw = raw.substr(0, comment);
      }
      return expand(trimRightSpace(raw));
    }
    const char quote = src.front();
    std::string chars;
    bool escaped = false;
    const int startLine = line_;
    for (std::size_t i = 1; i < src.size(); ++i) {
      const char c = src[i];
      if (c == '\n') ++line_;
      if (escaped) {
        escaped = false;
        if (c != quote) chars += '\\';
        chars += c;
        continue;
      }
      if (c == '\\') {
        escaped = true;
      } else if (c == quote) {
        src.remove_prefix(i + 1);
        if (quote == '"') return expand(expandEscapes(chars));
        return chars;
      } else {
        chars += c;
      }
    }
    return fail(ErrorCode::InvalidArgument, "line " + std::to_string(startLine) +
                                                ": unterminated quoted value " +
                                                std::string(src.substr(0, src.find('\n'))));
  }

  Result<std::string> expand(const std::string& value) {
    const Lookup lookup = [this](std::string_view name) -> std::optional<std::string> {
      if (auto v = lookup_(name)) return v;
      if (auto it = out_.find(std::string(name)); it != out_.end()) return it->second;
      return std::nullopt;
    };
    auto result = substitute(value, lookup);
    if (!result) return Error(result.error()).withContext("expanding variables");
    return result;
  }

  EnvMap& out_;
  const Lookup& lookup_;
  int line_ = 1;
};

Status parseRaw(std::string_view content, EnvMap& out, const Lookup& lookup) {
  for (const std::string& rawLine : split(content, '\n')) {
    std::string_view line = rawLine;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty() || trim(line).front() == '#') continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      const std::string key(trim(line));
      if (auto v = lookup(key)) out[key] = *v;
      continue;
    }
    out[std::string(trim(line.substr(0, eq)))] = std::string(line.substr(eq + 1));
  }
  return ok();
}

}  // namespace

Status parseEnvFile(std::string_view content, EnvMap& out, const Lookup& lookup, std::string_view format) {
  if (content.size() >= 3 && content.substr(0, 3) == "\xef\xbb\xbf") content.remove_prefix(3);
  if (format == "raw") return parseRaw(content, out, lookup);
  if (!format.empty() && format != "dotenv") {
    return fail(ErrorCode::InvalidArgument, "unsupported env_file format " + ::berth::quoted(format));
  }
  return Parser(out, lookup).parse(content);
}

Result<EnvMap> readEnvFiles(const std::vector<std::string>& paths, const EnvMap& processEnv) {
  EnvMap result;
  for (const std::string& path : paths) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
      return fail(ErrorCode::NotFound, "couldn't find env file: " + path);
    }
    if (std::filesystem::is_directory(status)) continue;
    BERTH_ASSIGN_OR_RETURN(std::string content, readFile(path));
    EnvMap fileVars;
    const Lookup lookup = [&](std::string_view name) -> std::optional<std::string> {
      const std::string key(name);
      if (auto it = processEnv.find(key); it != processEnv.end()) return it->second;
      if (auto it = result.find(key); it != result.end()) return it->second;
      return std::nullopt;
    };
    if (Status s = parseEnvFile(content, fileVars, lookup); !s) {
      return Error(s.error()).withContext("failed to read " + path);
    }
    for (auto& [k, v] : fileVars) result[k] = std::move(v);
  }
  return result;
}

}  // namespace berth::spec
