// fuzz_input: takes typed values off a fuzz target's input bytes, front to
// back; past the end every value is 0 (or empty), so a target never reads
// beyond its input. Header-only, for fuzz targets.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

namespace fieldbridge::fuzzing {

// Stops the run with the property's name when it does not hold.
inline void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "property broken: %s\n", what);
    std::abort();
}

class fuzz_input {
public:
    fuzz_input(const std::uint8_t* data, std::size_t size) : bytes_(data, size) {}

    bool empty() const { return at_ >= bytes_.size(); }
    std::size_t remaining() const { return bytes_.size() - at_; }

    std::uint8_t byte() { return empty() ? 0 : bytes_[at_++]; }
    std::uint16_t u16() {
        const auto high = byte();  // first: the order the operands of | are evaluated in is unspecified
        return static_cast<std::uint16_t>((high << 8) | byte());
    }
    bool flag() { return (byte() & 1u) != 0; }
    // A value in 0..n-1 (n > 0), from one byte.
    std::size_t pick(std::size_t n) { return byte() % n; }
    // Up to `max` bytes as a string (the length comes first).
    std::string text(std::size_t max) {
        const std::size_t n = std::min<std::size_t>(byte(), std::min(max, remaining()));
        std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), n);
        at_ += n;
        return s;
    }
    // Everything left.
    std::span<const std::uint8_t> rest() {
        const auto r = bytes_.subspan(at_);
        at_ = bytes_.size();
        return r;
    }

private:
    std::span<const std::uint8_t> bytes_;
    std::size_t at_ = 0;
};

}  // namespace fieldbridge::fuzzing
