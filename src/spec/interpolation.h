// Variable substitution in compose files, as compose does it: $VAR, ${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alternate}, ${VAR+alternate}, defaults that
// themselves contain substitutions, and $$ for a literal dollar. "Unset" means absent from the
// lookup; "empty" means present with the value "". Unset variables without a default become "" and
// are reported through `unset` so the caller can warn, as compose does.
//
// Pure; the lookup function is the only input besides the text.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::spec {

using Lookup = std::function<std::optional<std::string>(std::string_view name)>;

// Substitutes every variable in `text`. Errors (ErrorCode::InvalidArgument):
//   `Invalid template: "${"` for malformed syntax (the whole template is quoted), and
//   "required variable FOO is missing a value: <message>" for ${FOO:?message} / ${FOO?message}.
// Nesting of defaults is limited to 64 levels.
Result<std::string> substitute(std::string_view text, const Lookup& lookup,
                               std::vector<std::string>* unset = nullptr);

}  // namespace berth::spec
