// Storage lifetime: memory comes from and returns to the device's allocator.
#include "trainrt/storage.h"

#include "trainrt/capture.h"
#include "trainrt/stream.h"

namespace trainrt {

Storage::Storage(size_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), allocator_(&allocator_for(device.type)) {
  data_ = allocator_->allocate(device, nbytes);
  capture::on_storage_created(this);
}

void Storage::note_use(Device queue, uint64_t position) {
  std::lock_guard lock(uses_mutex_);
  for (auto& [device, latest] : uses_)
    if (device == queue) {
      latest = std::max(latest, position);
      return;
    }
  uses_.emplace_back(queue, position);
}

uint64_t Storage::last_use(Device queue) {
  std::lock_guard lock(uses_mutex_);
  for (const auto& [device, latest] : uses_)
    if (device == queue) return latest;
  return 0;
}

void Storage::wait_ready() {
  std::vector<std::pair<Device, uint64_t>> uses;
  {
    std::lock_guard lock(uses_mutex_);
    if (uses_.empty()) return;
    uses.swap(uses_);
  }
  for (const auto& [device, position] : uses) wait_position(device, position);
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(device_, data_, nbytes_);
}

}  // namespace trainrt
