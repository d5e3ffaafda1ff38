#include "spec/model.h"

namespace berth::spec {

int Service::replicaCount() const {
  if (scale) return *scale;
  if (deploy && deploy->replicas) return *deploy->replicas;
  return 1;
}

}  // namespace berth::spec
