#include "supervisor/node_drain.h"

namespace qmesh {

DrainPlan planDrain(TimePoint start, Millis drainTimeout, Millis stopGrace) {
  return DrainPlan{start + drainTimeout, drainTimeout + 2 * stopGrace};
}

bool drainStopsWorkers(const DrainPlan& plan, TimePoint now, bool routerGone) {
  return routerGone || now >= plan.workersStopAt;
}

}  // namespace qmesh
