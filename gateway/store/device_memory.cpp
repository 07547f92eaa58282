#include "gateway/store/device_memory.hpp"

namespace fieldbridge::store {

result<std::vector<refused_read>> device_memory::refused_reads() {
    auto s = db_.once("SELECT device, function, start, count FROM refused_reads ORDER BY device, function, start, count");
    return collect(s, [](statement& r) {
        return refused_read{r.text(0), static_cast<int>(r.integer(1)), static_cast<std::uint16_t>(r.integer(2)),
                            static_cast<std::uint16_t>(r.integer(3))};
    });
}

result<void> device_memory::add(const refused_read& r) {
    return db_.in_transaction(true, [&]() -> result<void> {
        auto insert =
            db_.prepared("INSERT OR IGNORE INTO refused_reads(device, function, start, count) VALUES(?, ?, ?, ?)");
        insert->bind(1, r.device).bind(2, r.function).bind(3, r.start).bind(4, r.count);
        return insert->run();
    });
}

result<void> device_memory::forget(const std::string& device) {
    return db_.in_transaction(true, [&]() -> result<void> {
        auto remove = db_.prepared("DELETE FROM refused_reads WHERE device = ?");
        remove->bind(1, device);
        return remove->run();
    });
}

}  // namespace fieldbridge::store
