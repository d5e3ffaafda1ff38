// Store: where berthd keeps desired state (cluster/model.h). Narrow on purpose — load everything at
// start, then commit changes as transactions — so that a key-value store with transactions (etcd,
// for several controllers) can stand in for the embedded SQLite database without touching the
// scheduler or the reconciler.
//
// Every change of desired state is one Change, committed atomically: all of it or none of it is
// there after a crash. berthd commits a decision before it acts on it (creating a task's container,
// removing one), so that what it finds on the hosts after a restart is explained by the store.
//
// Thread-safety: a Store is used by the controller's owner thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cluster/model.h"

namespace berth::cluster {

struct Change {
  std::vector<Host> putHosts{};
  std::vector<std::string> deleteHosts{};
  std::vector<Stack> putStacks{};
  std::vector<std::string> deleteStacks{};
  std::vector<StackVersion> putVersions{};
  std::vector<std::pair<std::string, std::int64_t>> deleteVersions{};
  std::vector<ServiceRecord> putServices{};
  std::vector<std::pair<std::string, std::string>> deleteServices{};
  std::vector<Task> putTasks{};
  std::vector<std::string> deleteTasks{};
  std::optional<int> nextHostIndex{};

  bool empty() const;
  // Appends `other` (later puts of the same key win when applied).
  void merge(Change other);
};

// Applies a change to the in-memory state the way the store applies it to its tables.
void applyChange(ClusterState& state, const Change& change);

class Store {
 public:
  virtual ~Store() = default;
  // Everything stored. Errors: the store's (Internal for damaged data, naming the record).
  virtual Result<ClusterState> load() = 0;
  // One transaction. On error nothing of `change` is stored.
  virtual Status commit(const Change& change) = 0;
  // "sqlite /var/lib/berthd/state.db", for logs and errors.
  virtual std::string describe() const = 0;
};

}  // namespace berth::cluster
