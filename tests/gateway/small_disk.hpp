// A real disk that fills up, for the store's tests of a full disk.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace fieldbridge::testing {

// A real disk that fills up: a 1 MiB tmpfs, filled by another file. Needs
// the privilege to mount (root, as in CI); a test skips with why() otherwise.
class small_disk {
public:
    explicit small_disk(std::filesystem::path at) : at_(std::move(at)) {
        std::filesystem::create_directory(at_);
        mounted_ = mount("tmpfs", at_.c_str(), "tmpfs", 0, "size=1m") == 0;
        if (!mounted_)
            why_ = std::string("cannot mount a tmpfs here (not root?): ") + std::strerror(errno);
    }
    ~small_disk() {
        if (mounted_)
            umount2(at_.c_str(), MNT_DETACH);
    }
    small_disk(const small_disk&) = delete;
    small_disk& operator=(const small_disk&) = delete;
    bool mounted() const { return mounted_; }
    const std::string& why() const { return why_; }
    const std::filesystem::path& path() const { return at_; }
    void fill() const {
        std::ofstream filler(at_ / "filler", std::ios::binary);
        const std::string block(4096, 'f');
        while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
        }
    }
    void free_space() const { std::filesystem::remove(at_ / "filler"); }

private:
    std::filesystem::path at_;
    bool mounted_ = false;
    std::string why_;
};

}  // namespace fieldbridge::testing
