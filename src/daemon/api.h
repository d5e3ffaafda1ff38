// berthd's API: routes HTTP requests (daemon/http_server.h) to the controller and answers with the
// message types of src/api. The routes, all under /v1 (docs/controller.md has the table):
//
//   GET    /v1/info
//   GET    /v1/hosts                     POST /v1/hosts/csr   POST /v1/hosts
//   GET    /v1/hosts/NAME                DELETE /v1/hosts/NAME[?force=1]
//   POST   /v1/hosts/NAME/labels         POST /v1/hosts/NAME/drain   POST /v1/hosts/NAME/activate
//   GET    /v1/stacks                    POST /v1/stacks (deploy)
//   GET    /v1/stacks/NAME               DELETE /v1/stacks/NAME[?volumes=1]
//   POST   /v1/stacks/NAME/rebalance
//   GET    /v1/tasks[?stack=S][&service=V][&history=1]
//   GET    /v1/services[?stack=S]        GET /v1/services/STACK/SERVICE
//   POST   /v1/services/STACK/SERVICE/scale | update | rollback
//   GET    /v1/services/STACK/SERVICE/logs[?follow=1][&tail=N][&timestamps=1]   (text stream)
//   GET    /v1/events[?since=SEQ][&follow=1]                                    (JSON lines)
//   POST   /v1/images/missing            POST /v1/images/load[?hosts=h1,h2]     (tar body)
//   GET    /metrics                                                             (Prometheus text)
//
// On the plain-HTTP listener (--metrics-listen) only /metrics is served.
//
// Thread-safety: handle() is called from many connection threads at once.
#pragma once

#include <string>

#include "cluster/controller.h"
#include "daemon/data_dir.h"
#include "daemon/http_server.h"

namespace berth::daemon {

struct ApiInfo {
  std::string version{};
  std::string store{};
  std::string startedAt{};
};

class Api {
 public:
  Api(cluster::Controller& controller, const DataDir& dataDir, ApiInfo info)
      : controller_(controller), dataDir_(dataDir), info_(std::move(info)) {}

  void handle(const Request& request, RequestBody& body, Responder& responder);

 private:
  cluster::Controller& controller_;
  const DataDir& dataDir_;
  ApiInfo info_;
};

// The Prometheus text exposition of the controller's state and counters.
std::string metricsText(const cluster::Controller& controller);

}  // namespace berth::daemon
