// Commands from MQTT, from the message to the reply: which point a message
// names, whether its value may be written (commands.hpp decides), holding
// it while its device is offline (held_commands), the write through the
// device's bus, and the answer on the reply topic or the MQTT 5 Response
// Topic with its Correlation Data. Every bound a message could push against
// (commands.hpp) is kept here and what goes past one is counted.
//
// It does no I/O of its own: the buses, the MQTT client, the device health
// and the clock are reached through command_ports, so that it runs in a test
// without a socket or a thread. Core thread only; the handlers it passes to
// command_ports::write and ::publish must be called on that thread too.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/log_limiter.hpp"
#include "config/model.hpp"
#include "drivers/modbus/poll_result.hpp"
#include "drivers/modbus/value_codec.hpp"
#include "gateway/commands.hpp"
#include "gateway/held_commands.hpp"
#include "mqtt/message.hpp"

namespace fieldbridge::gateway {

struct command_ports {
    using time_point = std::chrono::steady_clock::time_point;
    using point_handler = std::function<void(modbus::point_result)>;

    // Whether a bus worker polls configured device `device` (an index into
    // the configuration's devices); a command to one that is not is refused.
    std::function<bool(std::size_t device)> polled;
    // Queues a write of v to the point on the device's bus; done gets its
    // outcome on the core thread (an error saying why when the bus was
    // restarted by a reload or the gateway stopped before it was sent).
    std::function<void(std::size_t device, std::size_t point, modbus::value v, point_handler done)> write;
    // Whether the named device is offline now (device_health).
    std::function<bool(const std::string& device)> offline;
    // Hands a reply to the MQTT client; done once the client completed it,
    // whatever the outcome (it may run after the dispatcher is gone).
    std::function<void(mqtt::message reply, std::function<void()> done)> publish;
    // A write succeeded and read the point back: its new state goes out.
    std::function<void(const std::string& device, const config::point& point,
                       const std::vector<std::uint16_t>& words)>
        written;
    // Subscribes to a command filter; its messages go to on_command().
    std::function<void(const std::string& filter)> subscribe;
    // Ends a command filter's subscription (a reload took its topics away).
    std::function<void(const std::string& filter)> unsubscribe;
    // Asks for expire(now) to be called at t (the earliest held deadline).
    std::function<void(time_point t)> wake_at;
    std::function<time_point()> now;
};

class command_dispatcher {
public:
    using time_point = command_ports::time_point;

    // cfg must outlive the dispatcher, or be replaced through reconfigure().
    // topics: cfg's points' topics, shared with the mapper (expanded here
    // when not given).
    command_dispatcher(const config::gateway& cfg, command_ports ports,
                       std::shared_ptr<const point_topics> topics = nullptr);
    ~command_dispatcher() { pending_replies_->then = nullptr; }
    command_dispatcher(const command_dispatcher&) = delete;
    command_dispatcher& operator=(const command_dispatcher&) = delete;

    // After the owner replaced the configuration: the command topics of cfg.
    // Held commands are given up before (give_up_all), under the old one.
    void reconfigure(const config::gateway& cfg, std::shared_ptr<const point_topics> topics = nullptr);

    // Subscribes every filter of the command topics not subscribed before
    // (after a reload, those it added), and unsubscribes those subscribed
    // before that the command topics no longer have. A filter MQTT cannot
    // carry is logged and skipped: its commands get no answer.
    void subscribe();

    // A message on a command topic: answered on its reply address in every
    // case, except a retained one (ignored unless commands.accept_retained)
    // and one on a topic longer than any command topic (dropped: it names no
    // point, and its reply topic would be as long).
    void on_command(const mqtt::message& m);

    // A point write asked for by a Sparkplug DCMD (on `topic`), its value as
    // a command's JSON value: checked, held while the device is offline and
    // written as a command is. Sparkplug has no reply message: a refusal or
    // a failed write is logged and counted, a write the device took goes out
    // as the point's read-back (command_ports::written).
    void write_point(const std::string& topic, std::size_t device, std::size_t point, const nlohmann::json& value);
    // A command refused before it named a point (a DCMD that cannot be
    // decoded, names no metric of its device, or one not writable): logged
    // and counted as a refusal.
    void refused(const std::string& topic, const std::string& why);
    // A Sparkplug NCMD or DCMD: false when it must be ignored as a JSON
    // command would be (retained while commands.accept_retained is off:
    // counted and logged). Every message checked here is counted received.
    bool admit(const mqtt::message& m);

    // The device answered a poll and is not offline: its held commands are
    // written now, except those whose max_age is up (answered as expire() does).
    void device_back(const std::string& device);
    // Answers held commands whose time is up; asks for the next wake-up.
    void expire(time_point now);
    // Answers every held command with why it was not written.
    void give_up_all(const std::string& why);
    // The gateway is stopping: held commands are given up with why, and
    // every command from now on that would be written is refused with it
    // (checked and answered as before otherwise, never dropped unanswered).
    void close(const std::string& why);
    // Runs done once every write handed to a bus has been answered and every
    // reply handed to the client is out (its publish completed; at once when
    // none is out): the gateway's stop lets the replies of writes still at a
    // device go out ahead of its DISCONNECT. One waiter; a later call
    // replaces it.
    void when_writes_answered(std::function<void()> done);

    const command_counters& counters() const { return counters_; }
    std::size_t held() const { return held_.size(); }
    std::size_t pending_replies() const { return pending_replies_->pending; }

private:
    // Where the answer to one command goes, and the caller's id in it.
    struct reply_to {
        std::string command_topic;
        mqtt::message address;  // topic and correlation data; payload filled in per answer
        std::optional<std::string> id;
    };
    void on_device_command(const mqtt::message& m, const command_target& target, const reply_to& to);
    void refuse(const reply_to& to, const std::string& why);
    // Why a held command whose max_age is up was not written.
    std::string expired_reason(const std::string& device) const;
    // Why no reply may go to this MQTT 5 Response Topic (not UTF-8, a
    // wildcard, one of the command topics: a reply there would come back as
    // a command and be written; one the gateway publishes its own messages
    // on); empty when it is usable.
    std::string unusable_response_topic(const std::string& topic) const;
    void answer(const reply_to& to, std::string payload);
    void send_reply(mqtt::message answer);
    // Runs go now, unless the device is offline: then go waits for it up to
    // commands.max_age (0: refused at once), within held_commands' bounds.
    void when_online(const std::string& device, std::function<void()> go, const reply_to& to);
    // Why nothing can be written to configured device `device` now (the
    // dispatcher closed, its bus not polled); nullopt when it can.
    std::optional<std::string> not_writable_now(std::size_t device) const;
    void point_done(const reply_to& to, const std::string& device, const config::point& point,
                    const modbus::point_result& r);
    // One journal line a minute per point whose writes fail.
    void log_failed_write(const std::string& device, const config::point& point, const modbus::point_result& r);
    // Counts n writes about to be queued on `bus`; false (and the command
    // refused) when that would pass max_queued_writes_per_bus.
    bool room_on_bus(const std::string& bus, std::size_t n, const reply_to& to);
    // Hands a write counted by room_on_bus to the bus; its answer goes to
    // `then`, between the bus's count going down and settled().
    void write_on_bus(std::size_t device, std::size_t point, const modbus::value& v, const std::string& bus,
                      command_ports::point_handler then);
    // One write queued on `bus` was answered.
    void left_bus(const std::string& bus);
    bool writes_out() const;
    void settled();

    const config::gateway* cfg_;
    command_ports ports_;
    command_table table_;
    held_commands held_{max_held_per_device, max_held_commands};
    command_counters counters_;
    // Replies handed to the client and not yet completed (max_pending_replies),
    // and what waits for them (when_writes_answered(), once the writes are
    // answered); shared with their completion handlers, which may run after
    // this is gone (the destructor drops the waiter).
    struct replies_out {
        std::size_t pending = 0;
        std::function<void()> then;
    };
    std::shared_ptr<replies_out> pending_replies_ = std::make_shared<replies_out>();
    std::map<std::string, std::size_t> queued_writes_;  // per bus: queued through ports_.write, not yet answered
    log_limiter log_limit_;             // repeating refusals, dropped topics and replies
    std::set<std::string> subscribed_;  // command filters subscribed so far
    std::optional<std::string> closed_;  // why nothing more is written (close())
    std::function<void()> writes_answered_;  // when_writes_answered()
};

// Where the answer to command m goes: its MQTT 5 Response Topic, with its
// Correlation Data, when that is a topic name; else `configured` (with the
// Correlation Data still). The payload is left empty.
mqtt::message reply_address(const mqtt::message& m, const std::string& configured);

}  // namespace fieldbridge::gateway
