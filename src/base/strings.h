// Small string utilities shared by every module.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace berth {

std::vector<std::string> split(std::string_view text, char sep);
std::string join(std::span<const std::string> parts, std::string_view sep);
std::string_view trim(std::string_view text);
// Single-quotes `text` for a POSIX shell ("it's" -> 'it'\''s').
std::string shellQuote(std::string_view text);
std::string toLower(std::string_view text);
bool startsWith(std::string_view text, std::string_view prefix);
bool endsWith(std::string_view text, std::string_view suffix);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t editDistance(std::string_view a, std::string_view b);
// The candidate closest to `word` if it is close enough to be a plausible typo, else nullopt.
std::optional<std::string> nearestMatch(std::string_view word, std::span<const std::string> candidates);

// Quotes a value for error messages: "abc" with control characters escaped (\" \\ \n \t \r \xNN),
// which is also a valid YAML double-quoted scalar; other bytes pass through unchanged.
std::string quoted(std::string_view text);

}  // namespace berth
