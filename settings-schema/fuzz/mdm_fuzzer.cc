// libFuzzer target for the MDM exports and their readers:
//  1. every reader (.reg, sh installer, PowerShell script, profile, ADMX/ADML, the quoting
//     readers) on arbitrary bytes: errors, never a crash or a hang;
//  2. round trip: the input split into an organization string and a settings-string value; when
//     exportFor accepts it, verifyExport must too (the exporters' quoting and the readers agree),
//     otherwise abort.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "eci/settings/mdm_export.h"
#include "eci/settings/mdm_formats.h"
#include "eci/settings/mdm_readers.h"
#include "eci/settings/reg_file.h"

namespace mdm = eci::settings::mdm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  (void)eci::settings::parseRegFile(in, "fuzz.reg");
  (void)mdm::readShInstallScript(in);
  (void)mdm::readPsScript(in, true);
  (void)mdm::readPsScript(in, false);
  (void)mdm::readProfile(in);
  (void)mdm::readAdmxPair(in, in);
  size_t pos = 0;
  (void)mdm::shReadWord(in, pos);
  pos = 0;
  (void)mdm::psReadTextExpression(in, pos);

  // Round trip of each quoting pair on the raw bytes.
  if (auto q = mdm::shQuote(in); q.ok()) {
    size_t p = 0;
    auto back = mdm::shReadWord(*q, p);
    if (!back.ok() || *back != in) std::abort();
  }
  if (auto e = mdm::psTextExpression(in); e.ok()) {
    size_t p = 0;
    auto back = mdm::psReadTextExpression(*e, p);
    if (!back.ok() || *back != in) std::abort();
  }

  // Whole exports: first line = organization, the rest = a string value in admin-settings.json.
  const size_t nl = in.find('\n');
  const std::string org = in.substr(0, nl == std::string::npos ? in.size() : nl);
  const std::string value = nl == std::string::npos ? "" : in.substr(nl + 1);
  nlohmann::json note;
  try {
    note = value;
    (void)note.dump();
  } catch (const nlohmann::json::exception&) {
    return 0;  // not UTF-8: cannot be in a JSON file
  }
  mdm::ExportInput ex;
  ex.adminSettings = "{\"configurationFileVersion\": 2, \"x-note\": " + note.dump() + "}";
  ex.registry = R"({"allowedOrgs": ["myorg1", "my-org_2"]})";
  ex.organization = org;
  for (auto t :
       {mdm::Target::kJamf, mdm::Target::kIntune, mdm::Target::kGpo, mdm::Target::kLinux}) {
    auto e = mdm::exportFor(t, ex);
    if (!e.ok()) continue;  // e.g. a control character in the organization
    if (!mdm::verifyExport(*e, ex).ok()) std::abort();
  }
  return 0;
}
