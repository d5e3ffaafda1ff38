#include "spec/format.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "base/strings.h"

namespace berth::spec {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<std::uint64_t> parseUnsigned(std::string_view s, int base = 10) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace

// ---- YAML scalars -------------------------------------------------------------------------------

std::optional<std::int64_t> parseYamlInt(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const char first = text.front();
  if (!isDigit(first) && first != '-' && first != '+') return std::nullopt;
  std::string plain;
  plain.reserve(text.size());
  for (const char c : text) {
    if (c != '_') plain += c;
  }
  std::string_view s = plain;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;  // YAML 1.1 octal, still read by go-yaml
    s.remove_prefix(1);
  }
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) return std::nullopt;
  }
  const auto magnitude = parseUnsigned(s, base);
  if (!magnitude) return std::nullopt;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (negative) {
    if (*magnitude > kMax + 1) return std::nullopt;
    if (*magnitude == kMax + 1) return std::numeric_limits<std::int64_t>::min();
    return -static_cast<std::int64_t>(*magnitude);
  }
  if (*magnitude > kMax) return std::nullopt;
  return static_cast<std::int64_t>(*magnitude);
}

std::optional<double> parseYamlFloat(std::string_view text) {
  if (text == ".inf" || text == ".Inf" || text == ".INF" || text == "+.inf" || text == "+.Inf" ||
      text == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-.inf" || text == "-.Inf" || text == "-.INF") {
    return -std::numeric_limits<double>::infinity();
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  std::string plain;
  for (const char c : text) {
    if (c != '_') plain += c;
  }
  std::string_view s = plain;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

bool yamlBool(std::string_view text) { return text == "true" || text == "True" || text == "TRUE"; }

std::optional<bool> parseLenientBool(std::string_view text) {
  const std::string t = toLower(text);
  if (t == "true" || t == "yes" || t == "y" || t == "on") return true;
  if (t == "false" || t == "no" || t == "n" || t == "off") return false;
  return std::nullopt;
}

std::string formatGoFloat(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == 0) return std::signbit(value) ? "-0" : "0";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci is "[-]d[.ddd]e[+-]XX"
  bool negative = false;
  if (sci.front() == '-') {
    negative = true;
    sci.erase(0, 1);
  }
  const std::size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  const int exponent = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out;
  if (exponent < -4 || exponent >= 6) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char expBuf[16];
    std::snprintf(expBuf, sizeof expBuf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += expBuf;
  } else if (exponent < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  } else {
    const auto intDigits = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= intDigits) {
      out = digits + std::string(intDigits - digits.size(), '0');
    } else {
      out = digits.substr(0, intDigits) + "." + digits.substr(intDigits);
    }
  }
  return negative ? "-" + out : out;
}

// ---- Durations ----------------------------------------------------------------------------------

Result<Duration> parseDuration(std::string_view text) {
  const auto invalid = [&] {
    return fail(ErrorCode::InvalidArgument, "invalid duration " + ::berth::quoted(text));
  };
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Duration(0);
  if (s.empty()) return invalid();
  long double total = 0;  // nanoseconds
  while (!s.empty()) {
    std::size_t i = 0;
    while (i < s.size() && isDigit(s[i])) ++i;
    std::string_view whole = s.substr(0, i);
    std::string_view fraction;
    if (i < s.size() && s[i] == '.') {
      const std::size_t start = ++i;
      while (i < s.size() && isDigit(s[i])) ++i;
      fraction = s.substr(start, i - start);
    }
    if (whole.empty() && fraction.empty()) return invalid();
    const std::size_t unitStart = i;
    while (i < s.size() && !isDigit(s[i]) && s[i] != '.') ++i;
    const std::string_view unit = s.substr(unitStart, i - unitStart);
    long double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs")
      scale = 1e3L;
    else if (unit == "ms")
      scale = 1e6L;
    else if (unit == "s")
      scale = 1e9L;
    else if (unit == "m")
      scale = 60e9L;
    else if (unit == "h")
      scale = 3600e9L;
    else if (unit == "d")
      scale = 86400e9L;
    else if (unit == "w")
      scale = 7 * 86400e9L;
    else
      return invalid();  // includes a missing unit
    long double value = 0;
    for (const char c : whole) value = value * 10 + (c - '0');
    long double place = 0.1L;
    for (const char c : fraction) {
      value += (c - '0') * place;
      place /= 10;
    }
    total += value * scale;
    if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return invalid();
    s.remove_prefix(i);
  }
  auto ns = static_cast<std::int64_t>(std::llround(total));
  return Duration(negative ? -ns : ns);
}

std::string formatDuration(Duration d) {
  // A port of Go's time.Duration.String.
  std::int64_t v = d.count();
  if (v == 0) return "0s";
  const bool negative = v < 0;
  std::uint64_t u = negative ? static_cast<std::uint64_t>(-(v + 1)) + 1 : static_cast<std::uint64_t>(v);
  char buf[32];
  int w = static_cast<int>(sizeof buf);
  const auto fmtFrac = [&](std::uint64_t value, int prec) {
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      const auto digit = value % 10;
      print = print || digit != 0;
      if (print) buf[--w] = static_cast<char>('0' + digit);
      value /= 10;
    }
    if (print) buf[--w] = '.';
    return value;
  };
  const auto fmtInt = [&](std::uint64_t value) {
    if (value == 0) {
      buf[--w] = '0';
      return;
    }
    while (value > 0) {
      buf[--w] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  if (u < 1000000000ULL) {
    // Less than a second: use a smaller unit ("1.5ms").
    int prec = 0;
    buf[--w] = 's';
    if (u < 1000ULL) {
      buf[--w] = 'n';
      prec = 0;
    } else if (u < 1000000ULL) {
      // "µs" in UTF-8, written backwards.
      buf[--w] = static_cast<char>(0xb5);
      buf[--w] = static_cast<char>(0xc2);
      prec = 3;
    } else {
      buf[--w] = 'm';
      prec = 6;
    }
    u = fmtFrac(u, prec);
    fmtInt(u);
  } else {
    buf[--w] = 's';
    u = fmtFrac(u, 9);
    fmtInt(u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      fmtInt(u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        fmtInt(u);
      }
    }
  }
  if (negative) buf[--w] = '-';
  return std::string(buf + w, buf + sizeof buf);
}

// ---- Byte sizes ---------------------------------------------------------------------------------

Result<std::int64_t> parseBytes(std::string_view text) {
  // go-units RAMInBytes: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$ with binary multipliers.
  const auto invalid = [&] {
    return fail(ErrorCode::InvalidArgument, "invalid size " + ::berth::quoted(text));
  };
  std::size_t i = 0;
  while (i < text.size() && isDigit(text[i])) ++i;
  if (i == 0) return invalid();
  while (i < text.size() && text[i] == '.') {
    const std::size_t start = ++i;
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i == start) return invalid();
  }
  const std::string number(text.substr(0, i));
  if (i < text.size() && text[i] == ' ') ++i;
  long double multiplier = 1;
  if (i < text.size()) {
    switch (std::tolower(static_cast<unsigned char>(text[i]))) {
      case 'k':
        multiplier = 1024.0L;
        ++i;
        break;
      case 'm':
        multiplier = 1024.0L * 1024;
        ++i;
        break;
      case 'g':
        multiplier = 1024.0L * 1024 * 1024;
        ++i;
        break;
      case 't':
        multiplier = 1024.0L * 1024 * 1024 * 1024;
        ++i;
        break;
      case 'p':
        multiplier = 1024.0L * 1024 * 1024 * 1024 * 1024;
        ++i;
        break;
      default:
        break;
    }
  }
  if (i < text.size() && (text[i] == 'i' || text[i] == 'I')) ++i;
  if (i < text.size() && (text[i] == 'b' || text[i] == 'B')) ++i;
  if (i != text.size()) return invalid();
  double value = 0;
  // "1.2.3" passes the pattern above (as in go-units) but is not a number.
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || ptr != number.data() + number.size()) return invalid();
  const long double bytes = static_cast<long double>(value) * multiplier;
  if (bytes > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return invalid();
  return static_cast<std::int64_t>(bytes);
}

// ---- Shell words --------------------------------------------------------------------------------

Result<std::vector<std::string>> splitShellWords(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  bool inWord = false;
  bool single = false;
  bool dbl = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (single) {
      if (c == '\'')
        single = false;
      else
        current += c;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        return fail(ErrorCode::InvalidArgument, "invalid command line string: trailing backslash");
      }
      const char next = text[++i];
      if (dbl && next != '"' && next != '\\' && next != '$' && next != '`') current += '\\';
      current += next;
      inWord = true;
      continue;
    }
    if (dbl) {
      if (c == '"')
        dbl = false;
      else
        current += c;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (inWord) {
        words.push_back(std::move(current));
        current.clear();
        inWord = false;
      }
      continue;
    }
    if (c == '\'') {
      single = true;
      inWord = true;
      continue;
    }
    if (c == '"') {
      dbl = true;
      inWord = true;
      continue;
    }
    current += c;
    inWord = true;
  }
  if (single || dbl)
    return fail(ErrorCode::InvalidArgument, "invalid command line string: unterminated quote");
  if (inWord) words.push_back(std::move(current));
  return words;
}

// ---- Ports --------------------------------------------------------------------------------------

namespace {

bool validIp(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

Result<std::pair<std::uint64_t, std::uint64_t>> parsePortRange(std::string_view ports) {
  const auto parsePort = [](std::string_view s) -> std::optional<std::uint64_t> {
    const auto v = parseUnsigned(s);
    if (!v || *v > 65535) return std::nullopt;
    return v;
  };
  if (ports.empty()) return fail(ErrorCode::InvalidArgument, "empty string specified for ports");
  const std::size_t dash = ports.find('-');
  if (dash == std::string_view::npos) {
    const auto v = parsePort(ports);
    if (!v) return fail(ErrorCode::InvalidArgument, "invalid port");
    return std::make_pair(*v, *v);
  }
  const auto start = parsePort(ports.substr(0, dash));
  const auto end = parsePort(ports.substr(dash + 1));
  if (!start || !end) return fail(ErrorCode::InvalidArgument, "invalid port");
  if (*end < *start) return fail(ErrorCode::InvalidArgument, "invalid range specified for port");
  return std::make_pair(*start, *end);
}

}  // namespace

Result<std::vector<Port>> parsePortSpec(std::string_view raw) {
  const std::vector<std::string> parts = split(raw, ':');
  const std::size_t n = parts.size();
  std::string ip;
  std::string hostPort;
  std::string containerPort = parts[n - 1];
  if (n == 2) {
    hostPort = parts[0];
  } else if (n == 3) {
    ip = parts[0];
    hostPort = parts[1];
  } else if (n > 3) {
    ip = join(std::span<const std::string>(parts.data(), n - 2), ":");
    hostPort = parts[n - 2];
  }
  std::string proto = "tcp";
  {
    const std::vector<std::string> pp = split(containerPort, '/');
    if (containerPort.empty() || pp[0].empty()) {
      containerPort.clear();
    } else if (pp.size() > 1 && !pp[1].empty()) {
      proto = pp[1];
      containerPort = pp[0];
    } else {
      containerPort = pp[0];
    }
  }
  if (!ip.empty() && ip.front() == '[') {
    if (ip.back() != ']') return fail(ErrorCode::InvalidArgument, "invalid IP address " + ip);
    ip = ip.substr(1, ip.size() - 2);
  }
  if (!ip.empty() && !validIp(ip)) {
    return fail(ErrorCode::InvalidArgument, "Invalid ip address: " + ip);
  }
  if (containerPort.empty()) {
    return fail(ErrorCode::InvalidArgument, "no port specified: " + std::string(raw) + "<empty>");
  }
  auto containerRange = parsePortRange(containerPort);
  if (!containerRange) return fail(ErrorCode::InvalidArgument, "invalid containerPort: " + containerPort);
  const auto [startPort, endPort] = *containerRange;
  std::uint64_t startHost = 0;
  std::uint64_t endHost = 0;
  if (!hostPort.empty()) {
    auto hostRange = parsePortRange(hostPort);
    if (!hostRange) return fail(ErrorCode::InvalidArgument, "invalid hostPort: " + hostPort);
    startHost = hostRange->first;
    endHost = hostRange->second;
    if (endPort - startPort != endHost - startHost && endPort != startPort) {
      return fail(ErrorCode::InvalidArgument, "invalid ranges specified for container and host Ports: " +
                                                  containerPort + " and " + hostPort);
    }
  }
  const std::string lowerProto = toLower(proto);
  if (lowerProto != "tcp" && lowerProto != "udp" && lowerProto != "sctp") {
    return fail(ErrorCode::InvalidArgument, "invalid proto: " + proto);
  }
  struct Keyed {
    std::string key;
    Port port;
  };
  std::vector<Keyed> keyed;
  for (std::uint64_t i = 0; i <= endPort - startPort; ++i) {
    Port p;
    p.target = static_cast<std::uint32_t>(startPort + i);
    p.protocol = lowerProto;
    p.hostIp = ip;
    if (!hostPort.empty()) {
      p.published = std::to_string(startHost + i);
      if (startPort == endPort && startHost != endHost) {
        p.published += "-" + std::to_string(endHost);
      }
    }
    keyed.push_back({std::to_string(p.target) + "/" + lowerProto, std::move(p)});
  }
  // compose orders the expanded ports by their "PORT/PROTO" text.
  std::stable_sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
  std::vector<Port> out;
  out.reserve(keyed.size());
  for (auto& k : keyed) out.push_back(std::move(k.port));
  return out;
}

// ---- Volumes ------------------------------------------------------------------------------------

namespace {

bool isWindowsDrive(const std::string& buffer, char c) {
  return c == ':' && buffer.size() == 1 && std::isalpha(static_cast<unsigned char>(buffer[0])) != 0;
}

bool isFilePath(const std::string& source) {
  if (source.empty()) return false;
  if (source[0] == '.' || source[0] == '/' || source[0] == '~') return true;
  if (startsWith(source, "\\\\")) return true;
  return source.size() > 1 && isWindowsDrive(source.substr(0, 1), source[1]);
}

}  // namespace

Result<VolumeMount> parseVolumeSpec(std::string_view spec) {
  VolumeMount v;
  if (spec.empty()) return fail(ErrorCode::InvalidArgument, "invalid empty volume spec");
  if (spec.size() <= 2) {
    v.type = "volume";
    v.target = std::string(spec);
    return v;
  }
  std::string buffer;
  int inVariable = 0;
  bool sourceSet = false;
  bool targetSet = false;
  const auto populate = [&](bool end) -> Status {
    if (buffer.empty()) return fail(ErrorCode::InvalidArgument, "empty section between colons");
    if (!sourceSet && end) {
      v.target = buffer;
      targetSet = true;
      sourceSet = true;  // anonymous volume: nothing more may follow
      return ok();
    }
    if (!sourceSet) {
      v.source = buffer;
      sourceSet = true;
      return ok();
    }
    if (!targetSet) {
      v.target = buffer;
      targetSet = true;
      return ok();
    }
    if (!end) return fail(ErrorCode::InvalidArgument, "too many colons");
    for (const std::string& option : split(buffer, ',')) {
      if (option == "ro") {
        v.readOnly = true;
      } else if (option == "rw") {
        v.readOnly = false;
      } else if (option == "nocopy") {
        v.volume = VolumeOptions{};
        v.volume->nocopy = true;
      } else if (option == "rprivate" || option == "private" || option == "rshared" || option == "shared" ||
                 option == "rslave" || option == "slave") {
        if (!v.bind) v.bind = BindOptions{};
        v.bind->propagation = option;
      } else if (option == "z" || option == "Z") {
        if (!v.bind) v.bind = BindOptions{};
        v.bind->selinux = option;
      }
      // Other options are ignored, as compose does.
    }
    return ok();
  };
  const auto populateType = [&] {
    if (isFilePath(v.source)) {
      v.type = "bind";
      if (!v.bind) v.bind = BindOptions{};
      v.bind->createHostPath = true;
    } else {
      v.type = "volume";
      if (!v.volume) v.volume = VolumeOptions{};
    }
  };
  for (std::size_t i = 0; i <= spec.size(); ++i) {
    const bool end = i == spec.size();
    const char c = end ? '\0' : spec[i];
    if (!end && c == '$' && i + 1 < spec.size() && spec[i + 1] == '{') {
      ++inVariable;
      buffer += c;
      continue;
    }
    if (!end && c == '}' && inVariable > 0) {
      --inVariable;
      buffer += c;
      continue;
    }
    if (!end && isWindowsDrive(buffer, c)) {
      buffer += c;
    } else if ((end || c == ':') && inVariable == 0) {
      if (Status s = populate(end); !s) {
        populateType();
        return fail(ErrorCode::InvalidArgument,
                    "invalid spec: " + std::string(spec) + ": " + s.error().message());
      }
      buffer.clear();
    } else if (!end) {
      buffer += c;
    } else {
      // An unterminated "${" swallowed the rest: treat what we have as the last section.
      if (Status s = populate(true); !s) {
        return fail(ErrorCode::InvalidArgument,
                    "invalid spec: " + std::string(spec) + ": " + s.error().message());
      }
    }
  }
  populateType();
  return v;
}

Result<std::pair<std::string, std::vector<std::string>>> parseExtraHost(std::string_view entry) {
  std::size_t sep = entry.find('=');
  if (sep == std::string_view::npos) sep = entry.find(':');
  if (sep == std::string_view::npos) {
    return fail(ErrorCode::InvalidArgument, "invalid additional host, missing IP: " + std::string(entry));
  }
  std::string host(trim(entry.substr(0, sep)));
  std::vector<std::string> ips;
  for (const std::string& ip : split(entry.substr(sep + 1), ',')) {
    std::string_view t = trim(ip);
    if (t.size() > 1 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
    ips.emplace_back(t);
  }
  return std::make_pair(std::move(host), std::move(ips));
}

// ---- SSH public keys ------------------------------------------------------------------------------

namespace {

constexpr std::string_view kSshKeyTypes[] = {"ssh-ed25519",
                                             "ssh-rsa",
                                             "ecdsa-sha2-nistp256",
                                             "ecdsa-sha2-nistp384",
                                             "ecdsa-sha2-nistp521",
                                             "sk-ssh-ed25519@openssh.com",
                                             "sk-ecdsa-sha2-nistp256@openssh.com"};
constexpr std::string_view kExpectedSshKey = " (expected \"TYPE BASE64 [COMMENT]\")";

bool isSshKeyType(std::string_view word) {
  return std::find(std::begin(kSshKeyTypes), std::end(kSshKeyTypes), word) != std::end(kSshKeyTypes);
}

// Padded standard base64 (what ssh-keygen writes): whole quads, '=' only as the last one or two.
bool isBase64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return false;
  std::size_t padding = 0;
  if (s.back() == '=') padding = s[s.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i < s.size() - padding; ++i) {
    const char c = s[i];
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '/') return false;
  }
  return true;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

Unexpected badKey(std::string what) {
  return fail(ErrorCode::InvalidArgument, std::move(what) + std::string(kExpectedSshKey));
}

}  // namespace

Status checkSshPublicKey(std::string_view line) {
  const std::vector<std::string_view> w = words(trim(line));
  if (w.empty()) return badKey("not an SSH public key");
  if (!isSshKeyType(w[0])) {
    // Pointing `file:` at id_ed25519 instead of id_ed25519.pub is the likely mistake here.
    if (startsWith(w[0], "-----BEGIN") && line.find("PRIVATE KEY") != std::string_view::npos) {
      return fail(ErrorCode::InvalidArgument, "a private key, not an SSH public key (use the .pub file)");
    }
    if (std::any_of(w.begin() + 1, w.end(), isSshKeyType)) {
      return badKey("key options before the key type are not supported");
    }
    if (startsWith(w[0], "ssh-") || startsWith(w[0], "ecdsa-") || startsWith(w[0], "sk-")) {
      std::string known;
      for (std::string_view t : kSshKeyTypes) known += (known.empty() ? "" : ", ") + std::string(t);
      return fail(ErrorCode::InvalidArgument,
                  "unsupported key type " + ::berth::quoted(w[0]) + " (expected one of " + known + ")");
    }
    return badKey("not an SSH public key");
  }
  if (w.size() < 2) return badKey("missing the base64 key data after " + std::string(w[0]));
  if (!isBase64(w[1])) return badKey("invalid base64 key data");
  return ok();
}

}  // namespace berth::spec
