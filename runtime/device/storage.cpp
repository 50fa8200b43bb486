// Storage lifetime: memory comes from and returns to the device's allocator.
#include "trainrt/storage.h"

namespace trainrt {

Storage::Storage(size_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), allocator_(&allocator_for(device.type)) {
  data_ = allocator_->allocate(nbytes);
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(data_, nbytes_);
}

}  // namespace trainrt
