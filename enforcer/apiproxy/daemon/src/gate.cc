// Decision bridge (pass-through for now).
#include "gate.h"

namespace eci::apiproxy {

bool Gate::needsBody(const Exchange&) const {
  return false;
}

Verdict Gate::decide(Exchange&) {
  return {};
}

}  // namespace eci::apiproxy
