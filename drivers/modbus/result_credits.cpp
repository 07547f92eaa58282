#include "drivers/modbus/result_credits.hpp"

#include <utility>

namespace fieldbridge::modbus {

std::shared_ptr<result_credits> result_credits::make(std::size_t limit) {
    return std::shared_ptr<result_credits>(new result_credits(limit));
}

std::shared_ptr<const void> result_credits::try_take(std::function<void()> returned) {
    {
        std::lock_guard lock(mutex_);
        if (interrupted_) return nullptr;
        if (out_ >= limit_) {
            ++waits_;
            returned_ = std::move(returned);
            return nullptr;
        }
        ++out_;
    }
    // The receipt keeps the credits alive: a result may outlive its worker.
    auto self = shared_from_this();
    return std::shared_ptr<const void>(self.get(), [self](const void*) { self->give_back(); });
}

void result_credits::give_back() {
    std::function<void()> tell;
    {
        std::lock_guard lock(mutex_);
        --out_;
        tell = std::exchange(returned_, nullptr);
    }
    if (tell) tell();
}

void result_credits::interrupt() {
    std::function<void()> tell;
    {
        std::lock_guard lock(mutex_);
        interrupted_ = true;
        tell = std::exchange(returned_, nullptr);
    }
    if (tell) tell();
}

void result_credits::resume() {
    std::lock_guard lock(mutex_);
    interrupted_ = false;
}

std::uint64_t result_credits::waits() const {
    std::lock_guard lock(mutex_);
    return waits_;
}

}  // namespace fieldbridge::modbus
