// Picking the actions of one kind out of what a session returned, for the
// session tests of both protocol versions.
#pragma once

#include <algorithm>
#include <vector>

#include "mqtt/session.hpp"

namespace fieldbridge::mqtt {

template <class T>
std::vector<T> sent(const actions& a) {
    std::vector<T> out;
    for (const auto& x : a) {
        if (const auto* s = std::get_if<action::send>(&x)) {
            if (const auto* p = std::get_if<T>(&s->packet)) out.push_back(*p);
        }
    }
    return out;
}

template <class T>
std::vector<T> of(const actions& a) {
    std::vector<T> out;
    for (const auto& x : a) {
        if (const auto* p = std::get_if<T>(&x)) out.push_back(*p);
    }
    return out;
}

inline std::size_t sends(const actions& a) {
    return static_cast<std::size_t>(
        std::count_if(a.begin(), a.end(), [](const session_action& x) { return std::holds_alternative<action::send>(x); }));
}

}  // namespace fieldbridge::mqtt
