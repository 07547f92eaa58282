// register_words against std::vector as its reference model: random
// sequences of constructions, copies, moves and assignments across the
// in-place bound (0..4 words kept in place, more on the heap), checked after
// every step; the failing seed is printed.
#include "drivers/modbus/register_words.hpp"

#include <random>
#include <sstream>

#include <gtest/gtest.h>

namespace fieldbridge::modbus {
namespace {

std::vector<std::uint16_t> random_words(std::mt19937& rng) {
    std::vector<std::uint16_t> w(rng() % 10);  // across the in-place bound of 4
    for (auto& x : w)
        x = static_cast<std::uint16_t>(rng());
    return w;
}

TEST(register_words, behaves_as_a_vector_of_its_words_over_random_operation_sequences) {
    for (unsigned seed = 1; seed <= 2000; ++seed) {
        std::mt19937 rng(seed);
        std::vector<register_words> slots(4);
        std::vector<std::vector<std::uint16_t>> model(4);
        for (int step = 0; step < 40; ++step) {
            const auto i = rng() % slots.size();
            const auto j = rng() % slots.size();
            switch (rng() % 6) {
                case 0: {  // from a vector
                    const auto w = random_words(rng);
                    slots[i] = register_words(w);
                    model[i] = w;
                    break;
                }
                case 1:  // copy-assign
                    slots[i] = slots[j];
                    model[i] = model[j];
                    break;
                case 2:  // move-assign: the source is left empty
                    if (i == j)
                        break;
                    slots[i] = std::move(slots[j]);
                    model[i] = std::move(model[j]);
                    model[j].clear();
                    break;
                case 3: {  // move-construct, then move into slot i
                    register_words moved(std::move(slots[j]));
                    auto v = model[j];
                    model[j].clear();
                    slots[i] = std::move(moved);
                    model[i] = v;
                    break;
                }
                case 4: {  // assign from a span
                    const auto w = random_words(rng);
                    slots[i].assign(w.data(), w.size());
                    model[i] = w;
                    break;
                }
                default: {  // copy-construct
                    const register_words copy(slots[j]);
                    ASSERT_EQ(copy, model[j]) << "seed " << seed << " step " << step;
                    break;
                }
            }
            for (std::size_t k = 0; k < slots.size(); ++k) {
                ASSERT_EQ(slots[k].size(), model[k].size())
                    << "seed " << seed << " step " << step << " slot " << k;
                ASSERT_EQ(slots[k], model[k]) << "seed " << seed << " step " << step << " slot " << k;
                ASSERT_EQ(slots[k].to_vector(), model[k]) << "seed " << seed;
                const std::span<const std::uint16_t> view = slots[k];
                ASSERT_TRUE(std::equal(view.begin(), view.end(), model[k].begin(), model[k].end()))
                    << "seed " << seed;
            }
        }
    }
}

TEST(register_words, prints_its_words_and_compares_by_value) {
    const register_words a{1, 2, 3, 4, 5};
    std::ostringstream out;
    out << a;
    EXPECT_EQ(out.str(), "{1, 2, 3, 4, 5}");
    EXPECT_EQ(a, (register_words{1, 2, 3, 4, 5}));
    EXPECT_FALSE(a == (register_words{1, 2, 3, 4}));
    EXPECT_TRUE(register_words{}.empty());
}

}  // namespace
}  // namespace fieldbridge::modbus
