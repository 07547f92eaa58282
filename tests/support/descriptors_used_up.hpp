// While it lives, this process can open no new file descriptor (EMFILE):
// the soft RLIMIT_NOFILE is lowered to the lowest free descriptor. Not for
// AddressSanitizer builds: its runtime needs descriptors of its own.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

namespace fieldbridge::testing {

class descriptors_used_up {
public:
    descriptors_used_up() {
        ::getrlimit(RLIMIT_NOFILE, &saved_);
        const int lowest_free = ::dup(0);
        ::close(lowest_free);
        rlimit low = saved_;
        low.rlim_cur = static_cast<rlim_t>(lowest_free);
        ok_ = ::setrlimit(RLIMIT_NOFILE, &low) == 0;
    }
    ~descriptors_used_up() { restore(); }
    descriptors_used_up(const descriptors_used_up&) = delete;
    descriptors_used_up& operator=(const descriptors_used_up&) = delete;
    bool ok() const { return ok_; }
    void restore() {
        if (ok_) ::setrlimit(RLIMIT_NOFILE, &saved_);
        ok_ = false;
    }

private:
    rlimit saved_{};
    bool ok_ = false;
};

}  // namespace fieldbridge::testing
