#include "cluster/store.h"

#include <iterator>

namespace berth::cluster {
namespace {

template <class T>
void append(std::vector<T>& to, std::vector<T>&& from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

bool Change::empty() const {
  return putHosts.empty() && deleteHosts.empty() && putStacks.empty() && deleteStacks.empty() &&
         putVersions.empty() && deleteVersions.empty() && putServices.empty() && deleteServices.empty() &&
         putTasks.empty() && deleteTasks.empty() && !nextHostIndex;
}

void Change::merge(Change other) {
  append(putHosts, std::move(other.putHosts));
  append(deleteHosts, std::move(other.deleteHosts));
  append(putStacks, std::move(other.putStacks));
  append(deleteStacks, std::move(other.deleteStacks));
  append(putVersions, std::move(other.putVersions));
  append(deleteVersions, std::move(other.deleteVersions));
  append(putServices, std::move(other.putServices));
  append(deleteServices, std::move(other.deleteServices));
  append(putTasks, std::move(other.putTasks));
  append(deleteTasks, std::move(other.deleteTasks));
  if (other.nextHostIndex) nextHostIndex = other.nextHostIndex;
}

void applyChange(ClusterState& state, const Change& change) {
  // Deletions first, then puts: a change that deletes and re-creates a key leaves it present.
  for (const auto& name : change.deleteHosts) state.hosts.erase(name);
  for (const auto& name : change.deleteStacks) state.stacks.erase(name);
  for (const auto& key : change.deleteVersions) state.versions.erase(key);
  for (const auto& key : change.deleteServices) state.services.erase(key);
  for (const auto& id : change.deleteTasks) state.tasks.erase(id);
  for (const Host& h : change.putHosts) state.hosts[h.name] = h;
  for (const Stack& s : change.putStacks) state.stacks[s.name] = s;
  for (const StackVersion& v : change.putVersions) state.versions[{v.stack, v.generation}] = v;
  for (const ServiceRecord& s : change.putServices) state.services[{s.stack, s.name}] = s;
  for (const Task& t : change.putTasks) state.tasks[t.id] = t;
  if (change.nextHostIndex) state.nextHostIndex = *change.nextHostIndex;
}

}  // namespace berth::cluster
