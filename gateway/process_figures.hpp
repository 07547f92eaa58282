// What the kernel says about this process (/proc/self): resident memory,
// open file descriptors, CPU time. For the status snapshot's process part.
#pragma once

#include "gateway/status_report.hpp"

namespace fieldbridge::gateway {

// Zero for what cannot be read.
status_snapshot::process_part read_process_figures();

}  // namespace fieldbridge::gateway
