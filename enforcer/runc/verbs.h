// eci-runc's verbs: what it does around the real runc. Everything not here is the real runc's
// own (main.cc execs it unchanged).
#pragma once

#include "runtime.h"

namespace eci::runc {

// create / run: the spec rewrite, ID-mapped filesystem and the enforcer's grant (create.cc).
int doCreate(const Call& c);
// delete: the real runc deletes, then eci's state of the container goes (delete.cc).
int doDelete(const Call& c);
// restore: the real runc only with ECI off (delete.cc says why).
int doRestore(const Call& c);

}  // namespace eci::runc
