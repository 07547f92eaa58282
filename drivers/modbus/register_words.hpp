// register_words: the registers of one point as read (or one 0/1 word for a
// bit), kept in place when there are at most `in_place` of them, as for
// every numeric type (1 to 4 registers), and on the heap only beyond (a
// string). A poll result holds one per point, so a poll of 100 numeric
// points costs no heap block per point. Value type with the parts of
// std::vector's interface the gateway uses; not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <span>
#include <vector>

namespace fieldbridge::modbus {

class register_words {
public:
    static constexpr std::size_t in_place = 4;

    register_words() = default;
    register_words(std::initializer_list<std::uint16_t> words) { assign(words.begin(), words.size()); }
    register_words(std::span<const std::uint16_t> words) {
        assign(words.data(), words.size());
    }  // NOLINT(google-explicit-constructor)
    register_words(const std::vector<std::uint16_t>& words) {
        assign(words.data(), words.size());
    }  // NOLINT(google-explicit-constructor)
    register_words(const register_words& other) { assign(other.data(), other.size_); }
    register_words(register_words&& other) noexcept { take(other); }
    register_words& operator=(const register_words& other) {
        if (this != &other)
            assign(other.data(), other.size_);
        return *this;
    }
    register_words& operator=(register_words&& other) noexcept {
        if (this != &other) {
            heap_.reset();
            take(other);
        }
        return *this;
    }
    ~register_words() = default;

    void assign(const std::uint16_t* words, std::size_t n) {
        if (n > in_place) {
            auto heap = std::make_unique<std::uint16_t[]>(n);
            std::copy_n(words, n, heap.get());
            heap_ = std::move(heap);
        } else {
            heap_.reset();
            std::copy_n(words, n, local_);
        }
        size_ = n;
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const std::uint16_t* data() const noexcept { return heap_ ? heap_.get() : local_; }
    const std::uint16_t* begin() const noexcept { return data(); }
    const std::uint16_t* end() const noexcept { return data() + size_; }
    std::uint16_t operator[](std::size_t i) const noexcept { return data()[i]; }
    std::vector<std::uint16_t> to_vector() const { return {begin(), end()}; }

    friend bool operator==(const register_words& a, const register_words& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end());
    }
    friend bool operator==(const register_words& a, const std::vector<std::uint16_t>& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end());
    }
    friend std::ostream& operator<<(std::ostream& out, const register_words& w) {
        out << '{';
        for (std::size_t i = 0; i < w.size_; ++i)
            out << (i ? ", " : "") << w[i];
        return out << '}';
    }

private:
    void take(register_words& other) noexcept {
        size_ = other.size_;
        heap_ = std::move(other.heap_);
        std::copy_n(other.local_, in_place, local_);
        other.size_ = 0;
    }

    std::unique_ptr<std::uint16_t[]> heap_;  // beyond in_place words
    std::uint16_t local_[in_place] = {};
    std::size_t size_ = 0;
};

}  // namespace fieldbridge::modbus
