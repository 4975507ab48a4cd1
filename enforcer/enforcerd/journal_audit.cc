// eci-enforcerd's audit mirror to journald (see main.cc).
#include <systemd/sd-journal.h>

#include <string>

#include "eci/audit.h"

namespace eci::enforcerd {

// Every audit line also goes to journald, with the record's facts as fields an admin can match on
// (journalctl ECI_AUDIT_CONTAINER=<id>). Without journald (tests, containers) this fails fast
// (no /run/systemd/journal/socket) and the file alone holds the record.
void journalAudit(const audit::Record& r, const std::string& line) {
  const int prio = r.event == "policy-accepted" ? 5 : 4;  // syslog notice : warning
  std::string json = line;
  if (!json.empty() && json.back() == '\n') json.pop_back();
  (void)sd_journal_send("MESSAGE=eci audit: %s %s container=%s name=%s image=%s rule=%s: %s",
                        r.source.c_str(), r.event.c_str(), r.container.c_str(), r.name.c_str(),
                        r.image.c_str(), r.rule.c_str(), r.reason.c_str(), "PRIORITY=%i", prio,
                        "SYSLOG_IDENTIFIER=eci-audit", "ECI_AUDIT_SOURCE=%s", r.source.c_str(),
                        "ECI_AUDIT_EVENT=%s", r.event.c_str(), "ECI_AUDIT_CONTAINER=%s",
                        r.container.c_str(), "ECI_AUDIT_RULE=%s", r.rule.c_str(),
                        "ECI_AUDIT_JSON=%s", json.c_str(), nullptr);
}

}  // namespace eci::enforcerd
