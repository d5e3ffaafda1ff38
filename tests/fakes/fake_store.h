// FakeStore: an in-memory Store for tests of the reconciler and the daemon. It keeps a ClusterState
// and applies each committed Change with applyChange (the function the real stores are tested
// against), records every commit, and injects faults:
//
//   FakeStore store(initialState);
//   store.failNextCommit(Error(ErrorCode::Unavailable, "disk full"));
//   ... the reconciler tries to commit a decision: it must not act on it ...
//   EXPECT_EQ(store.commitCalls(), 1);
//   EXPECT_EQ(store.commits(), 0);          // nothing applied
//   EXPECT_TRUE(store.state().tasks.empty());
//
// A failed commit applies nothing, as the Store contract promises. failNextCommit and
// failNextLoad queue: each call makes one more call fail, in order.
//
// Header-only so that berth_fakes need not link berth_cluster (the cluster tests link it).
//
// Thread-safety: every method may be called from several threads at once (one mutex), so a test
// can look at the state while the controller's thread commits; accessors return copies.
#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cluster/model.h"
#include "cluster/store.h"

namespace berth::fakes {

class FakeStore final : public cluster::Store {
 public:
  FakeStore() = default;
  explicit FakeStore(cluster::ClusterState initial) : state_(std::move(initial)) {}

  // --- Setting up
  // The next call of commit() fails with `error` and applies nothing.
  void failNextCommit(Error error) {
    std::lock_guard lock(mu_);
    commitFaults_.push_back(std::move(error));
  }
  // The next call of load() fails with `error`.
  void failNextLoad(Error error) {
    std::lock_guard lock(mu_);
    loadFaults_.push_back(std::move(error));
  }
  // Replaces the stored state (as if another controller had written it), without logging a commit.
  void setState(cluster::ClusterState state) {
    std::lock_guard lock(mu_);
    state_ = std::move(state);
  }

  // --- Looking
  cluster::ClusterState state() const {
    std::lock_guard lock(mu_);
    return state_;
  }
  // Calls of commit(), the failed ones included.
  int commitCalls() const {
    std::lock_guard lock(mu_);
    return commitCalls_;
  }
  // Commits that were applied.
  int commits() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(committed_.size());
  }
  // The applied changes, in order.
  std::vector<cluster::Change> committed() const {
    std::lock_guard lock(mu_);
    return committed_;
  }
  // The last change passed to commit(), whether or not it was applied; nullopt before the first.
  std::optional<cluster::Change> lastChange() const {
    std::lock_guard lock(mu_);
    return lastChange_;
  }
  int loads() const {
    std::lock_guard lock(mu_);
    return loads_;
  }
  void clearCalls() {
    std::lock_guard lock(mu_);
    commitCalls_ = 0;
    loads_ = 0;
    committed_.clear();
    lastChange_.reset();
  }

  // --- Store
  Result<cluster::ClusterState> load() override {
    std::lock_guard lock(mu_);
    ++loads_;
    if (!loadFaults_.empty()) {
      Error error = std::move(loadFaults_.front());
      loadFaults_.pop_front();
      return fail(std::move(error));
    }
    return state_;
  }

  Status commit(const cluster::Change& change) override {
    std::lock_guard lock(mu_);
    ++commitCalls_;
    lastChange_ = change;
    if (!commitFaults_.empty()) {
      Error error = std::move(commitFaults_.front());
      commitFaults_.pop_front();
      return fail(std::move(error));
    }
    cluster::applyChange(state_, change);
    committed_.push_back(change);
    return ok();
  }

  std::string describe() const override { return "fake store"; }

 private:
  mutable std::mutex mu_;
  cluster::ClusterState state_;
  std::deque<Error> commitFaults_;
  std::deque<Error> loadFaults_;
  int commitCalls_ = 0;
  int loads_ = 0;
  std::vector<cluster::Change> committed_;
  std::optional<cluster::Change> lastChange_;
};

}  // namespace berth::fakes
