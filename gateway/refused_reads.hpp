// Reads a device refused with exception 2, as the store keeps them across
// restarts (by device name and Modbus function code) and as a bus worker
// takes them (by register kind, per device).
#pragma once

#include <string>
#include <vector>

#include "drivers/modbus/read_plan.hpp"
#include "gateway/store/message_store.hpp"

namespace fieldbridge::gateway {

// The row the store keeps for a read that `device` refused.
store::refused_read stored_refused_read(const std::string& device, const modbus::refused_read& r);

// Keeps the reads `device` refused in the store, so that the next start
// reads them in parts from the first poll. A failure is logged: losing one
// costs one refused request.
void remember_refused_reads(store::message_store& store, const std::string& device,
                            const std::vector<modbus::refused_read>& reads);

// What the store remembers of earlier runs' refused reads, for one device;
// rows of a function that is no read are skipped.
std::vector<modbus::refused_read> refused_for(const std::vector<store::refused_read>& stored,
                                              const std::string& device);

// The refused reads the store remembers, after forgetting those of devices
// cfg no longer has. A store that cannot be read gives none (logged): the
// devices are asked again, which costs one refused request each.
std::vector<store::refused_read> load_refused_reads(store::message_store& store, const config::gateway& cfg);

}  // namespace fieldbridge::gateway
