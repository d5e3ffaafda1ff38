// One registration function per command family; app.cc calls each. Add a family here and in
// app.cc's list; keep the family's code in its own file.
#pragma once

#include "cli/app.h"

namespace berth::cli {

void registerVersionCommand(CLI::App& app, CommandContext& context);
void registerCaCommand(CLI::App& app, CommandContext& context);

}  // namespace berth::cli
