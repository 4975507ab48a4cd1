// The decision bridge of eci-apiproxyd: gathers what the pure decision function needs (caller,
// policy from eci-enforcerd, image facts from the engine), calls it, applies its rewrites, and
// logs every refusal once. Blocking; runs on the worker pool, never on the I/O thread.
#pragma once

#include "proxy_impl.h"

namespace eci::apiproxy {

class Gate {
 public:
  explicit Gate(const Config& cfg) : cfg_(cfg) {}
  // True when the route's body must be read whole before deciding (create, build, ...).
  bool needsBody(const Exchange& ex) const;
  Verdict decide(Exchange& ex);
  void shutdown() {}

 private:
  const Config& cfg_;
};

}  // namespace eci::apiproxy
