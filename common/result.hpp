// result<T>: a value or a std::error_code, the std::expected shape on a
// C++20 compiler. Value type, no thread-safety concerns of its own.
#pragma once

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace fieldbridge {

// Wraps an error so that result<T> construction from an error is explicit.
struct failure {
    std::error_code code;
};

inline failure fail(std::error_code code) { return failure{code}; }

template <class E>
    requires std::is_error_code_enum_v<E>
failure fail(E e) {
    return failure{make_error_code(e)};
}

template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;

    result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
    result(failure f) : state_(std::in_place_index<1>, f.code) {}          // NOLINT(google-explicit-constructor)

    bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & {
        assert(has_value());
        return std::get<0>(state_);
    }
    const T& value() const& {
        assert(has_value());
        return std::get<0>(state_);
    }
    T&& value() && {
        assert(has_value());
        return std::get<0>(std::move(state_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    std::error_code error() const noexcept {
        return has_value() ? std::error_code{} : std::get<1>(state_);
    }

private:
    std::variant<T, std::error_code> state_;
};

template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(failure f) : code_(f.code) {}  // NOLINT(google-explicit-constructor)

    bool has_value() const noexcept { return !code_; }
    explicit operator bool() const noexcept { return has_value(); }
    std::error_code error() const noexcept { return code_; }

private:
    std::error_code code_;
};

}  // namespace fieldbridge
