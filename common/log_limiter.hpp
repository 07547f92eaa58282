// Rate limit for log lines that repeat: a device that times out every
// second, a broker that refuses every connect, a client that floods bad
// commands. The first line of a kind is logged; repeats within the window
// are counted, not logged; the first one after the window is logged again
// with the count of what was held back. Pure; not thread-safe (one per
// thread that logs).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace fieldbridge {

class log_limiter {
public:
    using clock = std::chrono::steady_clock;

    // A key longer than this is kept as its head and a hash of the whole:
    // with max_keys, what the limiter holds stays under ~300 KB whatever
    // the keys are made of.
    static constexpr std::size_t max_key_bytes = 160;

    explicit log_limiter(std::chrono::milliseconds window = std::chrono::seconds(60), std::size_t max_keys = 1024)
        : window_(window), max_keys_(max_keys) {}

    // nullopt: hold this one back. Otherwise log it, with the number of lines
    // of the same key held back since the last one logged (0 for the first).
    std::optional<std::uint64_t> admit(const std::string& full_key, clock::time_point now) {
        const std::string key = bounded(full_key);
        auto it = keys_.find(key);
        if (it == keys_.end()) {
            // Bounded: keys made of untrusted text (a topic) cannot grow it without end.
            if (keys_.size() >= max_keys_) forget_older_than(now - window_);
            if (keys_.size() >= max_keys_) keys_.clear();
            keys_.emplace(key, entry{now, 0});
            return 0;
        }
        auto& e = it->second;
        if (now - e.logged < window_) {
            ++e.held_back;
            return std::nullopt;
        }
        const auto held = e.held_back;
        e = entry{now, 0};
        return held;
    }

    // " (N similar message(s) suppressed)" or "": for appending.
    static std::string suffix(std::uint64_t held_back) {
        if (held_back == 0) return {};
        return " (" + std::to_string(held_back) + " similar message(s) suppressed)";
    }

    // Bytes of the keys held (for tests of the bound).
    std::size_t key_bytes() const {
        std::size_t n = 0;
        for (const auto& [key, e] : keys_) n += key.size();
        return n;
    }

private:
    static std::string bounded(const std::string& key) {
        if (key.size() <= max_key_bytes) return key;
        char hash[24];
        std::snprintf(hash, sizeof hash, "#%016zx", std::hash<std::string>{}(key));
        return key.substr(0, max_key_bytes - 17) + hash;
    }

    struct entry {
        clock::time_point logged;
        std::uint64_t held_back = 0;
    };
    void forget_older_than(clock::time_point t) {
        for (auto it = keys_.begin(); it != keys_.end();) {
            it = it->second.logged < t ? keys_.erase(it) : std::next(it);
        }
    }

    std::chrono::milliseconds window_;
    std::size_t max_keys_;
    std::map<std::string, entry> keys_;
};

}  // namespace fieldbridge
