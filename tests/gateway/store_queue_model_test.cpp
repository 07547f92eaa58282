// Model-based test of the message queue: random sequences of appends (each
// committed, or left for a later commit), acknowledgements and other flow
// changes, expiry (the wall clock set back now and then), protected
// messages, restarts (with other limits and drop policy now and then) and
// failed commits, run against the store on a real
// SQLite file and against a small reference model of what it must hold and
// count. After every step the store must agree with the model: its rows and
// flow states, what a second connection sees committed, depth, oldest, the
// highest id and every counter.
//
// FIELDBRIDGE_STORE_MODEL_SEEDS=N runs N seeds (default below) from
// FIELDBRIDGE_STORE_MODEL_FIRST_SEED (default 1);
// FIELDBRIDGE_STORE_MODEL_SEED=S runs seed S alone, as a failure message says.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <gtest/gtest.h>

#include "tests/support/model_seeds.hpp"
#include "gateway/store/message_store.hpp"

namespace fieldbridge::store {
namespace {

using testing::env_number;
using testing::scratch_dir;

namespace fs = std::filesystem;
using clock = std::chrono::system_clock;

std::int64_t to_ms(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// What the store must hold and count, by the rules its header states.
class reference {
public:
    struct tables {
        std::map<std::int64_t, stored_message> rows;
        std::int64_t seq = 0;  // AUTOINCREMENT: the highest id ever given
        std::vector<std::uint16_t> incoming;
    };

    reference(limits l, drop_policy p, const std::set<std::int64_t>& kept) : limits_(l), policy_(p), kept_(kept) {}

    std::vector<result<std::int64_t>> append(const std::vector<mqtt::message>& batch, clock::time_point now,
                                             bool commit) {
        std::vector<result<std::int64_t>> out;
        if (batch.empty()) return out;
        begin();
        const auto before = counters_;
        std::uint64_t appended = 0;
        for (const auto& m : batch) {
            const auto size = m.topic.size() + m.payload.size();
            if (size > limits_.max_bytes || !make_room(size)) {
                out.emplace_back(fail(store_errc::queue_full));
                ++counters_.refused;
                continue;
            }
            const auto id = ++current_.seq;
            current_.rows[id] = stored_message{id, m, flow_state::queued, 0, false,
                                               clock::time_point(std::chrono::milliseconds(to_ms(now)))};
            out.emplace_back(id);
            ++appended;
        }
        if (commit && !this->commit()) {
            counters_.refused = before.refused + batch.size();
            out.assign(batch.size(), fail(store_errc::io_error));
            return out;
        }
        if (!commit) uncommitted_ += appended;
        counters_.appended += appended;
        return out;
    }

    bool apply(const std::vector<change>& changes) {
        if (changes.empty()) return commit();
        begin();
        std::uint64_t removed = 0;
        for (const auto& c : changes) {
            const auto it = current_.rows.find(c.id);
            if (it == current_.rows.end()) continue;
            auto& m = it->second;
            switch (c.what) {
                case change::kind::sent:
                    m.state = flow_state::sent;
                    m.packet_id = c.packet_id;
                    m.dup = c.dup;
                    break;
                case change::kind::pubrec:
                    m.state = flow_state::pubrec;
                    break;
                case change::kind::requeue:
                    m.state = flow_state::queued;
                    m.packet_id = 0;
                    m.dup = false;
                    break;
                case change::kind::done:
                    current_.rows.erase(it);
                    ++removed;
                    break;
            }
        }
        if (!commit()) return false;
        counters_.completed += removed;
        return true;
    }

    std::uint64_t expire(clock::time_point now) {
        if (limits_.max_age.count() <= 0) return 0;
        const auto cutoff = to_ms(now - limits_.max_age);
        std::uint64_t n = 0;
        for (auto it = current_.rows.begin(); it != current_.rows.end();) {
            if (it->second.state == flow_state::queued && to_ms(it->second.created) < cutoff &&
                kept_.count(it->first) == 0) {
                it = current_.rows.erase(it);
                ++n;
            } else {
                ++it;
            }
        }
        counters_.dropped_by_age += n;
        if (!open_) durable_ = current_;  // outside a transaction the DELETE commits alone
        return n;
    }

    bool set_incoming(std::vector<std::uint16_t> ids) {
        begin();
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        current_.incoming = std::move(ids);
        return commit();
    }

    // False when the commit failed and everything open was rolled back.
    bool commit() {
        if (!open_) return true;
        open_ = false;
        if (std::exchange(fail_next_, false)) {
            counters_.dropped_by_rows = at_begin_.dropped_by_rows;
            counters_.dropped_by_bytes = at_begin_.dropped_by_bytes;
            counters_.dropped_by_age = at_begin_.dropped_by_age;
            counters_.lost_uncommitted += uncommitted_;
            uncommitted_ = 0;
            current_ = durable_;
            return false;
        }
        durable_ = current_;
        ++counters_.commits;
        uncommitted_ = 0;
        return true;
    }

    // The store closed (committing what is open) and opened again.
    void restart(limits l, drop_policy p) {
        commit();
        counters_ = {};
        at_begin_ = {};
        limits_ = l;
        policy_ = p;
    }

    void fail_next_commit() { fail_next_ = true; }

    const tables& current() const { return current_; }
    const tables& durable() const { return durable_; }
    const store::counters& counters() const { return counters_; }
    bool open() const { return open_; }
    std::uint64_t bytes() const {
        std::uint64_t n = 0;
        for (const auto& [id, m] : current_.rows) n += m.message.topic.size() + m.message.payload.size();
        return n;
    }

private:
    void begin() {
        if (open_) return;
        open_ = true;
        at_begin_ = counters_;
    }

    // Evicts queued, unprotected messages (QoS 0 first when the policy says
    // so), oldest first, until one more of `size` bytes fits; evicts nothing
    // when evicting every one of them would not make it fit.
    bool make_room(std::uint64_t size) {
        const auto over = [&](std::size_t rows, std::uint64_t have_bytes) {
            return rows + 1 > limits_.max_rows || have_bytes + size > limits_.max_bytes;
        };
        if (!over(current_.rows.size(), bytes())) return true;
        if (policy_ == drop_policy::refuse_new) return false;
        std::vector<std::int64_t> order;  // in the order they go
        const auto candidates = [&](bool qos0_only, bool skip_qos0) {
            for (const auto& [id, m] : current_.rows) {
                if (m.state != flow_state::queued || kept_.count(id) > 0) continue;
                const bool qos0 = m.message.qos == mqtt::qos::at_most_once;
                if ((qos0_only && !qos0) || (skip_qos0 && qos0)) continue;
                order.push_back(id);
            }
        };
        const bool qos0_first = policy_ == drop_policy::drop_qos0_first;
        if (qos0_first) candidates(true, false);
        candidates(false, qos0_first);
        std::size_t rows = current_.rows.size();
        std::uint64_t have = bytes();
        std::size_t needed = 0;
        while (needed < order.size() && over(rows, have)) {
            --rows;
            have -= current_.rows.at(order[needed]).message.topic.size() +
                    current_.rows.at(order[needed]).message.payload.size();
            ++needed;
        }
        if (over(rows, have)) return false;
        for (std::size_t k = 0; k < needed; ++k) {
            const bool by_rows = current_.rows.size() + 1 > limits_.max_rows;
            current_.rows.erase(order[k]);
            ++(by_rows ? counters_.dropped_by_rows : counters_.dropped_by_bytes);
        }
        return true;
    }

    limits limits_;
    drop_policy policy_;
    const std::set<std::int64_t>& kept_;
    tables durable_;
    tables current_;
    bool open_ = false;
    bool fail_next_ = false;
    store::counters counters_;
    store::counters at_begin_;
    std::uint64_t uncommitted_ = 0;
};

std::string describe(const stored_message& m) {
    std::ostringstream o;
    o << "{" << m.id << " " << m.message.topic << " " << m.message.payload.size() << "B q"
      << static_cast<int>(m.message.qos) << " s" << static_cast<int>(m.state) << " p" << m.packet_id << " d" << m.dup
      << " t" << to_ms(m.created) << "}";
    return o.str();
}

std::string describe(const std::vector<stored_message>& rows) {
    std::string s;
    for (const auto& m : rows) s += describe(m);
    return s.empty() ? "(none)" : s;
}

std::string describe(const counters& c) {
    std::ostringstream o;
    o << "appended " << c.appended << " completed " << c.completed << " by_rows " << c.dropped_by_rows
      << " by_bytes " << c.dropped_by_bytes << " by_age " << c.dropped_by_age << " refused " << c.refused
      << " disk_full " << c.disk_full << " commits " << c.commits << " lost " << c.lost_uncommitted;
    return o.str();
}

const char* name(drop_policy p) {
    switch (p) {
        case drop_policy::drop_oldest:
            return "drop_oldest";
        case drop_policy::drop_qos0_first:
            return "drop_qos0_first";
        case drop_policy::refuse_new:
            return "refuse_new";
    }
    return "?";
}

// One seed: the store and the model side by side.
class queue_run {
public:
    queue_run(std::uint64_t seed, const fs::path& dir)
        : seed_(seed), random_(seed), model_(limits_, policy_, kept_) {
        opts_.path = dir / ("queue-" + std::to_string(seed) + ".db");
        opts_.durability = durability::normal;
        opts_.limits = limits_;
        opts_.policy = policy_;
        opts_.fail_commit = [this] { return std::exchange(store_fail_next_, false); };
        trace("open: " + describe_options());
        reopen();
    }
    ~queue_run() {
        store_.reset();
        sqlite3_close(reader_);
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(opts_.path.string() + suffix);
    }
    queue_run(const queue_run&) = delete;
    queue_run& operator=(const queue_run&) = delete;

    // One random step, then the comparison; false on the first disagreement.
    bool step() {
        if (uniform(0, 39) == 0) {
            // The wall clock set back (the gateway does not own it): rows
            // appended after this are older than rows appended before.
            now_ -= std::chrono::milliseconds(uniform(1, 200'000));
            trace("clock set back to " + std::to_string(to_ms(now_)));
        } else {
            now_ += std::chrono::milliseconds(uniform(0, 20'000));
        }
        const auto op = uniform(0, 99);
        if (op < 25) {
            append(true);
        } else if (op < 45) {
            append(false);
        } else if (op < 52) {
            trace("flush");
            const bool expected = model_.commit();
            const bool got = store_->flush().has_value();
            if (got != expected) return fail_with("flush: store " + ok(got) + ", model " + ok(expected));
        } else if (op < 70) {
            acknowledge();
        } else if (op < 77) {
            trace("expire at " + std::to_string(to_ms(now_)));
            const auto expected = model_.expire(now_);
            const auto got = store_->expire(now_);
            if (!got) return fail_with("expire failed: " + got.error().message());
            if (*got != expected) {
                return fail_with("expire: store dropped " + std::to_string(*got) + ", model " +
                                 std::to_string(expected));
            }
        } else if (op < 82) {
            protect();
        } else if (op < 85) {
            std::vector<std::uint16_t> ids(static_cast<std::size_t>(uniform(0, 3)));
            for (auto& id : ids) id = static_cast<std::uint16_t>(uniform(1, 65535));
            trace("set_incoming_qos2 x" + std::to_string(ids.size()));
            const bool expected = model_.set_incoming(ids);
            const bool got = store_->set_incoming_qos2(ids).has_value();
            if (got != expected) return fail_with("set_incoming_qos2: store " + ok(got) + ", model " + ok(expected));
        } else if (op < 91) {
            restart();
        } else {
            trace("the next commit fails");
            model_.fail_next_commit();
            store_fail_next_ = true;
        }
        return failure_.empty() && check();
    }

    const std::string& failure() const { return failure_; }

private:
    static std::string ok(bool b) { return b ? "ok" : "failed"; }

    std::int64_t uniform(std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(random_);
    }

    limits pick_limits() {
        limits_.max_rows = static_cast<std::uint64_t>(uniform(1, 12));
        limits_.max_bytes = static_cast<std::uint64_t>(uniform(8, 240));
        limits_.max_age = std::chrono::seconds(uniform(0, 2) == 0 ? 0 : uniform(20, 120));
        return limits_;
    }

    drop_policy pick_policy() {
        policy_ = static_cast<drop_policy>(uniform(0, 2));
        return policy_;
    }

    bool pick_options() {
        pick_limits();
        pick_policy();
        return true;
    }

    std::string describe_options() const {
        return "max_rows " + std::to_string(limits_.max_rows) + ", max_bytes " + std::to_string(limits_.max_bytes) +
               ", max_age " + std::to_string(limits_.max_age.count()) + " s, " + name(policy_);
    }

    void reopen() {
        auto s = message_store::open(opts_);
        if (!s) {
            fail_with("open failed: " + s.error().message());
            return;
        }
        store_ = std::move(*s);
        store_->protect([this](std::int64_t id) { return kept_.count(id) > 0; });
        if (!reader_ && sqlite3_open_v2(opts_.path.c_str(), &reader_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
            fail_with("cannot open a second connection");
        }
    }

    mqtt::message random_message() {
        mqtt::message m;
        m.topic = "t/" + std::string(static_cast<std::size_t>(uniform(1, 6)), static_cast<char>('a' + uniform(0, 5)));
        m.payload.resize(static_cast<std::size_t>(uniform(0, 30)));
        for (auto& c : m.payload) c = static_cast<char>(uniform(0, 255));
        m.qos = static_cast<mqtt::qos>(uniform(0, 2));
        return m;
    }

    void append(bool commit) {
        std::vector<mqtt::message> batch(static_cast<std::size_t>(uniform(0, 4)));
        for (auto& m : batch) m = random_message();
        trace(std::string(commit ? "append" : "append_uncommitted") + " x" + std::to_string(batch.size()));
        const auto expected = model_.append(batch, now_, commit);
        const auto got = commit ? store_->append(batch, now_) : store_->append_uncommitted(batch, now_);
        if (got.size() != expected.size()) {
            fail_with("append gave " + std::to_string(got.size()) + " results, model " +
                      std::to_string(expected.size()));
            return;
        }
        for (std::size_t i = 0; i < got.size(); ++i) {
            const bool same = got[i].has_value() == expected[i].has_value() &&
                              (got[i] ? *got[i] == *expected[i] : got[i].error() == expected[i].error());
            if (!same) {
                fail_with("append result " + std::to_string(i) + ": store " +
                          (got[i] ? "id " + std::to_string(*got[i]) : got[i].error().message()) + ", model " +
                          (expected[i] ? "id " + std::to_string(*expected[i]) : expected[i].error().message()));
                return;
            }
        }
    }

    void acknowledge() {
        const auto& rows = model_.current().rows;
        std::vector<change> changes;
        const auto n = uniform(0, 4);
        for (std::int64_t i = 0; i < n; ++i) {
            change c;
            // Mostly rows that exist; now and then an id that is gone.
            if (!rows.empty() && uniform(0, 5) > 0) {
                auto it = rows.begin();
                std::advance(it, uniform(0, static_cast<std::int64_t>(rows.size()) - 1));
                c.id = it->first;
            } else {
                c.id = uniform(1, model_.current().seq + 2);
            }
            c.what = static_cast<change::kind>(uniform(0, 3));
            c.packet_id = static_cast<std::uint16_t>(uniform(1, 65535));
            c.dup = uniform(0, 1) == 1;
            changes.push_back(c);
        }
        std::string what = "apply";
        for (const auto& c : changes) {
            const char* kinds[] = {"sent", "pubrec", "done", "requeue"};
            what += std::string(" ") + kinds[static_cast<int>(c.what)] + ":" + std::to_string(c.id);
        }
        trace(what);
        const bool expected = model_.apply(changes);
        const bool got = store_->apply(changes).has_value();
        if (got != expected) fail_with("apply: store " + ok(got) + ", model " + ok(expected));
    }

    void protect() {
        kept_.clear();
        std::string what = "protect";
        if (uniform(0, 3) > 0) {
            for (const auto& [id, m] : model_.current().rows) {
                if (uniform(0, 2) == 0) {
                    kept_.insert(id);
                    what += " " + std::to_string(id);
                }
            }
        }
        trace(what);
    }

    void restart() {
        if (uniform(0, 2) == 0) {
            pick_options();
            opts_.limits = limits_;
            opts_.policy = policy_;
        }
        trace("restart: " + describe_options());
        model_.restart(limits_, policy_);
        store_.reset();
        reopen();
    }

    // The ids, states and packet ids a second connection sees committed.
    std::vector<std::string> committed() {
        std::vector<std::string> out;
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(reader_, "SELECT id, state, packet_id FROM messages ORDER BY id", -1, &s, nullptr) !=
            SQLITE_OK) {
            out.emplace_back(std::string("error: ") + sqlite3_errmsg(reader_));
            return out;
        }
        while (sqlite3_step(s) == SQLITE_ROW) {
            out.push_back(std::to_string(sqlite3_column_int64(s, 0)) + "/" + std::to_string(sqlite3_column_int(s, 1)) +
                          "/" + std::to_string(sqlite3_column_int(s, 2)));
        }
        sqlite3_finalize(s);
        return out;
    }

    bool check() {
        std::vector<stored_message> expected;
        for (const auto& [id, m] : model_.current().rows) expected.push_back(m);
        auto rows = store_->load(0, 1'000'000);
        if (!rows) return fail_with("load failed: " + rows.error().message());
        if (*rows != expected) return fail_with("rows: store " + describe(*rows) + "\n  model " + describe(expected));

        std::vector<stored_message> in_flight;
        for (const auto& m : expected) {
            if (m.state != flow_state::queued) in_flight.push_back(m);
        }
        auto flights = store_->load_in_flight();
        if (!flights || *flights != in_flight) return fail_with("load_in_flight differs from the model");

        std::vector<std::string> durable;
        for (const auto& [id, m] : model_.durable().rows) {
            durable.push_back(std::to_string(id) + "/" + std::to_string(static_cast<int>(m.state)) + "/" +
                              std::to_string(m.packet_id));
        }
        if (const auto seen = committed(); seen != durable) {
            std::string a;
            std::string b;
            for (const auto& x : seen) a += x + " ";
            for (const auto& x : durable) b += x + " ";
            return fail_with("committed rows (id/state/packet id): store " + a + "\n  model " + b);
        }

        const auto stats = store_->stats();
        if (stats.rows != expected.size() || stats.bytes != model_.bytes()) {
            return fail_with("depth: store " + std::to_string(stats.rows) + " rows " + std::to_string(stats.bytes) +
                             " bytes, model " + std::to_string(expected.size()) + " rows " +
                             std::to_string(model_.bytes()) + " bytes");
        }
        const auto oldest = expected.empty() ? std::nullopt : std::optional(expected.front().created);
        if (stats.oldest != oldest) return fail_with("oldest differs from the model");
        if (store_->counters() != model_.counters()) {
            return fail_with("counters: store " + describe(store_->counters()) + "\n  model " +
                             describe(model_.counters()));
        }
        if (store_->uncommitted() != model_.open()) return fail_with("uncommitted() differs from the model");
        auto last = store_->last_id();
        if (!last || *last != model_.current().seq) {
            return fail_with("last_id: store " + (last ? std::to_string(*last) : last.error().message()) +
                             ", model " + std::to_string(model_.current().seq));
        }
        auto incoming = store_->incoming_qos2();
        if (!incoming || *incoming != model_.current().incoming) return fail_with("incoming_qos2 differs");
        return true;
    }

    void trace(std::string what) {
        history_.push_back(std::to_string(history_.size()) + ": " + std::move(what));
        if (std::getenv("FIELDBRIDGE_STORE_MODEL_TRACE")) std::printf("%s\n", history_.back().c_str());
    }

    bool fail_with(const std::string& why) {
        if (!failure_.empty()) return false;
        std::ostringstream o;
        o << "seed " << seed_ << ", step " << history_.size() - 1 << ": " << why << "\nlast steps:\n";
        const auto from = history_.size() > 12 ? history_.size() - 12 : 0;
        for (auto i = from; i < history_.size(); ++i) o << "  " << history_[i] << "\n";
        o << "reproduce: FIELDBRIDGE_STORE_MODEL_SEED=" << seed_ << " (FIELDBRIDGE_STORE_MODEL_TRACE=1 prints every step)";
        failure_ = o.str();
        return false;
    }

    std::uint64_t seed_;
    std::mt19937_64 random_;
    limits limits_;
    drop_policy policy_ = drop_policy::drop_oldest;
    bool picked_ = pick_options();  // limits_ and policy_, before the model takes them
    std::set<std::int64_t> kept_;
    reference model_;
    options opts_;
    bool store_fail_next_ = false;
    std::unique_ptr<message_store> store_;
    sqlite3* reader_ = nullptr;
    clock::time_point now_ = clock::time_point(std::chrono::milliseconds(1'700'000'000'000));
    std::vector<std::string> history_;
    std::string failure_;
};

constexpr int steps_per_seed = 60;

std::string run_seed(std::uint64_t seed, const fs::path& dir) {
    queue_run run(seed, dir);
    if (!run.failure().empty()) return run.failure();
    for (int n = 0; n < steps_per_seed; ++n) {
        if (!run.step()) return run.failure();
    }
    return {};
}

TEST(store_queue_model, the_queue_agrees_with_the_model_over_random_sequences) {
    const auto dir = scratch_dir("fieldbridge-store-model");
    if (const auto one = env_number("FIELDBRIDGE_STORE_MODEL_SEED", 0); one != 0) {
        const auto failure = run_seed(one, dir);
        EXPECT_TRUE(failure.empty()) << failure;
    } else {
        const auto seeds = env_number("FIELDBRIDGE_STORE_MODEL_SEEDS", 2000);
        const auto first = env_number("FIELDBRIDGE_STORE_MODEL_FIRST_SEED", 1);
        std::uint64_t passed = 0;
        for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
            const auto failure = run_seed(seed, dir);
            if (!failure.empty()) {
                ADD_FAILURE() << failure;
                break;
            }
            ++passed;
        }
        std::printf("store queue model: %llu of %llu seeds agreed\n", static_cast<unsigned long long>(passed),
                    static_cast<unsigned long long>(seeds));
    }
    fs::remove_all(dir);
}

}  // namespace
}  // namespace fieldbridge::store
