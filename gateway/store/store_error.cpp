#include "gateway/store/store_error.hpp"

#include <string>

namespace fieldbridge::store {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "store"; }
    std::string message(int c) const override {
        switch (static_cast<store_errc>(c)) {
            case store_errc::open_failed:
                return "the queue database cannot be opened";
            case store_errc::newer_schema:
                return "the queue database was written by a newer fieldbridge";
            case store_errc::corrupt:
                return "the queue database is corrupt";
            case store_errc::disk_full:
                return "the disk holding the queue is full";
            case store_errc::io_error:
                return "queue database error";
            case store_errc::queue_full:
                return "the queue is full and its policy refuses new messages";
            case store_errc::not_a_queue:
                return "the file is a database of something else, not a fieldbridge queue";
            case store_errc::in_use:
                return "the queue database is in use by another fieldbridge process (it holds the file's lock)";
            case store_errc::locked:
                return "the queue database is locked by another program (it holds SQLite's write lock)";
        }
        return "unknown store error";
    }
};

}  // namespace

const std::error_category& store_category() noexcept {
    static const category c;
    return c;
}

}  // namespace fieldbridge::store
