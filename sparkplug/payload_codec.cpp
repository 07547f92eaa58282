#include "sparkplug/payload_codec.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "common/utf8.hpp"
#include "sparkplug/sparkplug_b.pb-c.h"

namespace fieldbridge::sparkplug {
namespace {

using pb_payload = Fieldbridge__Sparkplug__Pb__Payload;
using pb_metric = Fieldbridge__Sparkplug__Pb__Payload__Metric;
using pb_property_set = Fieldbridge__Sparkplug__Pb__Payload__PropertySet;
using pb_property_value = Fieldbridge__Sparkplug__Pb__Payload__PropertyValue;

// UTF-8 without NUL: what does not decode becomes U+FFFD, NULs go.
std::string clean_text(std::string_view text) {
    if (!find_utf8_problem(text)) return std::string(text);
    std::string out;
    out.reserve(text.size() + 8);
    while (!text.empty()) {
        const auto problem = find_utf8_problem(text);
        if (!problem) {
            out += text;
            break;
        }
        out += text.substr(0, problem.offset);
        if (problem.problem == utf8_problem::invalid_sequence) out += "\xEF\xBF\xBD";
        text.remove_prefix(problem.offset + 1);
    }
    return out;
}

// Owns every C string and sub-message of one payload being packed: the
// generated structs only point.
class packer {
public:
    char* text(std::string_view s) {
        strings_.push_back(std::make_unique<std::string>(clean_text(s)));
        return strings_.back()->data();
    }

    pb_property_set* properties(const std::vector<property>& props) {
        auto& set = sets_.emplace_back(std::make_unique<pb_property_set>());
        *set = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_SET__INIT;
        auto& keys = key_lists_.emplace_back(props.size());
        auto& values = value_lists_.emplace_back(props.size());
        auto& value_ptrs = value_ptr_lists_.emplace_back(props.size());
        for (std::size_t k = 0; k < props.size(); ++k) {
            keys[k] = text(props[k].key);
            values[k] = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__INIT;
            values[k].has_type = 1;
            values[k].type = static_cast<std::uint32_t>(props[k].type);
            set_property_value(values[k], props[k].value);
            value_ptrs[k] = &values[k];
        }
        set->n_keys = props.size();
        set->keys = keys.data();
        set->n_values = props.size();
        set->values = value_ptrs.data();
        return set.get();
    }

    void set_value(pb_metric& m, const wire_value& v) {
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, null_value>) {
                    m.has_is_null = 1;
                    m.is_null = 1;
                } else if constexpr (std::is_same_v<T, std::uint32_t>) {
                    m.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_INT_VALUE;
                    m.int_value = x;
                } else if constexpr (std::is_same_v<T, std::uint64_t>) {
                    m.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_LONG_VALUE;
                    m.long_value = x;
                } else if constexpr (std::is_same_v<T, float>) {
                    m.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_FLOAT_VALUE;
                    m.float_value = x;
                } else if constexpr (std::is_same_v<T, double>) {
                    m.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE;
                    m.double_value = x;
                } else if constexpr (std::is_same_v<T, bool>) {
                    m.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
                    m.boolean_value = x ? 1 : 0;
                } else {
                    m.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_STRING_VALUE;
                    m.string_value = text(x);
                }
            },
            v);
    }

private:
    void set_property_value(pb_property_value& p, const wire_value& v) {
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, null_value>) {
                    p.has_is_null = 1;
                    p.is_null = 1;
                } else if constexpr (std::is_same_v<T, std::uint32_t>) {
                    p.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_INT_VALUE;
                    p.int_value = x;
                } else if constexpr (std::is_same_v<T, std::uint64_t>) {
                    p.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_LONG_VALUE;
                    p.long_value = x;
                } else if constexpr (std::is_same_v<T, float>) {
                    p.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_FLOAT_VALUE;
                    p.float_value = x;
                } else if constexpr (std::is_same_v<T, double>) {
                    p.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_DOUBLE_VALUE;
                    p.double_value = x;
                } else if constexpr (std::is_same_v<T, bool>) {
                    p.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_BOOLEAN_VALUE;
                    p.boolean_value = x ? 1 : 0;
                } else {
                    p.value_case = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_STRING_VALUE;
                    p.string_value = text(x);
                }
            },
            v);
    }

    std::vector<std::unique_ptr<std::string>> strings_;
    std::vector<std::unique_ptr<pb_property_set>> sets_;
    std::vector<std::vector<char*>> key_lists_;
    std::vector<std::vector<pb_property_value>> value_lists_;
    std::vector<std::vector<pb_property_value*>> value_ptr_lists_;
};

wire_value metric_value(const pb_metric& m, std::string& why) {
    if (m.has_is_null && m.is_null) return null_value{};
    switch (m.value_case) {
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_INT_VALUE:
            return m.int_value;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_LONG_VALUE:
            return m.long_value;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_FLOAT_VALUE:
            return m.float_value;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE:
            return m.double_value;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE:
            return m.boolean_value != 0;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_STRING_VALUE:
            return clean_text(m.string_value != nullptr ? m.string_value : "");
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__VALUE_BYTES_VALUE:
            why = "a bytes value, which no point of fieldbridge takes";
            return null_value{};
        default:
            return null_value{};  // a value this payload definition leaves out (DataSet, Template, ...), or none
    }
}

wire_value property_value(const pb_property_value& p) {
    if (p.has_is_null && p.is_null) return null_value{};
    switch (p.value_case) {
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_INT_VALUE:
            return p.int_value;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_LONG_VALUE:
            return p.long_value;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_FLOAT_VALUE:
            return p.float_value;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_DOUBLE_VALUE:
            return p.double_value;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_BOOLEAN_VALUE:
            return p.boolean_value != 0;
        case FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__PROPERTY_VALUE__VALUE_STRING_VALUE:
            return clean_text(p.string_value != nullptr ? p.string_value : "");
        default:
            return null_value{};
    }
}

// The metrics (field 2) at the top level of bytes, counted without
// parsing them, so that a payload of millions of empty metrics is refused
// before anything is allocated for it; nullopt when the bytes are not a
// sequence of well-formed fields.
std::optional<std::size_t> count_metrics(std::string_view bytes) {
    std::size_t at = 0;
    const auto varint = [&]() -> std::optional<std::uint64_t> {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (at >= bytes.size()) return std::nullopt;
            const auto b = static_cast<std::uint8_t>(bytes[at++]);
            v |= static_cast<std::uint64_t>(b & 0x7Fu) << shift;
            if ((b & 0x80u) == 0) return v;
        }
        return std::nullopt;
    };
    std::size_t metrics = 0;
    while (at < bytes.size()) {
        const auto tag = varint();
        if (!tag) return std::nullopt;
        switch (*tag & 7u) {
            case 0:
                if (!varint()) return std::nullopt;
                break;
            case 1:
                at += 8;
                break;
            case 5:
                at += 4;
                break;
            case 2: {
                const auto length = varint();
                if (!length || *length > bytes.size() - std::min(at, bytes.size())) return std::nullopt;
                at += static_cast<std::size_t>(*length);
                if ((*tag >> 3) == 2) ++metrics;
                break;
            }
            default:
                return std::nullopt;
        }
        if (at > bytes.size()) return std::nullopt;
    }
    return metrics;
}

struct unpacked_deleter {
    void operator()(pb_payload* p) const { fieldbridge__sparkplug__pb__payload__free_unpacked(p, nullptr); }
};

}  // namespace

std::string encode(const payload& p) {
    packer keep;
    pb_payload out = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__INIT;
    if (p.timestamp) {
        out.has_timestamp = 1;
        out.timestamp = *p.timestamp;
    }
    if (p.seq) {
        out.has_seq = 1;
        out.seq = *p.seq;
    }
    if (p.uuid) out.uuid = keep.text(*p.uuid);
    if (p.body) {
        out.has_body = 1;
        out.body.data = reinterpret_cast<std::uint8_t*>(const_cast<char*>(p.body->data()));
        out.body.len = p.body->size();
    }
    std::vector<pb_metric> metrics(p.metrics.size());
    std::vector<pb_metric*> metric_ptrs(p.metrics.size());
    for (std::size_t k = 0; k < p.metrics.size(); ++k) {
        const auto& from = p.metrics[k];
        auto& m = metrics[k];
        m = FIELDBRIDGE__SPARKPLUG__PB__PAYLOAD__METRIC__INIT;
        if (from.name) m.name = keep.text(*from.name);
        if (from.alias) {
            m.has_alias = 1;
            m.alias = *from.alias;
        }
        if (from.timestamp) {
            m.has_timestamp = 1;
            m.timestamp = *from.timestamp;
        }
        if (from.datatype) {
            m.has_datatype = 1;
            m.datatype = static_cast<std::uint32_t>(*from.datatype);
        }
        if (from.is_historical) {
            m.has_is_historical = 1;
            m.is_historical = 1;
        }
        if (from.is_transient) {
            m.has_is_transient = 1;
            m.is_transient = 1;
        }
        if (!from.properties.empty()) m.properties = keep.properties(from.properties);
        keep.set_value(m, from.value);
        metric_ptrs[k] = &m;
    }
    out.n_metrics = metric_ptrs.size();
    out.metrics = metric_ptrs.data();
    std::string bytes(fieldbridge__sparkplug__pb__payload__get_packed_size(&out), '\0');
    fieldbridge__sparkplug__pb__payload__pack(&out, reinterpret_cast<std::uint8_t*>(bytes.data()));
    return bytes;
}

std::variant<payload, decode_error> decode(std::string_view bytes, std::size_t most_metrics) {
    if (bytes.size() > max_payload_bytes) {
        return decode_error{std::to_string(bytes.size()) + " bytes; at most " + std::to_string(max_payload_bytes) +
                            " are taken"};
    }
    const auto metrics = count_metrics(bytes);
    if (!metrics) return decode_error{"not a Sparkplug B payload (the protobuf does not decode)"};
    if (*metrics > std::min(most_metrics, max_metrics)) {
        return decode_error{std::to_string(*metrics) + " metrics; at most " +
                            std::to_string(std::min(most_metrics, max_metrics)) + " are taken"};
    }
    std::unique_ptr<pb_payload, unpacked_deleter> in(fieldbridge__sparkplug__pb__payload__unpack(
        nullptr, bytes.size(), reinterpret_cast<const std::uint8_t*>(bytes.data())));
    if (!in) return decode_error{"not a Sparkplug B payload (the protobuf does not decode)"};
    payload p;
    if (in->has_timestamp) p.timestamp = in->timestamp;
    if (in->has_seq) p.seq = in->seq;
    if (in->uuid != nullptr) p.uuid = clean_text(in->uuid);
    if (in->has_body) p.body = std::string(reinterpret_cast<const char*>(in->body.data), in->body.len);
    p.metrics.reserve(in->n_metrics);
    for (std::size_t k = 0; k < in->n_metrics; ++k) {
        const auto& m = *in->metrics[k];
        metric out;
        if (m.name != nullptr) out.name = clean_text(m.name);
        if (m.has_alias) out.alias = m.alias;
        if (m.has_timestamp) out.timestamp = m.timestamp;
        if (m.has_datatype) out.datatype = static_cast<data_type>(m.datatype);
        out.is_historical = m.has_is_historical && m.is_historical;
        out.is_transient = m.has_is_transient && m.is_transient;
        std::string why;
        out.value = metric_value(m, why);
        if (!why.empty()) {
            return decode_error{"metric " + std::to_string(k) + (out.name ? " (" + *out.name + ")" : std::string()) +
                                ": " + why};
        }
        if (m.properties != nullptr) {
            const auto& set = *m.properties;
            if (set.n_keys != set.n_values) {
                return decode_error{"metric " + std::to_string(k) + ": " + std::to_string(set.n_keys) +
                                    " property keys for " + std::to_string(set.n_values) + " values"};
            }
            for (std::size_t j = 0; j < set.n_keys; ++j) {
                property prop;
                prop.key = clean_text(set.keys[j] != nullptr ? set.keys[j] : "");
                prop.type = set.values[j]->has_type ? static_cast<data_type>(set.values[j]->type) : data_type::unknown;
                prop.value = property_value(*set.values[j]);
                out.properties.push_back(std::move(prop));
            }
        }
        p.metrics.push_back(std::move(out));
    }
    return p;
}

}  // namespace fieldbridge::sparkplug
