// What a log line becomes in the journal: its fields from the priority, the
// message and the logging thread's log_context.
#include "gateway/journal_fields.hpp"

#include <gtest/gtest.h>

namespace fieldbridge::gateway {
namespace {

using fields = std::vector<std::string>;

TEST(journal_fields, carry_the_message_priority_identifier_and_the_context_fields_that_are_set) {
    log_context context;
    EXPECT_EQ(journal_fields(log_priority::info, "started", context),
              (fields{"MESSAGE=started", "PRIORITY=6", "SYSLOG_IDENTIFIER=fieldbridge"}));
    context[static_cast<std::size_t>(log_field::bus)] = "line2";
    context[static_cast<std::size_t>(log_field::device)] = "meter07";
    EXPECT_EQ(journal_fields(log_priority::warning, "two\nlines", context),
              (fields{"MESSAGE=two\nlines", "PRIORITY=4", "SYSLOG_IDENTIFIER=fieldbridge", "BUS=line2",
                      "DEVICE=meter07"}));
    context[static_cast<std::size_t>(log_field::point)] = "setpoint";
    EXPECT_EQ(journal_fields(log_priority::error, "", context, "fb").back(), "POINT=setpoint");
    EXPECT_EQ(journal_fields(log_priority::critical, "", context)[1], "PRIORITY=2");
    EXPECT_EQ(journal_fields(log_priority::debug, "", context)[1], "PRIORITY=7");
}

}  // namespace
}  // namespace fieldbridge::gateway
