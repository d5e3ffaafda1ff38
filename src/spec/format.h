// Parsers and printers for the small value syntaxes inside compose files: durations ("1m30s"),
// byte sizes ("512m"), port and volume short syntax, extra_hosts entries, shell-style command
// strings, and the YAML scalar forms compose accepts. Pure functions; errors are Result values whose
// messages describe the value (callers add file/line/key path).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "spec/model.h"

namespace berth::spec {

// Go's time.ParseDuration syntax plus "d" (days) and "w" (weeks): "1m30s", "1.5h", "500ms", "0".
// Errors: "invalid duration \"10\"" and similar.
Result<Duration> parseDuration(std::string_view text);
// Go's time.Duration.String(): "1m30s", "1h0m0s", "500ms", "0s".
std::string formatDuration(Duration d);

// A byte size: an integer, or a number with an optional binary unit: "1024", "1k", "50M", "2gb",
// "1.5g". Errors: "invalid size \"abc\"".
Result<std::int64_t> parseBytes(std::string_view text);

// Splits a command string into arguments the way a POSIX shell would (quotes and backslashes; no
// expansion). Errors: unterminated quote or trailing backslash.
Result<std::vector<std::string>> splitShellWords(std::string_view text);

// Port short syntax: "[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]", expanded to one
// entry per container port. Errors name the offending part: "Invalid ip address: 127.0.1".
Result<std::vector<Port>> parsePortSpec(std::string_view spec);

// Volume short syntax "[SOURCE:]TARGET[:OPTIONS]" (before interpolation and path resolution:
// relative sources stay relative, "${...}" sections are never split). Errors: "invalid spec: X: ...".
Result<VolumeMount> parseVolumeSpec(std::string_view spec);

// One extra_hosts list entry, "host=ip", "host:ip" or "host=ip1,ip2". Errors on a missing separator.
Result<std::pair<std::string, std::vector<std::string>>> parseExtraHost(std::string_view entry);

// One public key in authorized_keys form, "TYPE BASE64 [COMMENT...]" (x-berth-ssh keys), where TYPE
// is ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com or
// sk-ecdsa-sha2-nistp256@openssh.com and BASE64 is padded standard base64. A syntax check only: the
// key's blob is not decoded further. Lines with options before the type ("no-pty ssh-ed25519 ...")
// are refused: berth decides what the options would. Errors describe the value:
// "not an SSH public key (expected \"TYPE BASE64 [COMMENT]\")", the same suffix after "key options
// before the key type are not supported", "invalid base64 key data", "missing the base64 key data
// after ssh-rsa", "a private key, not an SSH public key (use the .pub file)"; and
// "unsupported key type \"ssh-dss\" (expected one of ssh-ed25519, ...)".
Status checkSshPublicKey(std::string_view line);

// YAML 1.2 core-schema integers (decimal, 0x hex, 0o and leading-zero octal, 0b binary, "_" digit
// separators) as go-yaml reads them; nullopt when the text is not an integer.
std::optional<std::int64_t> parseYamlInt(std::string_view text);
std::optional<double> parseYamlFloat(std::string_view text);
bool yamlBool(std::string_view text);  // "true"/"True"/"TRUE"
// Booleans as compose accepts them in boolean fields: YAML 1.2 true/false plus the YAML 1.1 forms
// yes/no/on/off/y/n in any case. nullopt otherwise.
std::optional<bool> parseLenientBool(std::string_view text);

// A float the way Go's fmt %v prints it: shortest form, exponent outside [1e-4, 1e6).
std::string formatGoFloat(double value);

}  // namespace berth::spec
