#include "gateway/free_memory.hpp"

#include <malloc.h>

namespace fieldbridge::gateway {

bool release_free_memory() { return malloc_trim(0) != 0; }

}  // namespace fieldbridge::gateway
