#include "eci/settings/mdm_export.h"

namespace eci::settings::mdm {

const char* targetName(Target t) {
  switch (t) {
    case Target::kJamf:
      return "jamf";
    case Target::kIntune:
      return "intune";
    case Target::kGpo:
      return "gpo";
    case Target::kLinux:
      return "linux";
  }
  return "?";
}

std::optional<Target> parseTarget(std::string_view name) {
  for (Target t : {Target::kJamf, Target::kIntune, Target::kGpo, Target::kLinux}) {
    if (name == targetName(t)) return t;
  }
  return std::nullopt;
}

Result<Export> exportFor(Target, const ExportInput&) {
  return Error("mdm export: not implemented yet");
}
Status verifyExport(const Export&, const ExportInput&) {
  return Error("mdm export: not implemented yet");
}
Status writeExport(const Export&, const std::filesystem::path&) {
  return Error("mdm export: not implemented yet");
}

}  // namespace eci::settings::mdm
